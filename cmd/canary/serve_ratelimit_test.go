package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startLimitedServe runs `canary serve` in this process with args added
// and a viewer token (rigViewer) and an operator token (rigOperator); it
// stops with the test.
func startLimitedServe(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("ops:operator:"+rigOperator+"\nwatcher:viewer:"+rigViewer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var serveErr bytes.Buffer
	go func() {
		defer close(done)
		Main(ctx, append([]string{"serve", "--listen", addr, "--state", filepath.Join(dir, "s.db"), "--tokens-file", tokens}, args...),
			io.Discard, &serveErr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	waitHTTP(t, "http://"+addr+"/healthz")
	return "http://" + addr
}

// TestServeRateLimitCLI: `canary serve --rate-limit --rate-burst` limits
// each token; the CLI command over the limit says so and when to retry,
// and exits 5 (unavailable, retry later), not 2 (invalid); the other token
// and the probes go on. The limit refills at one request every 1000s, so
// nothing here depends on timing.
func TestServeRateLimitCLI(t *testing.T) {
	server := startLimitedServe(t, "--rate-limit", "0.001", "--rate-burst", "2", "--metrics-public")
	get := func(token string) (int, string) {
		var out, errw bytes.Buffer
		code := Main(t.Context(), []string{"get", "--server", server, "--token", token}, &out, &errw)
		return code, errw.String()
	}
	for i := range 2 {
		if code, stderr := get(rigViewer); code != ExitPromoted {
			t.Fatalf("get %d: exit %d: %s", i+1, code, stderr)
		}
	}
	code, stderr := get(rigViewer)
	if code != ExitUnavailable {
		t.Errorf("over the limit: exit %d, want %d (unavailable, retry later): %s", code, ExitUnavailable, stderr)
	}
	for _, s := range []string{"token watcher made more requests than the server allows", "retry in 1000s", "--rate-limit"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q: %s", s, stderr)
		}
	}
	if strings.Contains(stderr, rigViewer) {
		t.Errorf("stderr holds the token: %s", stderr)
	}
	if code, stderr := get(rigOperator); code != ExitPromoted {
		t.Errorf("another token: exit %d: %s", code, stderr)
	}
	resp, err := http.Get(server + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(m), `canary_http_rate_limited_total{token="watcher"} 1`+"\n") {
		t.Errorf("/metrics does not count the refusal by token name")
	}
}

// TestServeRateLimitFlags: the defaults, 0 (off) and refused values.
func TestServeRateLimitFlags(t *testing.T) {
	c := newServeCmd()
	if got := c.Flags().Lookup("rate-limit").DefValue; got != "20" {
		t.Errorf("--rate-limit default %s, want 20", got)
	}
	if got := c.Flags().Lookup("rate-burst").DefValue; got != "40" {
		t.Errorf("--rate-burst default %s, want 40", got)
	}
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"off", []string{"--rate-limit", "0"}, true},
		{"fraction", []string{"--rate-limit", "0.5", "--rate-burst", "1"}, true},
		{"negative rate", []string{"--rate-limit", "-1"}, false},
		{"not a number", []string{"--rate-limit", "fast"}, false},
		{"infinite", []string{"--rate-limit", "Inf"}, false},
		{"zero burst", []string{"--rate-burst", "0"}, false},
		{"fractional burst", []string{"--rate-burst", "1.5"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newServeCmd().ParseFlags(tt.args)
			if (err == nil) != tt.ok {
				t.Errorf("%v: %v, want ok=%v", tt.args, err, tt.ok)
			}
		})
	}
	var errw bytes.Buffer
	if code := Main(t.Context(), []string{"serve", "--rate-limit", "-1"}, io.Discard, &errw); code != ExitInvalid ||
		!strings.Contains(errw.String(), "is not a rate") {
		t.Errorf("serve --rate-limit -1: exit %d, %s", code, errw.String())
	}
}
