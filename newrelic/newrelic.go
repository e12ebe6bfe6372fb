// Package newrelic measures a rollout with NRQL queries over New Relic's
// NerdGraph API (POST /graphql, actor.account(id).nrql(query).results),
// one query per measurement over the window. The defaults read APM
// Transaction events of the application, the canary's told from the
// stable's by a condition (tags.track by default). metricsrc combines
// the counts into measurements.
package newrelic

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// Kind names the source in errors and `canary query`.
const Kind = "newRelic"

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
	return map[string]string{metricsrc.QueryRequests: DefaultRequestsQuery, metricsrc.QueryErrors: DefaultErrorsQuery,
		metricsrc.QueryLatency: DefaultLatencyQuery}
}

// DefaultTracks are the track conditions when the plan sets none.
var DefaultTracks = canary.TrackValues{Stable: "tags.track = 'stable'", Canary: "tags.track = 'canary'"}

// Config configures a Source.
type Config struct {
	// Plan is the plan's analysis.metrics.newRelic. Required.
	Plan canary.NewRelicMetrics
	// Env is the host's: the rollout's name and namespace (the templates'
	// defaults), how the key is read, the egress dialer.
	metricsrc.Env
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
func New(cfg Config) (*metricsrc.Source, error) {
	pn := cfg.Plan
	addr, err := Endpoint(pn.Region)
	if err == nil && pn.AccountID <= 0 {
		err = errors.New("accountID: required (the account the NRQL runs in)")
	}
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "%s: %v", Kind, err)
	}
	return metricsrc.NewCounts(metricsrc.CountsConfig{Kind: Kind, Env: cfg.Env, Address: cmp.Or(pn.Address, addr),
		Keys:    []metricsrc.Key{{Field: "apiKey", Header: "API-Key", Ref: pn.APIKey}},
		Timeout: pn.Timeout.D(), Service: pn.AppName,
		Templates: metricsrc.TemplateConfig{Defaults: DefaultQueries(), Overrides: pn.Queries,
			Tracks: canary.TrackValuesOf(pn.Selector, DefaultTracks), Language: "NRQL"},
		Connect: func(h *metricsrc.HTTP, _ metricsrc.Retry) (metricsrc.Run, error) {
			return (&backend{http: h, account: pn.AccountID}).run, nil
		},
	})
}
