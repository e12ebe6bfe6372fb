package metricsrc

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/canary-dev/canary"
)

// Env is what the host gives a source it builds: the rollout's name and
// namespace, how secrets are read and connections dialed (canary serve's
// and the operator's policies), and retry settings (tests).
type Env struct {
	// Service and Namespace are the rollout's name and namespace, the
	// templates' defaults.
	Service, Namespace string
	// Secrets reads references. Default: env:NAME and file:/path.
	Secrets func(canary.SecretRef) (string, error)
	// Dial connects (the egress policy's dialer). Default: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retries and Backoff override the defaults (Retry).
	Retries int
	Backoff time.Duration
}

// CountsConfig is a counting source (counts.go) of a vendor's API, as
// datadog, newrelic and cloudwatch build theirs.
type CountsConfig struct {
	// Kind names the source in errors: datadog, newRelic, cloudwatch.
	Kind string
	// Env is the host's.
	Env Env
	// Address is the API's URL (no credentials, no query string). With
	// SDK set it is only shown in errors (a region, or an endpoint).
	Address string
	// Keys are the credential headers (HTTP only).
	Keys []Key
	// Timeout bounds one query, retries included. Default: 10s.
	Timeout time.Duration
	// Templates are the queries (Names: CountNames is filled in) and
	// the per-track selectors.
	Templates TemplateConfig
	// Service replaces Env.Service as .Service when set (the plan's).
	Service string
	// LoadBalancer is the templates' .LoadBalancer.
	LoadBalancer string
	// SDK is set when the source sends through its vendor's SDK
	// (CloudWatch): no HTTP client is built; Connect gets nil and sends
	// with the Retry.
	SDK bool
	// Connect returns the Run that sends a rendered query with h (nil
	// when SDK) under retry.
	Connect func(h *HTTP, retry Retry) (Run, error)
}

// NewCounts builds a counting source: it checks the address, reads the
// keys (once, now), parses the templates; it contacts nothing. Problems
// are canary.EINVALID errors starting with the kind.
func NewCounts(c CountsConfig) (*Source, error) {
	src, err := newCounts(c)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "%s: %v", c.Kind, err)
	}
	return src, nil
}

func newCounts(c CountsConfig) (*Source, error) {
	if u, err := url.Parse(c.Address); !c.SDK && err == nil && u.RawQuery != "" {
		return nil, fmt.Errorf("address %s: no query string (credentials are secret references)", u.Redacted())
	}
	tc := c.Templates
	tc.Names = CountNames
	ts, err := ParseTemplates(tc)
	if err != nil {
		return nil, err
	}
	src := &Source{Kind: c.Kind, Address: c.Address, Templates: ts, Service: c.Service, Namespace: c.Env.Namespace,
		LoadBalancer: c.LoadBalancer, Counts: true}
	if src.Service == "" {
		src.Service = c.Env.Service
	}
	retry := Retry{Timeout: c.Timeout, Retries: c.Env.Retries, Backoff: c.Env.Backoff}.Defaults()
	var h *HTTP
	if !c.SDK {
		h, err = NewHTTP(HTTPConfig{Source: c.Kind, Address: c.Address, Timeout: c.Timeout, Retries: c.Env.Retries,
			Backoff: c.Env.Backoff, Keys: c.Keys, Secrets: c.Env.Secrets, Dial: c.Env.Dial})
		if err != nil {
			return nil, err
		}
		src.Address, src.Redact = h.Address(), h.Redact
	}
	if src.Run, err = c.Connect(h, retry); err != nil {
		return nil, err
	}
	return src, nil
}
