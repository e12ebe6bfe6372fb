package sample_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/sample"
)

// start serves a sample service for the test.
func start(t *testing.T, ctx context.Context, cfg sample.Config) *sample.Server {
	t.Helper()
	srv, err := sample.Start(ctx, "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestServerAnswers(t *testing.T) {
	srv := start(t, context.Background(), sample.Config{Name: "recoveryos", Version: "v1"})
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || strings.HasSuffix(srv.URL(), ":0") {
		t.Fatalf("URL = %q, want http://127.0.0.1:<port>", srv.URL())
	}
	resp, err := http.Get(srv.URL() + "/api/plan")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got["service"] != "recoveryos" || got["version"] != "v1" {
		t.Errorf("GET = %d %v, want 200 with service recoveryos, version v1", resp.StatusCode, got)
	}
}

// TestRunbookPreChecks runs the runbook's staging checks against sample
// services, healthy and failing.
func TestRunbookPreChecks(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		wantErr string
	}{
		{"healthy staging", 0, ""},
		{"failing staging", 1, ".avg_success_rate >= 0.99 was false (.avg_success_rate is 0)"},
	}
	var r checks.Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, context.Background(), sample.Config{ErrorRate: tt.rate})
			for range 20 {
				resp, err := http.Get(srv.URL() + "/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			_, err := r.PreCheck(context.Background(), canary.PreCheck{
				URL: srv.URL() + "/elite/metrics", JQ: ".avg_success_rate >= 0.99"})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("metrics check: got %v, want error %q", err, tt.wantErr)
			}
			out, err := r.PreCheck(context.Background(), canary.PreCheck{
				URL: srv.URL() + "/elite/system-status", JQ: ".features"})
			if err != nil || out != `{"elite_endpoints":true}` {
				t.Errorf("status check = %q, %v; want the default features", out, err)
			}
		})
	}
}

func TestStartRefusesOtherMachines(t *testing.T) {
	tests := []struct{ addr, want string }{
		{":0", "not a loopback address"},
		{"0.0.0.0:0", "not a loopback address"},
		{"192.0.2.1:0", "not a loopback address"},
		{"[::]:0", "not a loopback address"},
		{"example.com:80", "not a loopback address"},
		{"127.0.0.1", "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			srv, err := sample.Start(context.Background(), tt.addr, sample.Config{})
			if err == nil {
				srv.Close()
				t.Fatalf("Start(%q) succeeded, want an error", tt.addr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start(%q) = %v, want an error containing %q", tt.addr, err, tt.want)
			}
		})
	}
}

func TestStartDefaultAddress(t *testing.T) {
	srv := start(t, context.Background(), sample.Config{})
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Errorf("Addr = %q, want 127.0.0.1:<port>", srv.Addr())
	}
}

// TestContextStopsServer checks that canceling Start's context stops the
// server and cancels a request waiting out its latency.
func TestContextStopsServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := start(t, ctx, sample.Config{Latency: sample.LatencyDist{Median: 30 * time.Second}})
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL() + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	canarytest.WaitUntil(t, 5*time.Second, "one request in flight", func() bool { return srv.Service().Stats().InFlight == 1 })
	cancel()
	select {
	case <-srv.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server still serving 5s after its context was canceled")
	}
	if err := <-errc; err == nil {
		t.Errorf("slow request succeeded, want it cut off")
	}
	canarytest.WaitUntil(t, 5*time.Second, "the request canceled", func() bool { return srv.Service().Stats().Canceled == 1 })
	if _, err := http.Get(srv.URL() + "/"); err == nil {
		t.Errorf("request after stop succeeded, want connection refused")
	}
}
