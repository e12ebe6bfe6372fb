package plan

import (
	"reflect"
	"testing"
	"time"

	canary "github.com/canary-dev/canary"
)

// defaultsPlan leaves out every field that has a default.
const defaultsPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: demo}
spec:
  version: v2
  traffic:
    helm: {release: web, chart: ./chart}
  featureFlag: {name: release_1}
  preChecks:
    - {name: up, url: http://staging/health}
  hooks:
    - {name: tell, at: afterStep, http: {url: http://hooks/step}}
  cleanup:
    - {name: tidy, command: [kubectl, delete, configmap, web-canary]}
  steps: [{weight: 50, hold: 1m}, {weight: 100}]
  rules:
    - {metric: latencyP95, above: 600ms, action: rollback-gradual}
    - {metric: burnRate, above: 2x, for: 2m, action: rollback-immediate, urgency: high}
    - {name: too quiet, metric: requestRate, below: 1, window: 1m, action: pause, urgency: low}
  notify:
    - {audience: eng, email: {to: [eng@example.com]}}
    - {audience: on-call, pagerduty: {routingKey: env:PD}, on: [rolledBack]}
`

func TestDefaults(t *testing.T) {
	p, err := Parse("plan.yaml", []byte(defaultsPlan))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Spec
	r := s.Rules
	tests := []struct {
		name      string
		got, want any
	}{
		{"metadata.namespace", p.Metadata.Namespace, "default"},
		{"analysis.interval", s.Analysis.Interval.D(), 30 * time.Second},
		{"analysis.minRequests", s.Analysis.MinRequests, 100},
		{"analysis.metrics", s.Analysis.Metrics.Provider(), "builtin"},
		{"rollback.drain", s.Rollback.Drain.D(), 5 * time.Minute},
		{"actionTimeout", s.ActionTimeout.D(), 5 * time.Minute},
		{"slo.objective", s.SLO.Objective, canary.Percent(0.999)},
		{"traffic.helm.canaryRelease", s.Traffic.Helm.CanaryRelease, "web-canary"},
		{"traffic.helm.weightValue", s.Traffic.Helm.WeightValue, "canary.weight"},
		{"featureFlag.environment", s.FeatureFlag.Environment, "production"},
		{"featureFlag.provider", s.FeatureFlag.Provider, "builtin"},
		{"preChecks[0].timeout", s.PreChecks[0].Timeout.D(), 10 * time.Second},
		{"hooks[0].timeout", s.Hooks[0].Timeout.D(), 30 * time.Second},
		{"hooks[0].http.method", s.Hooks[0].HTTP.Method, "POST"},
		{"cleanup[0].timeout", s.Cleanup[0].Timeout.D(), 30 * time.Second},
		{"rules[0].window", r[0].Window.D(), 30 * time.Second},
		{"rules[0].for", r[0].For.D(), 30 * time.Second},
		{"rules[0].urgency", r[0].Urgency, canary.UrgencyMedium},
		{"rules[0].vs (not burn)", r[0].Vs, ""},
		{"rules[0].name", r[0].Name, "latencyP95 > 600ms for 30s"},
		{"rules[1].vs", r[1].Vs, "slo"},
		{"rules[1].window", r[1].Window.D(), 30 * time.Second},
		{"rules[1].name", r[1].Name, "burnRate > 2x for 2m"},
		{"rules[1].urgency (written)", r[1].Urgency, canary.UrgencyHigh},
		{"rules[2].name (written)", r[2].Name, "too quiet"},
		{"rules[2].window (written)", r[2].Window.D(), time.Minute},
		{"notify[0].on", s.Notify[0].On, []string{"all"}},
		{"notify[0].email.from", s.Notify[0].Email.From, "canary@localhost"},
		{"notify[0].email.smtp", s.Notify[0].Email.SMTP, "localhost:25"},
		{"notify[1].on (written)", s.Notify[1].On, []string{"rolledBack"}},
		{"notify[1].pagerduty.url", s.Notify[1].PagerDuty.URL, "https://events.pagerduty.com/v2/enqueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestDefaultsOtherProviders(t *testing.T) {
	p := &canary.Plan{Spec: canary.Spec{
		Traffic: canary.Traffic{
			Proxy:      &canary.ProxyTraffic{},
			GatewayAPI: &canary.GatewayAPITraffic{},
		},
		Analysis: canary.Analysis{
			Interval: canary.Duration(time.Second),
			Metrics:  canary.MetricsSource{Prometheus: &canary.PrometheusMetrics{}},
		},
		Rules: []canary.Rule{{Metric: canary.MetricErrorRate}},
	}}
	Defaults(p)
	tests := []struct {
		name      string
		got, want any
	}{
		{"proxy.listen", p.Spec.Traffic.Proxy.Listen, "127.0.0.1:8080"},
		{"gatewayAPI.port", p.Spec.Traffic.GatewayAPI.Port, 80},
		{"prometheus.timeout", p.Spec.Analysis.Metrics.Prometheus.Timeout.D(), 10 * time.Second},
		{"no builtin beside prometheus", p.Spec.Analysis.Metrics.Builtin == nil, true},
		{"rule for follows a written interval", p.Spec.Rules[0].For.D(), time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestDefaultsIdempotent(t *testing.T) {
	once, err := Parse("plan.yaml", []byte(defaultsPlan))
	if err != nil {
		t.Fatal(err)
	}
	twice, _ := Parse("plan.yaml", []byte(defaultsPlan))
	Defaults(twice)
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("Defaults changed an already defaulted plan:\ngot  %+v\nwant %+v", twice.Spec, once.Spec)
	}
	Defaults(nil) // must not panic
}
