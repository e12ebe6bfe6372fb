package plan

import (
	"fmt"

	canary "github.com/canary-dev/canary"
)

// istio checks traffic.istio.
func (v *validator) istio(t *canary.IstioTraffic, path string) {
	if t == nil {
		return
	}
	v.required(path+".virtualService", t.VirtualService, "name the VirtualService whose route weights split the traffic")
	v.required(path+".stable.host", t.Stable.Host, "write the stable destination's host as the VirtualService names it, e.g. recoveryos")
	host := t.Canary.Host
	if host == "" {
		host = t.Stable.Host
	}
	switch {
	case t.Canary.Host == "" && t.Canary.Subset == "":
		v.add(path+".canary", "required: write the canary destination's host (e.g. recoveryos-canary) or a subset of the stable's host (e.g. subset: canary)")
	case t.Stable.Host != "" && host == t.Stable.Host && t.Canary.Subset == t.Stable.Subset:
		v.add(path+".canary", "the canary destination is the stable one (host %s, subset %q): give the canary another host or subset", host, t.Stable.Subset)
	}
	seen := map[string]bool{}
	for i, r := range t.Routes {
		rpath := fmt.Sprintf("%s.routes[%d]", path, i)
		switch {
		case r == "":
			v.add(rpath, "empty route name: write an http[].name of the VirtualService")
		case seen[r]:
			v.add(rpath, "%q is listed twice: remove one", r)
		}
		seen[r] = true
	}
}

// nginxIngress checks traffic.nginxIngress.
func (v *validator) nginxIngress(t *canary.NGINXIngressTraffic, path string) {
	if t == nil {
		return
	}
	v.required(path+".ingress", t.Ingress, "name the stable Ingress, e.g. recoveryos")
	v.required(path+".stableService", t.StableService, "name the stable version's Service as the Ingress's backends name it")
	v.required(path+".canaryService", t.CanaryService, "name the canary version's Service")
	if t.StableService != "" && t.StableService == t.CanaryService {
		v.add(path+".canaryService", "%q is also the stable Service: the canary needs a Service of its own", t.CanaryService)
	}
	if t.Ingress != "" && t.CanaryIngress == t.Ingress {
		v.add(path+".canaryIngress", "%q is the stable Ingress: the canary Ingress needs a name of its own (or omit it for %s-canary)", t.Ingress, t.Ingress)
	}
	if t.Port < 0 || t.Port > 65535 {
		v.add(path+".port", "%d is not a port: write 1 to 65535 (or omit it for the stable backend's port)", t.Port)
	}
}
