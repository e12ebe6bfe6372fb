// Package grafana holds canary's Grafana dashboard, canary.json: the
// built-in proxy's metrics per track (P95 latency, 5xx rate, traffic),
// the canary weight and the service's error-budget burn, with the
// runbook's rollback thresholds. Import the file in Grafana (Dashboards →
// New → Import) and pick the Prometheus that scrapes the proxy's admin
// address (traffic.proxy.admin, /metrics).
//
// Every panel query is checked against a real Prometheus by the package's
// test: it parses, and on a proxy with traffic it returns series for both
// tracks.
package grafana

import _ "embed"

// Dashboard is canary.json, the dashboard model Grafana imports.
//
//go:embed canary.json
var Dashboard []byte
