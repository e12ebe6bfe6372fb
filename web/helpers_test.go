package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/web"
	"github.com/canary-dev/canary/web/webtest"
	"github.com/prometheus/client_golang/prometheus"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The test tokens.
const (
	opToken     = "op-secret-0123456789abcdef0123456789"
	viewToken   = "view-secret-0123456789abcdef0123456789"
	promToken   = "prom-secret-0123456789abcdef0123456789" // the scraper's
	tokensLines = "alice:operator:" + opToken + "\nci:viewer:" + viewToken + "\nprom:viewer:" + promToken + "\n"
)

const testPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  featureFlag: {name: release_web}
  steps:
    - {weight: 10, hold: 1m}
    - {weight: 100}
  analysis: {interval: 10s, minRequests: 20}
  rules:
    - {metric: latencyP95, above: 600ms, for: 20s, action: rollback-gradual}
    - {metric: errorRate, above: 5%, for: 10s, action: rollback-immediate, urgency: critical}
`

// badPlan has two problems.
const badPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps:
    - {weight: 10, hold: 5 min}
    - {weight: 100}
  rules:
    - {metric: latencyP95, above: 600ms, action: explode}
`

// env is a test server on a fake manager.
type env struct {
	t   testing.TB
	api *webtest.API
	srv *httptest.Server
	reg *prometheus.Registry
	log *canarytest.Buffer
}

func tokens(t testing.TB) *web.Tokens {
	t.Helper()
	tk, err := web.LoadTokens(strings.NewReader(tokensLines))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// newEnv starts the API on a fresh fake; mod adjusts the Config.
func newEnv(t testing.TB, mod ...func(*web.Config)) *env {
	t.Helper()
	e := &env{t: t, api: webtest.New(), reg: prometheus.NewRegistry(), log: &canarytest.Buffer{}}
	cfg := web.Config{API: e.api, Tokens: tokens(t), Registry: e.reg,
		Logger: newLogger(e.log)}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// response is a finished response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with token (none when "") and body; hdr are
// header name/value pairs.
func (e *env) do(method, path, token, body string, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// applied applies testPlan as alice.
func (e *env) applied() {
	e.t.Helper()
	if r := e.do("POST", "/api/v1/rollouts", opToken, testPlan); r.status != http.StatusCreated {
		e.t.Fatalf("apply: %d %s", r.status, r.body)
	}
}

// errorOf decodes an error body.
func errorOf(t *testing.T, r response) web.ErrorDetail {
	t.Helper()
	var b web.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	return b.Error
}

// want checks a response's status and, for errors, its code.
func want(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		if got := errorOf(t, r).Code; got != code {
			t.Errorf("code %q, want %q: %s", got, code, r.body)
		}
	}
}

// golden compares JSON (indented) with testdata/name.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", name, err, body)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantB, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, wantB) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
