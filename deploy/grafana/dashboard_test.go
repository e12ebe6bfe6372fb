package grafana

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/promql/promqltest"
	"github.com/canary-dev/canary/proxy"
	"github.com/canary-dev/canary/sample"
	"github.com/prometheus/client_golang/prometheus"
)

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Query    any    `json:"query"`
	AllValue string `json:"allValue"`
	Current  struct {
		Value any `json:"value"`
	} `json:"current"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatalf("canary.json: %v", err)
	}
	return d
}

// thresholds returns a panel's threshold values after the base step.
func (p panel) thresholds() []float64 {
	var out []float64
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value != nil {
			out = append(out, *s.Value)
		}
	}
	return out
}

// TestDashboardModel checks the dashboard's shape: ids, layout, a
// Prometheus data source variable on every panel, a query on every panel,
// and the runbook's thresholds on latency, 5xx and burn panels.
func TestDashboardModel(t *testing.T) {
	d := load(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 30 {
		t.Errorf("title %q, uid %q, schemaVersion %d: want a title, a uid and a current schema", d.Title, d.UID, d.SchemaVersion)
	}
	seen := map[int]bool{}
	byUnit := map[string][][]float64{}
	for _, p := range d.Panels {
		if seen[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		seen[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if !slices.Contains([]string{"stat", "timeseries"}, p.Type) {
			t.Errorf("panel %q: type %q", p.Title, p.Type)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %+v, want the prometheus ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: target %+v without refId or expr", p.Title, tg)
			}
		}
		byUnit[p.FieldConfig.Defaults.Unit] = append(byUnit[p.FieldConfig.Defaults.Unit], p.thresholds())
	}
	// The runbook's matrix: P95 600ms/1000ms, 5xx 1%/5%, burn 2x/5x.
	for unit, want := range map[string][]float64{"s": {0.6, 1}, "percentunit": {0.01, 0.05}, "suffix:x": {2, 5}} {
		if len(byUnit[unit]) == 0 {
			t.Errorf("no %s panel", unit)
		}
		for _, got := range byUnit[unit] {
			if !slices.Equal(got, want) {
				t.Errorf("%s panel thresholds %v, want %v", unit, got, want)
			}
		}
	}
}

// varRef matches $name and ${name} references to dashboard variables.
var varRef = regexp.MustCompile(`\$\{?(\w+)\}?`)

// expand replaces the dashboard's variables in expr with the values
// Grafana would send with the defaults selected ($job: All).
func expand(t *testing.T, d dashboard, expr string) string {
	t.Helper()
	vals := map[string]string{}
	for _, v := range d.Templating.List {
		switch {
		case v.AllValue != "":
			vals[v.Name] = v.AllValue
		case v.Type == "textbox":
			vals[v.Name], _ = v.Query.(string)
		default:
			vals[v.Name], _ = v.Current.Value.(string)
		}
	}
	return varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		v, ok := vals[name]
		if !ok || v == "" {
			t.Errorf("expr %q uses $%s, which is not a dashboard variable with a value", expr, name)
		}
		return v
	})
}

// TestDashboardQueriesOnPrometheus runs every panel query, with the
// variables expanded, against a real Prometheus scraping canary's proxy
// after some traffic: each must parse, return data, and per-track panels
// must show both tracks.
func TestDashboardQueriesOnPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("real Prometheus")
	}
	d := load(t)
	url := proxyWithTraffic(t)
	ctx := t.Context()
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr := expand(t, d, tg.Expr)
			resp, err := promqltest.PostQuery(ctx, url, expr)
			if err != nil {
				t.Errorf("panel %q query %s: %v", p.Title, tg.RefID, err)
				continue
			}
			var series []struct {
				Metric map[string]string `json:"metric"`
			}
			if resp.Data.ResultType == "vector" {
				_ = json.Unmarshal(resp.Data.Result, &series)
			}
			if len(series) == 0 {
				t.Errorf("panel %q query %s returned no series: %s", p.Title, tg.RefID, expr)
			}
			if strings.Contains(tg.LegendFormat, "{{track}}") {
				tracks := map[string]bool{}
				for _, s := range series {
					tracks[s.Metric["track"]] = true
				}
				if !tracks["stable"] || !tracks["canary"] {
					t.Errorf("panel %q query %s: tracks %v, want stable and canary", p.Title, tg.RefID, tracks)
				}
			}
		}
	}
}

// proxyWithTraffic starts canary's proxy (weight 30) in front of two
// sample backends, scraped every second by a real Prometheus, sends 3s of
// traffic and returns Prometheus's URL once rates are available.
func proxyWithTraffic(t *testing.T) string {
	t.Helper()
	promqltest.Binary(t)
	ctx := t.Context()
	fast := sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}
	stable, err := sample.Start(ctx, "", sample.Config{Latency: fast, ErrorRate: 0.01, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	can, err := sample.Start(ctx, "", sample.Config{Latency: fast, ErrorRate: 0.05, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(proxy.Config{Stable: stable.URL(), Canary: can.URL(), Weight: 30, Recorder: rec,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := px.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	frontSrv := proxy.NewServer("", px)
	frontAddr, err := frontSrv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frontSrv.Close() })
	admin := httptest.NewServer(proxy.AdminHandler(reg))
	t.Cleanup(admin.Close)
	prom := promqltest.Start(t, promqltest.Options{Targets: []string{admin.Listener.Addr().String()}})
	prom.WaitUp(20 * time.Second)
	if _, err := loadgen.Run(ctx, loadgen.Config{Target: "http://" + frontAddr.String() + "/", Rate: 100, Duration: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	// Wait for a scrape that saw canary traffic, so rates have it.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, err := prom.Query(context.Background(), `sum(rate(canary_proxy_requests_total{track="canary"}[1m])) > 0`)
		if err == nil && len(v) == 1 {
			return prom.URL()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("prometheus has no canary traffic rate after 10s")
	return ""
}
