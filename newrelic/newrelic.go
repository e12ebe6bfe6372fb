// Package newrelic measures a rollout with NRQL queries over New Relic's
// NerdGraph API (POST /graphql, actor.account(id).nrql(query).results),
// one query per measurement over the window. The defaults read APM
// Transaction events of the application, the canary's told from the
// stable's by a condition (tags.track by default). apisrc combines the
// answers into measurements.
package newrelic

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/apisrc"
)

// NerdGraph endpoints by region.
const (
	USAddress = "https://api.newrelic.com/graphql"
	EUAddress = "https://api.eu.newrelic.com/graphql"
)

// Default NRQL templates: APM Transaction events of the application on
// the track, over the window.
const (
	window               = ` SINCE {{.Since}} UNTIL {{.Until}}`
	where                = ` FROM Transaction WHERE appName = '{{.Service}}' AND {{.Selector}}`
	DefaultRequestsQuery = `SELECT count(*)` + where + window
	DefaultErrorsQuery   = `SELECT count(*)` + where + ` AND error IS true` + window
	DefaultLatencyQuery  = `SELECT percentile(duration, {{.Percentile}})` + where + window
)

// DefaultQueries returns a new map of the default templates by name.
func DefaultQueries() map[string]string {
	return map[string]string{apisrc.QueryRequests: DefaultRequestsQuery, apisrc.QueryErrors: DefaultErrorsQuery,
		apisrc.QueryLatency: DefaultLatencyQuery}
}

// DefaultTracks are the track conditions when the plan sets none.
var DefaultTracks = canary.TrackValues{Stable: "tags.track = 'stable'", Canary: "tags.track = 'canary'"}

// Config configures a Source.
type Config struct {
	// Plan is the plan's analysis.metrics.newRelic. Required.
	Plan canary.NewRelicMetrics
	// Service and Namespace default the templates' variables (the
	// rollout's name and namespace).
	Service, Namespace string
	// Secrets reads the API key. Default: env:NAME and file:/path.
	Secrets func(canary.SecretRef) (string, error)
	// Dial connects the client (the egress policy's dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retries and Backoff override apisrc's defaults (tests).
	Retries int
	Backoff time.Duration
}

// FromPlan is the Config of p's analysis.metrics.newRelic.
func FromPlan(p *canary.Plan) (Config, error) {
	n := p.Spec.Analysis.Metrics.NewRelic
	if n == nil {
		return Config{}, canary.Errorf(canary.EINVALID, "the plan has no analysis.metrics.newRelic")
	}
	return Config{Plan: *n, Service: p.Metadata.Name, Namespace: p.Metadata.Namespace}, nil
}

// Endpoint is the NerdGraph URL of a region (US, EU; "" is US).
func Endpoint(region string) (string, error) {
	switch strings.ToUpper(region) {
	case "", "US":
		return USAddress, nil
	case "EU":
		return EUAddress, nil
	}
	return "", fmt.Errorf("region %q is not US or EU", region)
}

// New validates cfg, reads its key and parses its templates; it does not
// contact New Relic. Problems are canary.EINVALID errors.
func New(cfg Config) (*apisrc.Source, error) {
	src, err := build(cfg)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "newRelic: %v", err)
	}
	return src, nil
}

func build(cfg Config) (*apisrc.Source, error) {
	pn := cfg.Plan
	addr, err := Endpoint(pn.Region)
	if err != nil {
		return nil, err
	}
	if pn.Address != "" {
		addr = pn.Address
	}
	if addr, err = apisrc.BaseURL("address", addr); err != nil {
		return nil, err
	}
	if pn.AccountID <= 0 {
		return nil, fmt.Errorf("accountID: required (the account the NRQL runs in)")
	}
	b := &backend{endpoint: addr, account: pn.AccountID, hc: apisrc.HTTPClient(cfg.Dial)}
	if b.tmpl, err = apisrc.ParseTemplates(DefaultQueries(), pn.Queries); err != nil {
		return nil, err
	}
	if b.key, err = apisrc.Secret(cfg.Secrets, "apiKey", pn.APIKey); err != nil {
		return nil, err
	}
	tracks := canary.TrackValuesOf(pn.Selector, DefaultTracks)
	svc := pn.AppName
	if svc == "" {
		svc = cfg.Service
	}
	return apisrc.New(apisrc.Config{Kind: "newRelic", Address: addr, Backend: b, Tracks: tracks,
		Vars:    apisrc.Vars{Service: svc, Namespace: cfg.Namespace},
		Timeout: pn.Timeout.D(), Retries: cfg.Retries, Backoff: cfg.Backoff})
}

// backend runs NRQL queries.
type backend struct {
	endpoint string
	account  int
	hc       *http.Client
	tmpl     apisrc.Templates
	key      string
}

func (b *backend) Render(name string, v apisrc.Vars) (string, error) {
	if _, ok := b.tmpl[name]; !ok {
		return "", fmt.Errorf("newRelic: no %s query", name)
	}
	return b.tmpl.Render(name, v)
}
