package flags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
)

// flagService is a second flag service: a Handler over its own store that
// wants a bearer token, behind a recorder of requests.
type flagService struct {
	store Store
	srv   *httptest.Server
	mu    sync.Mutex
	log   []string // "POST /feature-flags/f"
}

func newFlagService(t *testing.T, s Store, token string) *flagService {
	t.Helper()
	h, err := NewHandler(Config{Store: s, Authorize: func(r *http.Request, write bool) (string, error) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			return "", errors.New("wrong or missing bearer token")
		}
		return "token canary", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	fs := &flagService{store: s}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.log = append(fs.log, r.Method+" "+r.URL.Path)
		fs.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *flagService) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string{}, fs.log...)
}

// TestClientLockstep moves a flag on a second flag service the way a
// rollout does (5, 10, 25, 50, 100, then the rollback's disable), each set
// confirmed by a read-back, with the token from the environment.
func TestClientLockstep(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		fs := newFlagService(t, s, "s3cr3t-token")
		t.Setenv("CANARY_TEST_FLAG_TOKEN", "s3cr3t-token")
		c, err := NewClient(t.Context(), ClientConfig{URL: fs.srv.URL + "/", Token: "env:CANARY_TEST_FLAG_TOKEN", Rollout: "shop/checkout"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		steps := []struct {
			enabled bool
			percent int
		}{{true, 5}, {true, 10}, {true, 25}, {true, 50}, {true, 100}, {false, 0}}
		for _, st := range steps {
			if err := c.SetFlag(ctx, "release_20250814", st.enabled, st.percent); err != nil {
				t.Fatalf("set %v %d%%: %v", st.enabled, st.percent, err)
			}
			f, err := s.GetFlag(ctx, "release_20250814")
			if err != nil || f.Enabled != st.enabled || f.RolloutPercentage != st.percent || f.Environment != "production" {
				t.Fatalf("after set %v %d%%: the service holds %+v, %v", st.enabled, st.percent, f, err)
			}
		}
		// Each set is a POST followed by its read-back.
		reqs := fs.requests()
		if len(reqs) != 2*len(steps) {
			t.Fatalf("requests %v", reqs)
		}
		for i := 0; i < len(reqs); i += 2 {
			if reqs[i] != "POST /feature-flags/release_20250814" || reqs[i+1] != "GET /feature-flags/release_20250814" {
				t.Fatalf("requests %d, %d: %s, %s; want POST then GET", i, i+1, reqs[i], reqs[i+1])
			}
		}
		h, err := s.FlagHistory(ctx, "release_20250814", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := "v1 token canary (rollout shop/checkout: set to 5%) new -> {true 5 production}\n" +
			"v2 token canary (rollout shop/checkout: set to 10%) {true 5 production} -> {true 10 production}\n" +
			"v3 token canary (rollout shop/checkout: set to 25%) {true 10 production} -> {true 25 production}\n" +
			"v4 token canary (rollout shop/checkout: set to 50%) {true 25 production} -> {true 50 production}\n" +
			"v5 token canary (rollout shop/checkout: set to 100%) {true 50 production} -> {true 100 production}\n" +
			"v6 token canary (rollout shop/checkout: disable (rollout percentage 0%)) {true 100 production} -> {false 0 production}"
		if got := describeHistory(h); got != want {
			t.Errorf("history:\n%s\nwant:\n%s", got, want)
		}
		// A reason from the context is sent instead.
		if err := c.SetFlag(WithReason(ctx, "ROLLBACK: errorRate 6% > 5% for 1m"), "release_20250814", true, 5); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.FlagHistory(ctx, "release_20250814", 1); len(h) != 1 || h[0].Reason != "ROLLBACK: errorRate 6% > 5% for 1m" {
			t.Errorf("last change %+v", h)
		}
	})
}

// TestClientEnvironmentAndFileToken: the environment is sent, and a file
// token is read at every request (a rotated secret is picked up).
func TestClientEnvironmentAndFileToken(t *testing.T) {
	s := &Memory{}
	fs := newFlagService(t, s, "new-token")
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("old-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(t.Context(), ClientConfig{URL: fs.srv.URL, Token: canary.SecretRef("file:" + path), Environment: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetFlag(context.Background(), "f", true, 5)
	wantCode(t, err, canary.EINVALID)
	if !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "check featureFlag.token") ||
		strings.Contains(err.Error(), "old-token") {
		t.Errorf("wrong token: %v", err)
	}
	if err := os.WriteFile(path, []byte("new-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.SetFlag(context.Background(), "f", true, 5); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Get("f"); f.State() != st(true, 5, "staging") {
		t.Errorf("flag %+v", f)
	}
}

// TestClientFailures: every way a flag service can fail to apply a change
// is an error, never a silent success.
func TestClientFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    string
		want    []string
	}{
		{"answers 200 but does not apply the change", func(w http.ResponseWriter, r *http.Request) {
			// POST is acknowledged with the requested state; GET shows
			// that nothing changed.
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodPost {
				fmt.Fprint(w, `{"name": "f", "enabled": true, "rollout_percentage": 10, "environment": "production"}`)
				return
			}
			fmt.Fprint(w, `{"name": "f", "enabled": true, "rollout_percentage": 5, "environment": "production"}`)
		}, canary.EUNAVAILABLE, []string{"flag f did not take effect in ", "/feature-flags/f: set enabled 10% (production), read back enabled 5% (production)"}},
		{"keeps another environment", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"enabled": true, "rollout_percentage": 10, "environment": "staging"}`)
		}, canary.EUNAVAILABLE, []string{"read back enabled 10% (staging)"}},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database is down", http.StatusInternalServerError)
		}, canary.EUNAVAILABLE, []string{"flag service answered 500 Internal Server Error to POST", "database is down"}},
		{"rejects the body", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error": "unknown field"}`, http.StatusBadRequest)
		}, canary.EINVALID, []string{"400 Bad Request", "unknown field"}},
		{"flag missing on read-back", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				http.NotFound(w, r)
			}
		}, canary.ENOTFOUND, []string{"read back flag f after setting it", "the flag does not exist there"}},
		{"read-back is not a flag", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"status": "ok"}`)
		}, canary.EUNAVAILABLE, []string{"answered without enabled and rollout_percentage", `{"status": "ok"}`}},
		{"read-back is not JSON", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<html>login</html>`)
		}, canary.EUNAVAILABLE, []string{"answered a body that is not a flag"}},
		{"redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login", http.StatusFound)
		}, canary.EINVALID, []string{`302 Found`, `redirected to "/login"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c, err := NewClient(t.Context(), ClientConfig{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			err = c.SetFlag(ctx, "f", true, 10)
			if err == nil {
				t.Fatal("no error")
			}
			wantCode(t, err, tt.code)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestClientServiceDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewClient(t.Context(), ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetFlag(context.Background(), "release_20250814", true, 5)
	wantCode(t, err, canary.EUNAVAILABLE)
	if !strings.Contains(err.Error(), "flag service unreachable: POST "+url+"/feature-flags/release_20250814") {
		t.Errorf("got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SetFlag(ctx, "release_20250814", true, 5); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

func TestNewClientRefuses(t *testing.T) {
	t.Setenv("CANARY_TEST_EMPTY", "")
	tests := []struct {
		name string
		cfg  ClientConfig
		want string
	}{
		{"no URL", ClientConfig{}, "is not an http(s) URL"},
		{"not http", ClientConfig{URL: "ftp://flags"}, "is not an http(s) URL"},
		{"credentials in the URL", ClientConfig{URL: "http://u:p@flags"}, "remove the user and password"},
		{"query", ClientConfig{URL: "http://flags?x=1"}, "remove the query"},
		{"unset token variable", ClientConfig{URL: "http://flags", Token: "env:CANARY_TEST_UNSET_TOKEN"},
			"featureFlag.token: secret env:CANARY_TEST_UNSET_TOKEN: the environment variable CANARY_TEST_UNSET_TOKEN is not set"},
		{"empty token variable", ClientConfig{URL: "http://flags", Token: "env:CANARY_TEST_EMPTY"}, "env:CANARY_TEST_EMPTY is empty"},
		{"missing token file", ClientConfig{URL: "http://flags", Token: "file:/nonexistent/token"}, "secret file:/nonexistent/token: no such file"},
		{"literal token", ClientConfig{URL: "http://flags", Token: "hunter2"}, "not a secret reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(t.Context(), tt.cfg)
			wantCode(t, err, canary.EINVALID)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestBuiltin(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		b := &Builtin{Store: s, Actor: "rollout shop/checkout", Environment: "production"}
		for _, p := range []int{5, 10} {
			if err := b.SetFlag(ctx, "release_20250814", true, p); err != nil {
				t.Fatal(err)
			}
		}
		// Replayed after a restart: no new history.
		if err := b.SetFlag(ctx, "release_20250814", true, 10); err != nil {
			t.Fatal(err)
		}
		if err := b.SetFlag(WithReason(ctx, "ROLLBACK: latencyP95 742ms > 600ms for 5m"), "release_20250814", false, 0); err != nil {
			t.Fatal(err)
		}
		h, err := s.FlagHistory(ctx, "release_20250814", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := "v1 rollout shop/checkout (set to 5%) new -> {true 5 production}\n" +
			"v2 rollout shop/checkout (set to 10%) {true 5 production} -> {true 10 production}\n" +
			"v3 rollout shop/checkout (ROLLBACK: latencyP95 742ms > 600ms for 5m) {true 10 production} -> {false 0 production}"
		if got := describeHistory(h); got != want {
			t.Errorf("history:\n%s\nwant:\n%s", got, want)
		}
		err = b.SetFlag(ctx, "release_20250814", true, 101)
		wantCode(t, err, canary.EINVALID)
	})
}

func TestMemorySetFlag(t *testing.T) {
	m := &Memory{}
	if err := m.SetFlag(context.Background(), "f", true, 25); err != nil {
		t.Fatal(err)
	}
	f, ok := m.Get("f")
	if !ok || f.State() != st(true, 25, "production") || f.UpdatedBy != MemoryActor {
		t.Errorf("got %+v %v", f, ok)
	}
	wantCode(t, m.SetFlag(context.Background(), "f", true, -1), canary.EINVALID)
	if _, err := m.FlagHistory(context.Background(), "g", 0); canary.ErrorCode(err) != canary.ENOTFOUND {
		t.Errorf("history of a missing flag: %v", err)
	}
}

func TestNewSetter(t *testing.T) {
	m := &Memory{}
	fs, err := NewSetter(t.Context(), &canary.FeatureFlag{Name: "f", Environment: "staging"}, SetterConfig{Rollout: "shop/checkout", Store: m})
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := fs.(*Builtin); !ok || b.Actor != "rollout shop/checkout" || b.Environment != "staging" {
		t.Errorf("builtin: got %#v", fs)
	}
	fs, err = NewSetter(t.Context(), &canary.FeatureFlag{Name: "f", Provider: "http", URL: "http://flags.example"}, SetterConfig{Rollout: "shop/checkout"})
	if _, ok := fs.(*Client); err != nil || !ok {
		t.Errorf("http: got %#v, %v", fs, err)
	}
	_, err = NewSetter(t.Context(), &canary.FeatureFlag{Name: "f", Provider: "launchdarkly"}, SetterConfig{Store: m})
	wantCode(t, err, canary.EINVALID)
	_, err = NewSetter(t.Context(), &canary.FeatureFlag{Name: "f", Provider: "http"}, SetterConfig{})
	wantCode(t, err, canary.EINVALID)
	_, err = NewSetter(t.Context(), &canary.FeatureFlag{Name: "f"}, SetterConfig{})
	wantCode(t, err, canary.EINTERNAL)
}
