package plan

import (
	"fmt"
	"strings"
	"time"

	canary "github.com/canary-dev/canary"
)

// Values of plain-string plan fields that have no constant in the root
// package.
const (
	VsSLO           = "slo"      // rule.vs: burn relative to 1 − slo.objective
	VsBaseline      = "baseline" // rule.vs: burn relative to the pre-rollout burn
	VsStable        = "stable"   // rule.vs: burn relative to the stable track's
	ProviderBuiltin = "builtin"  // featureFlag.provider: canary's own flags
	ProviderHTTP    = "http"     // featureFlag.provider: the runbook's flag API
)

// validator collects the problems of one plan. Each check is written
// once and names the field by its path; Parse turns paths into positions.
type validator struct {
	errs ErrorList
	// interval is the analysis interval the plan will run with: as
	// written, or the default.
	interval time.Duration
	// resolution is the metric source's shortest window (0: any).
	resolution time.Duration
	// resolutionField is the analysis.metrics field setting resolution
	// (cloudwatch.period, graphite.resolution).
	resolutionField string
	// resolutionSteps: windows must be whole multiples of resolution
	// (Graphite: a window reads one point per storage step).
	resolutionSteps bool
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a plan as written (before Defaults) or as defaulted, and
// returns every problem found, in plan order, with Path set and no
// position. It is for plans that did not come from a file, such as JSON
// bodies of the API; Parse runs the same checks and adds positions.
func Validate(p *canary.Plan) ErrorList {
	if p == nil {
		return ErrorList{{Msg: "no plan: write one starting with apiVersion: canary.dev/v1alpha1"}}
	}
	m := p.Spec.Analysis.Metrics
	v := &validator{interval: p.Spec.Analysis.Interval.D(), resolution: m.Resolution(), resolutionField: m.ResolutionField(),
		resolutionSteps: m.Graphite != nil}
	if v.interval == 0 {
		v.interval = canary.DefaultInterval
	}
	v.header(p)
	v.spec(&p.Spec, "spec")
	return v.errs
}

func (v *validator) header(p *canary.Plan) {
	switch p.APIVersion {
	case canary.APIVersion:
	case "":
		v.add("apiVersion", "required: write apiVersion: %s", canary.APIVersion)
	default:
		v.add("apiVersion", "%q is not supported: write %s", p.APIVersion, canary.APIVersion)
	}
	switch p.Kind {
	case canary.Kind:
	case "":
		v.add("kind", "required: write kind: %s", canary.Kind)
	default:
		v.add("kind", "%q is not supported: write %s", p.Kind, canary.Kind)
	}
	if p.Metadata.Name == "" {
		v.add("metadata.name", "required: name the rollout, e.g. recoveryos-elite")
	} else {
		v.dnsLabel("metadata.name", p.Metadata.Name)
	}
	if p.Metadata.Namespace != "" {
		v.dnsLabel("metadata.namespace", p.Metadata.Namespace)
	}
}

func (v *validator) spec(s *canary.Spec, path string) {
	if s.Version == "" {
		v.add(path+".version", "required: write the canary's version, e.g. v1.0.0-elite")
	}
	v.traffic(&s.Traffic, path+".traffic")
	if s.FeatureFlag != nil {
		v.featureFlag(s.FeatureFlag, path+".featureFlag")
	}
	v.preChecks(s.PreChecks, path+".preChecks")
	v.hooks(s.Hooks, path+".hooks", false)
	v.steps(s.Steps, path+".steps")
	v.routes(s, path)
	v.analysis(&s.Analysis, path+".analysis")
	v.slo(&s.SLO, path+".slo")
	v.rules(s.Rules, path+".rules")
	v.nonNegative(path+".rollback.drain", s.Rollback.Drain)
	v.nonNegative(path+".actionTimeout", s.ActionTimeout)
	v.notify(s.Notify, path+".notify")
	v.hooks(s.Cleanup, path+".cleanup", true)
}

func (v *validator) traffic(t *canary.Traffic, path string) {
	set := present(opt{"proxy", t.Proxy != nil}, opt{"helm", t.Helm != nil}, opt{"gatewayAPI", t.GatewayAPI != nil},
		opt{"replicas", t.Replicas != nil}, opt{"istio", t.Istio != nil}, opt{"nginxIngress", t.NGINXIngress != nil})
	if len(set) == 0 {
		v.add(path, "required: set exactly one of proxy, helm, gatewayAPI, replicas, istio or nginxIngress")
	}
	for _, extra := range set[min(len(set), 1):] {
		v.add(path+"."+extra, "only one traffic provider may be set, but %s is set too: remove one of them", set[0])
	}
	if p := t.Proxy; p != nil {
		path := path + ".proxy"
		v.hostPort(path+".listen", p.Listen)
		v.hostPort(path+".admin", p.Admin)
		v.url(path+".stable", p.Stable, "the stable version's URL, e.g. http://127.0.0.1:9001")
		v.url(path+".canary", p.Canary, "the canary version's URL, e.g. http://127.0.0.1:9002")
	}
	if h := t.Helm; h != nil {
		path := path + ".helm"
		v.required(path+".release", h.Release, "name the stable Helm release, e.g. recoveryos")
		v.required(path+".chart", h.Chart, "write the chart path or reference, e.g. ./helm/recoveryos")
		if h.CanaryRelease != "" && h.CanaryRelease == h.Release {
			v.add(path+".canaryRelease", "%q is also the stable release: give the canary its own release, e.g. %s-canary (or omit it for that default)", h.Release, h.Release)
		}
	}
	if g := t.GatewayAPI; g != nil {
		path := path + ".gatewayAPI"
		v.required(path+".httpRoute", g.HTTPRoute, "name the HTTPRoute that splits the traffic")
		v.required(path+".stableService", g.StableService, "name the stable version's Service")
		v.required(path+".canaryService", g.CanaryService, "name the canary version's Service")
		if g.Port < 0 || g.Port > 65535 {
			v.add(path+".port", "%d is not a port: write 1 to 65535 (or omit it for %d)", g.Port, DefaultGatewayPort)
		}
	}
	if r := t.Replicas; r != nil {
		path := path + ".replicas"
		v.required(path+".stableDeployment", r.StableDeployment, "name the stable version's Deployment")
		v.required(path+".canaryDeployment", r.CanaryDeployment, "name the canary version's Deployment")
		if r.StableDeployment != "" && r.StableDeployment == r.CanaryDeployment {
			v.add(path+".canaryDeployment", "%q is also the stable Deployment: the canary needs a Deployment of its own", r.CanaryDeployment)
		}
		if r.Total < 0 || r.Total == 1 {
			v.add(path+".total", "%d pods cannot be shared between two versions: write 2 or more (or omit it to use the Deployments' replicas)", r.Total)
		}
		v.nonNegative(path+".readyTimeout", r.ReadyTimeout)
	}
	v.istio(t.Istio, path+".istio")
	v.nginxIngress(t.NGINXIngress, path+".nginxIngress")
}

func (v *validator) featureFlag(f *canary.FeatureFlag, path string) {
	v.required(path+".name", f.Name, "name the flag, e.g. release_20250814")
	switch f.Provider {
	case "", ProviderBuiltin:
		if f.URL != "" {
			v.add(path+".url", "only the http provider uses a URL: remove it, or set provider: http")
		}
	case ProviderHTTP:
		if f.URL == "" {
			v.add(path+".url", "required with provider http: write the flag service's base URL, e.g. http://admin.recoveryos.com")
		} else {
			v.url(path+".url", f.URL, "")
		}
	default:
		v.add(path+".provider", "%q is not a flag provider: write builtin or http", f.Provider)
	}
	v.secret(path+".token", f.Token)
}

func (v *validator) analysis(a *canary.Analysis, path string) {
	if a.Interval < 0 {
		v.add(path+".interval", "%s is negative: write a duration above 0, e.g. 30s", a.Interval)
	}
	if a.MinRequests < 0 {
		v.add(path+".minRequests", "%d is negative: write 0 or more", a.MinRequests)
	}
	v.nonNegative(path+".maxHoldExtension", a.MaxHoldExtension)
	if c := a.Confidence; c != 0 && (c <= 0.5 || c >= 1) {
		v.add(path+".confidence", "%s is not a confidence: write a percentage above 50%% and below 100%%, e.g. 95%% (or omit it for 95%%)", c)
	}
	m := a.Metrics
	v.oneSource(&m, path+".metrics")
	v.otherSources(&m, path+".metrics")
	v.cloudMetrics(a, path)
	if pm := m.Prometheus; pm != nil {
		path := path + ".metrics.prometheus"
		v.url(path+".address", pm.Address, "the Prometheus server's URL, e.g. http://prometheus:9090")
		v.nonNegative(path+".timeout", pm.Timeout)
		v.secret(path+".bearerToken", pm.BearerToken)
		if b := pm.BasicAuth; b != nil {
			v.required(path+".basicAuth.username", b.Username, "the user name sent with every query")
			if v.required(path+".basicAuth.password", string(b.Password), "a reference such as env:PROM_PASSWORD") {
				v.secret(path+".basicAuth.password", b.Password)
			}
			if pm.BearerToken != "" {
				v.add(path+".basicAuth", "bearerToken is set too: use one of them")
			}
		}
		for _, name := range sortedKeys(pm.Queries) {
			qpath := path + ".queries[" + name + "]"
			if !isOneOf(name, prometheusQueries) {
				v.add(qpath, "%q is not a query name: write %s", name, orList(prometheusQueries))
			} else if strings.TrimSpace(pm.Queries[name]) == "" {
				v.add(qpath, "required: write the PromQL query template, or remove the entry for the built-in one")
			}
		}
	}
}

// prometheusQueries are the query templates prometheus.queries overrides.
var prometheusQueries = []string{"latency", "errorRate", "requestRate", "requests", "latencyBuckets"}

func (v *validator) slo(s *canary.SLO, path string) {
	if o := s.Objective; o != 0 && (o <= 0 || o >= 1) {
		v.add(path+".objective", "%s is not an objective: write a percentage strictly between 0%% and 100%%, e.g. 99.9%% (100%% leaves no error budget)", o)
	}
}
