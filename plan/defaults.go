package plan

import (
	"time"

	canary "github.com/canary-dev/canary"
)

// Defaults of plan fields that the root package does not name. The others
// are canary.DefaultInterval, DefaultMinRequests, DefaultDrain,
// DefaultActionTimeout, DefaultObjective and DefaultNamespace.
const (
	DefaultPreCheckTimeout   = 10 * time.Second
	DefaultHookTimeout       = 30 * time.Second
	DefaultPrometheusTimeout = 10 * time.Second
	// DefaultSourceTimeout is the timeout of the web, influxdb and
	// graphite metric sources' queries.
	DefaultSourceTimeout   = 10 * time.Second
	DefaultGatewayPort     = 80
	DefaultProxyListen     = "127.0.0.1:8080"
	DefaultHookMethod      = "POST"
	DefaultFlagEnvironment = "production"
	DefaultFlagProvider    = "builtin"
	DefaultWeightValue     = "canary.weight"
	DefaultEmailFrom       = "canary@localhost"
	DefaultSMTP            = "localhost:25"
	DefaultPagerDutyURL    = "https://events.pagerduty.com/v2/enqueue"
	// AllEvents in an audience's on list selects every event type.
	AllEvents = "all"
)

// Defaults fills every empty field whose doc comment promises a default,
// in place. It is idempotent. Rule names are derived last, from the
// defaulted rule (so "errorRate > 1% for 30s" names the interval a rule
// without for gets). Parse calls Defaults after validation; callers that
// build or decode plans themselves should call Validate first, so that
// checks such as "for shorter than the interval" see what was written.
func Defaults(p *canary.Plan) {
	if p == nil {
		return
	}
	if p.Metadata.Namespace == "" {
		p.Metadata.Namespace = canary.DefaultNamespace
	}
	s := &p.Spec
	defaultTraffic(&s.Traffic)
	defaultAnalysis(&s.Analysis)
	setDuration(&s.Rollback.Drain, canary.DefaultDrain)
	if bg := s.Strategy.BlueGreen; bg != nil {
		setDuration(&bg.ScaleDownDelay, canary.DefaultScaleDownDelay)
	}
	setDuration(&s.ActionTimeout, canary.DefaultActionTimeout)
	if s.SLO.Objective == 0 {
		s.SLO.Objective = canary.DefaultObjective
	}
	if f := s.FeatureFlag; f != nil {
		setString(&f.Environment, DefaultFlagEnvironment)
		setString(&f.Provider, DefaultFlagProvider)
	}
	for i := range s.PreChecks {
		setDuration(&s.PreChecks[i].Timeout, DefaultPreCheckTimeout)
	}
	defaultHooks(s.Hooks)
	defaultHooks(s.Cleanup)
	for i := range s.Rules {
		defaultRule(&s.Rules[i], s.Analysis.Interval)
	}
	for i := range s.Notify {
		defaultAudience(&s.Notify[i])
	}
}

func defaultTraffic(t *canary.Traffic) {
	if t.Proxy != nil {
		setString(&t.Proxy.Listen, DefaultProxyListen)
	}
	if h := t.Helm; h != nil {
		if h.Release != "" {
			setString(&h.CanaryRelease, h.Release+"-canary")
		}
		setString(&h.WeightValue, DefaultWeightValue)
	}
	if g := t.GatewayAPI; g != nil && g.Port == 0 {
		g.Port = DefaultGatewayPort
	}
	if i := t.Istio; i != nil && i.Canary.Subset != "" {
		setString(&i.Canary.Host, i.Stable.Host)
	}
	if n := t.NGINXIngress; n != nil && n.Ingress != "" {
		setString(&n.CanaryIngress, n.Ingress+"-canary")
	}
}

func defaultAnalysis(a *canary.Analysis) {
	setDuration(&a.Interval, canary.DefaultInterval)
	if a.MinRequests == 0 {
		a.MinRequests = canary.DefaultMinRequests
	}
	if a.Confidence == 0 {
		a.Confidence = canary.DefaultThresholdConfidence
	}
	if a.Metrics.Provider() == "" {
		a.Metrics.Builtin = &canary.BuiltinMetrics{}
	}
	if pm := a.Metrics.Prometheus; pm != nil {
		setDuration(&pm.Timeout, DefaultPrometheusTimeout)
	}
	if w := a.Metrics.Web; w != nil {
		setDuration(&w.Timeout, DefaultSourceTimeout)
	}
	if i := a.Metrics.InfluxDB; i != nil {
		setDuration(&i.Timeout, DefaultSourceTimeout)
	}
	if g := a.Metrics.Graphite; g != nil {
		setDuration(&g.Timeout, DefaultSourceTimeout)
		setDuration(&g.Resolution, canary.DefaultGraphiteResolution)
	}
}

func defaultHooks(hooks []canary.Hook) {
	for i := range hooks {
		h := &hooks[i]
		setDuration(&h.Timeout, DefaultHookTimeout)
		if h.HTTP != nil {
			setString(&h.HTTP.Method, DefaultHookMethod)
		}
	}
}

// defaultRule fills a rule's defaults; interval is the defaulted
// analysis interval.
func defaultRule(r *canary.Rule, interval canary.Duration) {
	setDuration(&r.Window, defaultWindow(r, interval.D()))
	if r.Compare == canary.CompareBaseline && r.Confidence == 0 {
		r.Confidence = canary.DefaultConfidence
	}
	setDuration(&r.For, interval.D())
	if r.Urgency == "" {
		r.Urgency = canary.UrgencyMedium
	}
	if r.Vs == "" && r.Metric == canary.MetricBurnRate {
		r.Vs = VsSLO
	}
	r.Name = r.DisplayName()
}

func defaultAudience(a *canary.Audience) {
	if len(a.On) == 0 {
		a.On = []string{AllEvents}
	}
	if e := a.Email; e != nil {
		setString(&e.From, DefaultEmailFrom)
		setString(&e.SMTP, DefaultSMTP)
	}
	if pd := a.PagerDuty; pd != nil {
		setString(&pd.URL, DefaultPagerDutyURL)
	}
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDuration(d *canary.Duration, def time.Duration) {
	if *d == 0 {
		*d = canary.Duration(def)
	}
}
