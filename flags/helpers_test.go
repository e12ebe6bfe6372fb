package flags

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/store"
)

// t0 is the stepped clock's start.
var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// storeKinds are the Store implementations every API test runs against.
var storeKinds = []struct {
	name string
	open func(t testing.TB) Store
}{
	{"memory", func(testing.TB) Store { return &Memory{Clock: canarytest.NewTicker(t0, time.Second)} }},
	{"sqlite", func(t testing.TB) Store {
		s, err := store.OpenConfig(context.Background(),
			store.Config{Path: filepath.Join(t.TempDir(), "canary.db"), Clock: canarytest.NewTicker(t0, time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// eachStore runs f as a subtest per Store implementation.
func eachStore(t *testing.T, f func(t *testing.T, s Store)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { f(t, k.open(t)) })
	}
}

// newHandler returns an open Handler over s.
func newHandler(t *testing.T, s Store) *Handler {
	t.Helper()
	h, err := NewHandler(Config{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// response is one answer of the handler.
type response struct {
	status int
	header http.Header
	body   string
}

// decode unmarshals the body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// call serves one request; headers are "Name: value" strings. A POST with
// a body gets Content-Type: application/json unless one is given.
func call(t *testing.T, h http.Handler, method, path, body string, headers ...string) response {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		r.Header.Set(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return response{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// wantStatus fails unless the response has status and its body contains
// every want.
func wantStatus(t *testing.T, r response, status int, want ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %d %s, want %d", r.status, r.body, status)
	}
	for _, w := range want {
		if !strings.Contains(r.body, w) {
			t.Errorf("body %s: want it to contain %q", r.body, w)
		}
	}
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := canary.ErrorCode(err); got != code {
		t.Fatalf("error %v: got code %q, want %q", err, got, code)
	}
}

// mustSet sets a flag in s as a test actor.
func mustSet(t testing.TB, s Store, name string, enabled bool, percent int) Flag {
	t.Helper()
	f, _, err := s.UpdateFlag(context.Background(), name, Update{Enabled: &enabled, RolloutPercentage: &percent}, "token test", "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// st is a State.
func st(enabled bool, percent int, env string) State {
	return State{Enabled: enabled, RolloutPercentage: percent, Environment: env}
}

var _ Store = (*store.Store)(nil)
