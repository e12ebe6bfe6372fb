package providers

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/gatewayapi"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/istio"
	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/nginxingress"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kube is how a host reaches a cluster for traffic.helm, traffic.gatewayAPI,
// traffic.replicas, traffic.istio and traffic.nginxIngress, and what it
// adds around the routers.
type Kube struct {
	// Config is the cluster's REST configuration: the Helm SDK builds its
	// own clients from it, and Client is built from it when nil. Its
	// error keeps its code (default: unavailable), prefixed with the
	// provider.
	Config func() (*rest.Config, error)
	// Client reads and writes HTTPRoutes, VirtualServices, Ingresses and
	// Deployments (kube.Scheme).
	// Default: built from Config.
	Client client.Client
	// Chart resolves traffic.helm.chart (the operator confines it to its
	// chart directory). Default: the path as written.
	Chart func(path string) (string, error)
	// Authorize, when set, is asked before a router is built, with the
	// plan's provider ("helm", "gatewayAPI", "replicas", "istio",
	// "nginxIngress") and namespace:
	// the operator's access reviews.
	Authorize func(ctx context.Context, provider, namespace string) error
	// Helm builds a Helm router from its configuration (the operator
	// keeps one per rollout). Default: helm.New.
	Helm func(cfg helm.Config) (canary.TrafficRouter, error)
	// Wrap, when set, wraps every router built (the operator adds where
	// to grant a permission the API server refused).
	Wrap func(provider string, r canary.TrafficRouter) canary.TrafficRouter
	// Clock tells the time to the Helm router. Default:
	// canary.SystemClock.
	Clock canary.Clock
	// Log receives the Helm SDK's messages. Default: none.
	Log func(format string, args ...any)
}

// Router is the plan's traffic router other than the built-in proxy
// (which Build starts): helm, gatewayAPI, replicas, istio or nginxIngress
// through env.Kube, in the plan's namespace.
func Router(ctx context.Context, p *canary.Plan, env Env) (canary.TrafficRouter, error) {
	prov := p.Spec.Traffic.Provider()
	if env.Kube == nil || !slices.Contains(KubeProviders, prov) {
		return nil, canary.Errorf(canary.EINVALID, "traffic.%s is not available in %s (use %s)", prov, env.host(), env.offered())
	}
	k := env.Kube
	ns := p.Metadata.Namespace
	if k.Authorize != nil {
		if err := k.Authorize(ctx, prov, ns); err != nil {
			return nil, err
		}
	}
	var r canary.TrafficRouter
	var err error
	if prov == "helm" {
		r, err = k.helm(p)
	} else {
		r, err = k.clientRouter(p)
	}
	if err != nil {
		return nil, err
	}
	if k.Wrap != nil {
		r = k.Wrap(prov, r)
	}
	return r, nil
}

// offered lists the traffic providers env allows.
func (env Env) offered() string {
	var l []string
	if env.Proxy != nil {
		l = append(l, "traffic.proxy")
	}
	if env.Kube != nil {
		for _, k := range KubeProviders {
			l = append(l, "traffic."+k)
		}
	}
	if len(l) == 0 {
		return "another host"
	}
	return strings.Join(l, ", ")
}

// KubeProviders are the traffic providers that act on a cluster
// (Env.Kube), in the order hosts list them.
var KubeProviders = []string{"gatewayAPI", "helm", "replicas", "istio", "nginxIngress"}

// helm builds the plan's Helm router.
func (k *Kube) helm(p *canary.Plan) (canary.TrafficRouter, error) {
	rc, err := k.restConfig("helm")
	if err != nil {
		return nil, err
	}
	t := *p.Spec.Traffic.Helm
	if k.Chart != nil {
		if t.Chart, err = k.Chart(t.Chart); err != nil {
			return nil, err
		}
	}
	cfg := helm.Config{RESTConfig: rc, Namespace: p.Metadata.Namespace, Traffic: t, Version: p.Spec.Version, Clock: k.Clock, Log: k.Log}
	if k.Helm != nil {
		return k.Helm(cfg)
	}
	r, err := helm.New(cfg)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "traffic.helm: %v", err)
	}
	return r, nil
}

// clientRouter builds the plan's gatewayAPI, replicas, istio or
// nginxIngress router on the cluster's client.
func (k *Kube) clientRouter(p *canary.Plan) (canary.TrafficRouter, error) {
	prov := p.Spec.Traffic.Provider()
	c := k.Client
	if c == nil {
		rc, err := k.restConfig(prov)
		if err != nil {
			return nil, err
		}
		if c, err = kube.NewClient(rc); err != nil {
			return nil, canary.Errorf(canary.EUNAVAILABLE, "traffic.%s: %v", prov, err)
		}
	}
	ns := p.Metadata.Namespace
	var r canary.TrafficRouter
	var err error
	switch t := p.Spec.Traffic; {
	case t.Replicas != nil:
		r, err = kube.NewReplicaRouter(kube.ReplicaConfig{Client: c, Namespace: ns, Stable: t.Replicas.StableDeployment,
			Canary: t.Replicas.CanaryDeployment, Replicas: int32(t.Replicas.Total), ReadyTimeout: time.Duration(t.Replicas.ReadyTimeout)})
	case t.Istio != nil:
		r, err = istio.New(istio.Config{Client: c, Namespace: ns, Traffic: *t.Istio})
	case t.NGINXIngress != nil:
		r, err = nginxingress.New(nginxingress.Config{Client: c, Namespace: ns, Traffic: *t.NGINXIngress})
	default:
		r, err = gatewayapi.New(gatewayapi.Config{Client: c, Namespace: ns, Traffic: *t.GatewayAPI})
	}
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "traffic.%s: %v", prov, err)
	}
	return r, nil
}

// restConfig is k.Config's configuration; its error names the provider.
func (k *Kube) restConfig(prov string) (*rest.Config, error) {
	if k.Config == nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "traffic.%s: no kubernetes configuration", prov)
	}
	rc, err := k.Config()
	if err != nil {
		code := canary.ErrorCode(err)
		if code == canary.EINTERNAL {
			code = canary.EUNAVAILABLE
		}
		return nil, canary.Errorf(code, "traffic.%s: %v", prov, err)
	}
	return rc, nil
}
