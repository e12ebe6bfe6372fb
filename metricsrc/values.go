package metricsrc

import "github.com/canary-dev/canary"

// Config is the configuration of a value source of an HTTP API (P: its
// plan section, canary.InfluxDBMetrics): each source's Config is an alias
// of one.
type Config[P any] struct {
	// Plan is the plan's section. Required.
	Plan *P
	// Service and Namespace are the templates' .Service and .Namespace.
	Service, Namespace string
	// HTTP has the client's seams (Secrets, Dial, Transport, Retries,
	// Backoff); the rest is taken from Plan.
	HTTP HTTPConfig
}

// FromPlan returns the Config of p's section analysis.metrics.NAME
// (section is p's field of that name, nil when the plan has none).
func FromPlan[P any](p *canary.Plan, name string, section *P) (Config[P], error) {
	if section == nil {
		return Config[P]{}, canary.Errorf(canary.EINVALID, "the plan has no analysis.metrics.%s", name)
	}
	return Config[P]{Plan: section, Service: p.Metadata.Name, Namespace: p.Metadata.Namespace}, nil
}

// Queries returns a new map of a value source's four templates by name.
func Queries(latency, errorRate, requestRate, requests string) map[string]string {
	return map[string]string{QueryLatency: latency, QueryErrorRate: errorRate, QueryRequestRate: requestRate, QueryRequests: requests}
}

// ValuesConfig is a value source of an HTTP API (influxql, graphitesrc,
// webmetrics): the latency/errorRate/requestRate/requests templates over
// per-track selectors and one HTTP client.
type ValuesConfig struct {
	// Kind names the source in errors: influxdb, graphite, web.
	Kind string
	// Templates are the queries (Names: QueryNames) and the per-track
	// selectors.
	Templates TemplateConfig
	// HTTP is the client's configuration; its Source is set to Kind.
	HTTP HTTPConfig
	// Service and Namespace are the templates' .Service and .Namespace.
	Service, Namespace string
	// Connect returns the Run that sends a rendered query with h, the
	// templates' Vars at hand in ts.
	Connect func(h *HTTP, ts *Templates) Run
}

// NewValues builds a value source: it parses the templates, checks the
// address and reads the credentials (once, now); it contacts nothing.
// Problems are canary.EINVALID errors starting with the kind.
func NewValues(c ValuesConfig) (*Source, error) {
	tc := c.Templates
	tc.Names = QueryNames
	ts, err := ParseTemplates(tc)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "%s: %v", c.Kind, err)
	}
	hc := c.HTTP
	hc.Source = c.Kind
	h, err := NewHTTP(hc)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "%s: %v", c.Kind, err)
	}
	return &Source{Kind: c.Kind, Address: h.Address(), Templates: ts, Service: c.Service, Namespace: c.Namespace,
		Run: c.Connect(h, ts), Redact: h.Redact}, nil
}
