package metricsrc

import "github.com/canary-dev/canary"

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
