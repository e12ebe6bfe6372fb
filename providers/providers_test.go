package providers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/providers"
)

// parse reads a plan whose spec's traffic, analysis and extra lines are
// given.
func parse(t *testing.T, traffic, metrics, extra string) *canary.Plan {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  version: v2
  traffic: %s
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  analysis: {interval: 10s, metrics: %s}
  rules:
    - {metric: errorRate, above: 5%%, action: rollback-immediate}
%s`, traffic, metrics, extra)
	p, err := plan.Parse("plan.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func backend(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestProxy: with the built-in proxy allowed, Build starts it on the
// host's listener; its router moves real requests, its recorder counts
// them, and Close stops it.
func TestProxy(t *testing.T) {
	p := parse(t, fmt.Sprintf("{proxy: {stable: %q, canary: %q}}", backend(t, "stable"), backend(t, "canary")), "{builtin: {}}", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := providers.Build(t.Context(), p, providers.Env{Proxy: &providers.Proxy{Listener: ln}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.ProxyAddr != ln.Addr().String() {
		t.Fatalf("ProxyAddr = %q, want %q", b.ProxyAddr, ln.Addr())
	}
	get := func() string {
		resp, err := http.Get("http://" + b.ProxyAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if got := get(); got != "stable" {
		t.Errorf("at weight 0: %q, want stable", got)
	}
	if err := b.Router.SetWeight(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "canary" {
		t.Errorf("at weight 100: %q, want canary", got)
	}
	m, err := b.Metrics.Measure(t.Context(), canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackCanary, Window: time.Minute, At: time.Now().Add(2 * time.Second)})
	if err != nil || m.Samples != 1 {
		t.Errorf("canary requests recorded = %+v, %v; want 1 sample", m, err)
	}
	if b.Flags != nil || b.Checks == nil {
		t.Errorf("Flags %v (want none: no featureFlag), Checks %v (want a runner)", b.Flags, b.Checks)
	}
	b.Close()
	if c, err := net.DialTimeout("tcp", b.ProxyAddr, time.Second); err == nil {
		c.Close()
		t.Error("the proxy still accepts connections after Close")
	}
}

// TestRefused: what a host does not offer is refused, naming the host and
// what it offers, and nothing is left running.
func TestRefused(t *testing.T) {
	proxyPlan := parse(t, `{proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}`, "{builtin: {}}", "")
	route := `{gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary}}`
	errNoFlags := errors.New("no builtin flags here")
	tests := []struct {
		name string
		p    *canary.Plan
		env  providers.Env
		want string
	}{
		{"proxy without Proxy", proxyPlan, providers.Env{Host: "the operator"},
			"traffic.proxy is not available in the operator (use another host)"},
		{"builtin metrics without Proxy", parse(t, route, "{builtin: {}}", ""), providers.Env{Host: "the operator", Router: fakeRouter},
			"analysis.metrics: the operator needs analysis.metrics.prometheus"},
		{"builtin metrics with another router", parse(t, route, "{builtin: {}}", ""), providers.Env{Proxy: &providers.Proxy{}, Router: fakeRouter},
			"analysis.metrics: builtin measures the built-in proxy; with traffic.gatewayAPI use analysis.metrics.prometheus"},
		{"builtin flags without a store", parse(t, route, "{prometheus: {address: 'http://127.0.0.1:1'}}", "  featureFlag: {name: f}\n"),
			providers.Env{Router: fakeRouter, NoBuiltinFlags: errNoFlags}, errNoFlags.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := providers.Build(t.Context(), tt.p, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build = %v, %v; want an error with %q", b, err, tt.want)
			}
		})
	}
}

var fakeRouter = func(context.Context, *canary.Plan) (canary.TrafficRouter, error) { return nopRouter{}, nil }

type nopRouter struct{}

func (nopRouter) SetWeight(context.Context, int) error { return nil }
func (nopRouter) Promote(context.Context) error        { return nil }
func (nopRouter) RemoveCanary(context.Context) error   { return nil }

type ctxKey struct{}

// TestSecretsWithContext: the host's resolver reads Prometheus' token and
// the flag service's token within the caller's context (Build's for what
// is read while building, the call's for every flag request), and a
// *checks.Runner is given the resolver for hooks' env.
func TestSecretsWithContext(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	resolve := func(ctx context.Context, ref canary.SecretRef) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s@%v", ref, ctx.Value(ctxKey{})))
		return "tok-" + strings.TrimPrefix(string(ref), "secret:"), nil
	}
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/api/") {
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		_, _ = io.WriteString(w, `{"name":"f","enabled":true,"percentage":10}`)
	}))
	defer srv.Close()
	p := parse(t, `{gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary}}`,
		fmt.Sprintf("{prometheus: {address: %q, bearerToken: 'secret:prom/token'}}", srv.URL),
		fmt.Sprintf("  featureFlag: {name: f, provider: http, url: %q, token: 'secret:flags/token'}\n", srv.URL))
	ctx := context.WithValue(t.Context(), ctxKey{}, "build")
	b, err := providers.Build(ctx, p, providers.Env{Router: fakeRouter, Secrets: resolve, Checks: &checks.Runner{}})
	if err != nil {
		t.Fatal(err)
	}
	callCtx := context.WithValue(t.Context(), ctxKey{}, "call")
	_ = b.Flags.SetFlag(callCtx, "f", true, 10)
	_, _ = b.Metrics.Measure(callCtx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute, At: time.Now()})
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(seen, " ")
	for _, want := range []string{"secret:prom/token@build", "secret:flags/token@build", "secret:flags/token@call"} {
		if !strings.Contains(joined, want) {
			t.Errorf("resolver calls %q lack %s", joined, want)
		}
	}
	if strings.Contains(joined, "prom/token@call") {
		t.Errorf("Prometheus' token read again at a query: %s", joined)
	}
	var promAuth, flagAuth bool
	for _, a := range auth {
		promAuth = promAuth || (strings.HasPrefix(a, "/api/") && strings.HasSuffix(a, "Bearer tok-prom/token"))
		flagAuth = flagAuth || (strings.HasPrefix(a, "/feature-flags/") && strings.HasSuffix(a, "Bearer tok-flags/token"))
	}
	if !promAuth || !flagAuth {
		t.Errorf("requests %q: want Prometheus and the flag service called with their resolved tokens", auth)
	}
	if cr, ok := b.Checks.(*checks.Runner); !ok || cr.Secrets == nil {
		t.Errorf("Checks = %#v, want the runner with the host's resolver", b.Checks)
	}
}
