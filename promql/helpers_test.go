package promql

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/promql/promqltest"
	"github.com/canary-dev/canary/proxy"
	"github.com/canary-dev/canary/sample"
	"github.com/prometheus/client_golang/prometheus"
)

// env is canary's proxy in front of two sample backends, its /metrics
// scraped every second by a real Prometheus.
type env struct {
	prom           *promqltest.Server
	rec            *proxy.Recorder
	px             *proxy.Proxy
	stable, canary *sample.Server
	proxyURL       string
	reg            *prometheus.Registry // the proxy's metrics, as scraped
}

func newEnv(t *testing.T, stable, can sample.Config, weight int) *env {
	t.Helper()
	ctx := t.Context()
	promqltest.Binary(t) // skip (or fail under CI) before starting anything
	e := &env{}
	var err error
	stable.Seed, can.Seed = 1, 2
	if e.stable, err = sample.Start(ctx, "", stable); err != nil {
		t.Fatal(err)
	}
	if e.canary, err = sample.Start(ctx, "", can); err != nil {
		t.Fatal(err)
	}
	if e.rec, err = proxy.NewRecorder(proxy.RecorderConfig{}); err != nil {
		t.Fatal(err)
	}
	e.px, err = proxy.New(proxy.Config{Stable: e.stable.URL(), Canary: e.canary.URL(), Weight: weight,
		Recorder: e.rec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e.reg = reg
	if err := e.px.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := e.rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	frontSrv := proxy.NewServer("", e.px)
	frontAddr, err := frontSrv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frontSrv.Close() })
	admin := httptest.NewServer(proxy.AdminHandler(reg))
	t.Cleanup(admin.Close)
	e.proxyURL = "http://" + frontAddr.String()
	e.prom = promqltest.Start(t, promqltest.Options{Targets: []string{admin.Listener.Addr().String()}})
	e.prom.WaitUp(10 * time.Second)
	return e
}

// load sends rate requests/s through the proxy for d and waits for them.
func (e *env) load(t *testing.T, rate float64, d time.Duration) loadgen.Result {
	t.Helper()
	res, err := loadgen.Run(t.Context(), loadgen.Config{Target: e.proxyURL + "/", Rate: rate, Duration: d})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitScraped waits until Prometheus has scraped the proxy's final request
// count, so counters are at rest.
func (e *env) waitScraped(t *testing.T) {
	t.Helper()
	want := 0.0
	for _, tr := range []canary.Track{canary.TrackStable, canary.TrackCanary} {
		st, err := e.rec.Stats(tr, time.Hour, time.Now().Add(time.Second)) // the running second too
		if err != nil {
			t.Fatal(err)
		}
		want += float64(st.Requests)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, err := e.prom.Query(context.Background(), "sum(canary_proxy_requests_total)")
		if err == nil && len(v) == 1 && v[0] == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prometheus never scraped the final count %v", want)
}

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// relErr is |got − want| / want.
func relErr(got, want float64) float64 { return math.Abs(got-want) / want }

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
