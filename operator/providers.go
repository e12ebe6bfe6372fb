package operator

import (
	"context"
	"fmt"
	"sync"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/executor"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/providers"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// host names the operator in provider errors.
const host = "the operator"

// DefaultRouter is the gatewayAPI, replicas, istio or nginxIngress router
// of a plan on c, in the plan's namespace, as the operator builds it
// (providers.Router). For traffic.replicas, istio and nginxIngress (whose
// RBAC is opt-in) it first asks the API server whether c may use what the
// router needs there, and names the missing verbs and where to grant them
// otherwise.
func DefaultRouter(ctx context.Context, c client.Client, p *canary.Plan) (canary.TrafficRouter, error) {
	k := &providers.Kube{Client: c, Wrap: wrapRouter,
		Authorize: func(ctx context.Context, prov, ns string) error { return authorize(ctx, c, nil, prov, ns) }}
	return providers.Router(ctx, p, providers.Env{Host: host, Kube: k})
}

// DefaultMetrics is the plan's Prometheus source with env:/file: secret
// references only; builtin metrics measure the built-in proxy, which the
// operator does not run.
func DefaultMetrics(ctx context.Context, p *canary.Plan) (canary.MetricSource, error) {
	return providers.Metrics(ctx, p, providers.Env{Host: host})
}

// env is what the operator allows a plan: traffic on the cluster (Helm
// routers kept per rollout), Kubernetes Secrets of the plan's namespace,
// the owner's outbound and command policies, no built-in proxy and no
// builtin flags.
func (r *Reconciler) env(p *canary.Plan) providers.Env {
	ns, name := p.Metadata.Namespace, p.Metadata.Namespace+"/"+p.Metadata.Name
	sec := SecretResolver{Reader: r.cfg.Secrets, Namespace: ns, Timeout: r.cfg.CallTimeout, Redactor: r.cfg.Redactor}
	log := ctrl.Log.WithName("helm").WithValues("rollout", name)
	c, h := r.cfg.Client, r.helm
	return providers.Env{Host: host, NoBuiltinFlags: ErrBuiltinFlags, Secrets: sec.Resolve, Egress: r.cfg.Egress,
		Checks: r.cfg.Checks, Router: r.cfg.Router, Metrics: r.cfg.Metrics,
		Kube: &providers.Kube{Client: c, Config: h.config, Chart: h.chart, Wrap: wrapRouter, Clock: r.cfg.Clock,
			Authorize: func(ctx context.Context, prov, ns string) error { return authorize(ctx, c, h, prov, ns) },
			Helm:      func(cfg helm.Config) (canary.TrafficRouter, error) { return h.router(name, cfg) },
			Log:       func(format string, args ...any) { log.V(1).Info(fmt.Sprintf(format, args...)) }}}
}

// authorize asks the API server whether the operator may use what the
// plan's traffic provider needs in ns (helm's checks on h's client).
func authorize(ctx context.Context, c client.Client, h *helmRouters, prov, ns string) error {
	if prov == "helm" {
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()
		return h.checkAccess(ctx, ns)
	}
	a, ok := routerAccess[prov]
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, kube.DefaultTimeout)
	defer cancel()
	return a.check(ctx, c, ns)
}

// wrapRouter adds where to grant a permission to the errors of the
// replicas, istio and nginxIngress routers (the Helm routers get theirs
// when built).
func wrapRouter(prov string, r canary.TrafficRouter) canary.TrafficRouter {
	if prov == "replicas" {
		return replicasHint{r}
	}
	if a, ok := routerAccess[prov]; ok {
		return withHint(r, "the operator's service account lacks this permission on "+a.resource()+"; "+a.Hint)
	}
	return r
}

// builtProviders keeps the providers built for each rollout, one set per
// generation of its spec: a Prometheus source and its transport, a flag
// client, access reviews made once per generation, not per reconcile.
type builtProviders struct {
	mu     sync.Mutex
	byName map[types.NamespacedName]builtEntry
}

type builtEntry struct {
	uid types.UID
	gen int64
	pv  executor.Providers
}

// get returns the providers built for generation gen of the rollout.
func (b *builtProviders) get(key types.NamespacedName, uid types.UID, gen int64) (executor.Providers, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byName[key]
	return e.pv, ok && e.uid == uid && e.gen == gen
}

func (b *builtProviders) put(key types.NamespacedName, uid types.UID, gen int64, pv executor.Providers) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byName == nil {
		b.byName = map[types.NamespacedName]builtEntry{}
	}
	b.byName[key] = builtEntry{uid: uid, gen: gen, pv: pv}
}

// forget drops a deleted rollout's providers.
func (b *builtProviders) forget(key types.NamespacedName) {
	b.mu.Lock()
	delete(b.byName, key)
	b.mu.Unlock()
}

// executor is the executor of the rollout obj with plan p, its providers
// built once per generation (providers.Build).
func (r *Reconciler) executor(ctx context.Context, obj client.Object, p *canary.Plan) (*executor.Executor, error) {
	key := client.ObjectKeyFromObject(obj)
	pv, ok := r.built.get(key, obj.GetUID(), obj.GetGeneration())
	if !ok {
		b, err := providers.Build(ctx, p, r.env(p))
		if err != nil {
			return nil, err
		}
		pv = b.Providers
		r.built.put(key, obj.GetUID(), obj.GetGeneration(), pv)
	}
	return executor.New(executor.Config{Plan: p, Providers: pv, Timeouts: executor.CallTimeouts(r.cfg.CallTimeout), Clock: r.cfg.Clock})
}

// forgetRollout drops what the operator keeps for a deleted rollout.
func (r *Reconciler) forgetRollout(ns, name string) {
	forget(ns, name)
	r.helm.forget(ns, name)
	r.built.forget(types.NamespacedName{Namespace: ns, Name: name})
}

// config is the REST configuration the Helm SDK builds its clients from.
func (h *helmRouters) config() (*rest.Config, error) {
	if h.rc == nil {
		return nil, fmt.Errorf("the operator was started without a kubernetes configuration for the Helm SDK (Config.RESTConfig)")
	}
	return h.rc, nil
}
