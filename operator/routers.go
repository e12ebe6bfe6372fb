package operator

import (
	"context"

	"github.com/canary-dev/canary"
)

// IstioRBACHint and NGINXIngressRBACHint say where the permissions of
// traffic.istio and traffic.nginxIngress are granted (opt-in, like
// traffic.replicas's).
const (
	IstioRBACHint = "grant them to the operator's service account: kubectl apply -f deploy/operator/rbac-istio.yaml " +
		"(or a RoleBinding to the canary-operator-istio ClusterRole in this namespace), or install the chart with istioTraffic.enabled=true"
	NGINXIngressRBACHint = "grant them to the operator's service account: kubectl apply -f deploy/operator/rbac-nginx-ingress.yaml " +
		"(or a RoleBinding to the canary-operator-nginx-ingress ClusterRole in this namespace), or install the chart with nginxIngressTraffic.enabled=true"
)

// routerAccess is what each opt-in cluster router needs, as its router
// uses it: the Istio router reads and updates the VirtualService; the NGINX
// Ingress router reads both Ingresses and creates, updates and (after a
// rollback) deletes the canary one.
var routerAccess = map[string]access{
	"replicas": replicasAccess,
	"istio": {Provider: "traffic.istio", Group: "networking.istio.io", Resource: "virtualservices", Verbs: []string{"get", "update"},
		Why: "whose route weights traffic.istio sets", Hint: IstioRBACHint},
	"nginxIngress": {Provider: "traffic.nginxIngress", Group: "networking.k8s.io", Resource: "ingresses",
		Verbs: []string{"get", "create", "update", "delete"}, Why: "which traffic.nginxIngress reads (the stable) and keeps (the canary)",
		Hint: NGINXIngressRBACHint},
}

// rbacHint adds, to an error the API server refused, where to grant the
// permission (RBAC may change after the check).
type rbacHint struct {
	r    canary.TrafficRouter
	hint string
}

var _ canary.TrafficRouter = rbacHint{}

func (h rbacHint) SetWeight(ctx context.Context, w int) error {
	return forbidden(h.r.SetWeight(ctx, w), h.hint)
}
func (h rbacHint) Promote(ctx context.Context) error { return forbidden(h.r.Promote(ctx), h.hint) }
func (h rbacHint) RemoveCanary(ctx context.Context) error {
	return forbidden(h.r.RemoveCanary(ctx), h.hint)
}

// routeHint is rbacHint for a router that also sets routes (matches,
// mirrors): the wrapper keeps canary.RouteSetter visible.
type routeHint struct{ rbacHint }

var _ canary.RouteSetter = routeHint{}

func (h routeHint) SetRoute(ctx context.Context, rt canary.Route) error {
	return forbidden(h.r.(canary.RouteSetter).SetRoute(ctx, rt), h.hint)
}

// withHint wraps r with hint, keeping its RouteSetter.
func withHint(r canary.TrafficRouter, hint string) canary.TrafficRouter {
	h := rbacHint{r: r, hint: hint}
	if _, ok := r.(canary.RouteSetter); ok {
		return routeHint{h}
	}
	return h
}
