package promql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/canary-dev/canary"
)

// Defaults used when a Config field is zero.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 2
	DefaultBackoff = 100 * time.Millisecond
)

// Config configures a Source.
type Config struct {
	// Address of the Prometheus server: an http or https URL, with a path
	// prefix if Prometheus serves under one (http://host/prometheus).
	// Credentials in the URL are sent as basic auth and never shown.
	// Required.
	Address string
	// Queries overrides query templates by name (latency, errorRate,
	// requestRate, requests, latencyBuckets); the others keep their defaults
	// (DefaultQueries). Templates are text/template with .Window, .Track,
	// .Service, .Namespace and .Quantile (see Vars).
	Queries map[string]string
	// Service is the templates' {{.Service}}: the rollout's name.
	Service string
	// Namespace is the templates' {{.Namespace}}. Default: "default".
	Namespace string
	// Timeout bounds one query, retries included, and is passed to
	// Prometheus as the evaluation timeout. Default: 10s.
	Timeout time.Duration
	// Retries is how many times a query is retried after a transient
	// failure (a network error, a 5xx or 429 answer, a Prometheus timeout)
	// while its Timeout lasts. Default: 2. Negative: no retries.
	Retries int
	// Backoff is the wait before the first retry, doubled before each
	// next one. Default: 100ms.
	Backoff time.Duration
	// BearerToken is a reference (env:NAME or file:/path; secret:NAME/KEY
	// with Secrets from canary operator) to a token sent as Authorization:
	// Bearer. It is read once, by New.
	BearerToken canary.SecretRef
	// BasicAuth, when set, sends HTTP basic auth. Not together with
	// BearerToken.
	BasicAuth *BasicAuth
	// CAFile is a PEM file of the certificate authorities trusted for an
	// https Address, instead of the system's (as Prometheus's own
	// ca_file). Default: the system's.
	CAFile string
	// Secrets reads BearerToken and BasicAuth.Password. Default:
	// canary.SecretRef.Resolve (env:NAME and file:/path); canary operator
	// passes one that also reads secret:NAME/KEY from a Kubernetes Secret.
	Secrets func(ref canary.SecretRef) (string, error)
	// HTTPClient sends the requests. Default: a client built from CAFile
	// with the standard transport's settings. Authentication is added on
	// top of it; CAFile must be empty when it is set.
	HTTPClient *http.Client
	// Dial connects the default client (not a custom HTTPClient): canary
	// serve and the operator pass their egress policy's dialer, and the
	// environment's HTTP proxy is then not used. Default: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// BasicAuth is a user name and a reference to a password.
type BasicAuth struct {
	// Username sent in the clear. Required.
	Username string
	// Password is a reference (env:NAME or file:/path, or what
	// Config.Secrets reads), read once by New.
	Password canary.SecretRef
}

// FromPlan returns the Config of a plan's analysis.metrics.prometheus,
// with the rollout's name and namespace as {{.Service}} and
// {{.Namespace}}.
func FromPlan(p *canary.Plan) (Config, error) {
	pm := p.Spec.Analysis.Metrics.Prometheus
	if pm == nil {
		return Config{}, canary.Errorf(canary.EINVALID, "the plan has no analysis.metrics.prometheus")
	}
	return Config{
		Address:     pm.Address,
		Queries:     pm.Queries,
		Service:     p.Metadata.Name,
		Namespace:   p.Metadata.Namespace,
		Timeout:     pm.Timeout.D(),
		BearerToken: pm.BearerToken,
		BasicAuth:   basicAuth(pm.BasicAuth),
		CAFile:      pm.CAFile,
	}, nil
}

func basicAuth(b *canary.BasicAuth) *BasicAuth {
	if b == nil {
		return nil
	}
	return &BasicAuth{Username: b.Username, Password: b.Password}
}

// NewFromPlan builds the Source a plan's analysis.metrics.prometheus
// describes. Configuration problems are canary.EINVALID errors.
func NewFromPlan(p *canary.Plan) (*Source, error) {
	cfg, err := FromPlan(p)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, *url.URL, error) {
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, nil, fmt.Errorf("address %q is not an http(s) URL (e.g. http://prometheus:9090)", redact(c.Address))
	}
	switch {
	case c.Timeout < 0 || c.Backoff < 0:
		return c, nil, fmt.Errorf("timeout %s and backoff %s must not be negative", c.Timeout, c.Backoff)
	case c.BearerToken != "" && (c.BasicAuth != nil || u.User != nil):
		return c, nil, errors.New("bearerToken and basic auth are both set: use one")
	case c.HTTPClient != nil && c.CAFile != "":
		return c, nil, errors.New("caFile is ignored with a custom HTTPClient: configure its transport instead")
	case c.BasicAuth != nil && c.BasicAuth.Username == "":
		return c, nil, errors.New("basicAuth.username is required")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Namespace == "" {
		c.Namespace = canary.DefaultNamespace
	}
	return c, u, nil
}

// resolveSecret reads a secret reference with c.Secrets, by default
// env:NAME or file:/path (the file's content without surrounding white
// space). what names the field in errors; the secret itself never appears
// in one.
func (c Config) resolveSecret(what string, ref canary.SecretRef) (string, error) {
	resolve := ref.Resolve
	if c.Secrets != nil {
		resolve = func() (string, error) { return c.Secrets(ref) }
	}
	v, err := resolve()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// redact returns addr without its password, or a placeholder when it
// does not parse (it may hold a secret).
func redact(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}
