package flags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestRunbookCommands replays the runbook's flag commands: enable at 5%,
// 10% as a partial update, the immediate rollback, and the "flag not
// taking effect" check (GET).
func TestRunbookCommands(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		h := newHandler(t, s)
		const path = "/feature-flags/release_20250814"

		r := call(t, h, "POST", path, `{"enabled": true, "rollout_percentage": 5, "environment": "production"}`)
		wantStatus(t, r, http.StatusCreated)
		if loc := r.header.Get("Location"); loc != path {
			t.Errorf("Location %q, want %q", loc, path)
		}
		var f Flag
		r.decode(t, &f)
		if f.Name != "release_20250814" || f.State() != (st(true, 5, "production")) || f.Version != 1 || f.UpdatedBy != AnonymousActor {
			t.Errorf("created %+v", f)
		}

		r = call(t, h, "POST", path, `{"rollout_percentage": 10}`, ReasonHeader+": phase 3")
		wantStatus(t, r, http.StatusOK)
		r.decode(t, &f)
		if f.State() != (st(true, 10, "production")) || f.Version != 2 {
			t.Errorf("after the partial update: %+v", f)
		}
		// The same change again is no change: 200, same version.
		r = call(t, h, "POST", path, `{"rollout_percentage": 10}`)
		wantStatus(t, r, http.StatusOK, `"version":2`)

		r = call(t, h, "POST", path, `{"enabled": false, "rollout_percentage": 0, "reason": "ROLLBACK: P95 742ms > 600ms"}`)
		wantStatus(t, r, http.StatusOK, `"enabled":false`, `"rollout_percentage":0`)

		r = call(t, h, "GET", path, "")
		wantStatus(t, r, http.StatusOK, `"name":"release_20250814"`, `"enabled":false`, `"environment":"production"`, `"version":3`)
		if strings.Contains(r.body, "history") {
			t.Errorf("GET without ?history shows history: %s", r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}

		for _, p := range []string{path + "?history=1", path + "/history", path + "?history=true"} {
			var v flagView
			r = call(t, h, "GET", p, "")
			wantStatus(t, r, http.StatusOK)
			r.decode(t, &v)
			got := describeHistory(v.History)
			want := "v1 anonymous () new -> {true 5 production}\n" +
				"v2 anonymous (phase 3) {true 5 production} -> {true 10 production}\n" +
				"v3 anonymous (ROLLBACK: P95 742ms > 600ms) {true 10 production} -> {false 0 production}"
			if got != want {
				t.Errorf("GET %s history:\n%s\nwant:\n%s", p, got, want)
			}
			if v.Version != 3 || v.History[2].Time != v.UpdatedAt {
				t.Errorf("GET %s: version %d, last change at %v, updated at %v", p, v.Version, v.History[2].Time, v.UpdatedAt)
			}
		}
		r = call(t, h, "GET", path+"?history=1&limit=1", "")
		wantStatus(t, r, http.StatusOK, `"version":3`)
		if n := strings.Count(r.body, `"actor"`); n != 1 {
			t.Errorf("limit=1 gave %d changes: %s", n, r.body)
		}

		call(t, h, "POST", "/feature-flags/a_first", `{"enabled": true}`)
		var l listView
		r = call(t, h, "GET", "/feature-flags", "")
		wantStatus(t, r, http.StatusOK)
		r.decode(t, &l)
		if len(l.Flags) != 2 || l.Flags[0].Name != "a_first" || l.Flags[1].Name != "release_20250814" {
			t.Errorf("list: %+v", l)
		}
		if call(t, h, "GET", "/feature-flags/", "").body != r.body {
			t.Error("GET /feature-flags/ differs from GET /feature-flags")
		}
	})
}

func describeHistory(h []Change) string {
	var lines []string
	for _, c := range h {
		before := "new"
		if c.Before != nil {
			before = fmt.Sprint(*c.Before)
		}
		lines = append(lines, fmt.Sprintf("v%d %s (%s) %s -> %v", c.Version, c.Actor, c.Reason, before, c.After))
	}
	return strings.Join(lines, "\n")
}

func TestEmptyList(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		wantStatus(t, call(t, newHandler(t, s), "GET", "/feature-flags", ""), http.StatusOK, `{"flags":[]}`)
	})
}

// TestBadRequests: every refusal says what is wrong, and nothing is
// written.
func TestBadRequests(t *testing.T) {
	const path = "/feature-flags/release_20250814"
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		want                     []string
	}{
		{"unknown field", "POST", path, `{"enabled": true, "rollout_percent": 5}`, nil, 400,
			[]string{`"code":"invalid"`, `\"rollout_percent\": unknown field: the fields are enabled, rollout_percentage, environment and reason`}},
		{"percentage above 100", "POST", path, `{"enabled": true, "rollout_percentage": 101}`, nil, 400,
			[]string{"rollout_percentage 101 is out of range: write a whole number from 0 to 100"}},
		{"negative percentage", "POST", path, `{"rollout_percentage": -5}`, nil, 400,
			[]string{"rollout_percentage -5 is out of range"}},
		{"fractional percentage", "POST", path, `{"rollout_percentage": 5.5}`, nil, 400,
			[]string{`\"rollout_percentage\": 5.5 is not a whole number from 0 to 100`}},
		// 10.0 equals 10, but the API takes whole numbers only.
		{"percentage with a fraction part", "POST", path, `{"rollout_percentage": 10.0}`, nil, 400,
			[]string{"10.0 is not a whole number"}},
		{"percentage as a string", "POST", path, `{"rollout_percentage": "10"}`, nil, 400,
			[]string{`\"10\" is not a whole number`}},
		{"huge percentage", "POST", path, `{"rollout_percentage": 99999999999999999999999}`, nil, 400,
			[]string{"is not a whole number from 0 to 100"}},
		{"enabled as a string", "POST", path, `{"enabled": "yes"}`, nil, 400,
			[]string{`\"enabled\": \"yes\" is not true or false`}},
		{"null field", "POST", path, `{"enabled": null}`, nil, 400, []string{"null is not true or false"}},
		{"several problems at once", "POST", path, `{"enabled": 1, "percent": 5}`, nil, 400,
			[]string{`\"enabled\": 1 is not true or false; \"percent\": unknown field`}},
		{"empty body", "POST", path, ``, nil, 400, []string{"the body is empty: send a JSON object"}},
		{"empty object", "POST", path, `{}`, nil, 400, []string{"nothing to change"}},
		{"not JSON", "POST", path, `enabled=true`, nil, 400, []string{"the body is not a JSON object (invalid character"}},
		{"truncated JSON", "POST", path, `{"enabled": true`, nil, 400, []string{"it ends too early"}},
		{"array", "POST", path, `[{"enabled": true}]`, nil, 400, []string{"it is a JSON array"}},
		{"null body", "POST", path, `null`, nil, 400, []string{"it is null"}},
		{"two objects", "POST", path, `{"enabled": true} {"enabled": false}`, nil, 400, []string{"more after its JSON object"}},
		{"empty environment", "POST", path, `{"environment": ""}`, nil, 400, []string{`environment \"\" is not valid`}},
		{"form body", "POST", path, `enabled=true`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415,
			[]string{`send the header \"Content-Type: application/json\"`}},
		{"bad flag name", "POST", "/feature-flags/-x", `{"enabled": true}`, nil, 400, []string{`flag name \"-x\" is not valid`}},
		{"too large", "POST", path, `{"reason": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, nil, 413,
			[]string{`"code":"too_large"`}},
		{"reason too long", "POST", path, `{"enabled": true, "reason": "` + strings.Repeat("x", 1001) + `"}`, nil, 400,
			[]string{"reason is 1001 bytes long"}},
		{"unknown flag", "GET", "/feature-flags/nope", "", nil, 404, []string{`"code":"not_found"`, "flag nope not found"}},
		{"history of an unknown flag", "GET", "/feature-flags/nope/history", "", nil, 404, []string{"flag nope not found"}},
		{"bad history parameter", "GET", path + "?history=maybe", "", nil, 400, []string{`history=\"maybe\" is not a boolean`}},
		{"bad limit", "GET", path + "?history=1&limit=-1", "", nil, 400, []string{"limit="}},
		{"wrong method", "DELETE", path, "", nil, 405, []string{"DELETE is not allowed here: use GET, HEAD, POST"}},
		{"unknown path", "GET", "/feature-flags/a/b/c", "", nil, 404, []string{"no such path"}},
	}
	eachStore(t, func(t *testing.T, s Store) {
		h := newHandler(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := call(t, h, tt.method, tt.path, tt.body, tt.headers...)
				wantStatus(t, r, tt.status, tt.want...)
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
		if r := call(t, h, "DELETE", path, ""); r.header.Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("405 Allow %q", r.header.Get("Allow"))
		}
		if fl, _ := s.ListFlags(context.Background()); len(fl) != 0 {
			t.Errorf("refused requests wrote flags: %+v", fl)
		}
	})
}

// TestAuthorize checks 401, 403, that reads and writes are told apart,
// and that the token's actor is recorded with the reason.
func TestAuthorize(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		var writes []bool
		h, err := NewHandler(Config{Store: s, Authorize: func(r *http.Request, write bool) (string, error) {
			writes = append(writes, write)
			switch r.Header.Get("Authorization") {
			case "Bearer ops-secret":
				return "token ops", nil
			case "Bearer viewer-secret":
				if write {
					return "", fmt.Errorf("token viewer is read-only: %w", ErrForbidden)
				}
				return "token viewer", nil
			case "Bearer down":
				return "", canary.Errorf(canary.EUNAVAILABLE, "token store unavailable")
			}
			return "", errors.New("a bearer token is required")
		}})
		if err != nil {
			t.Fatal(err)
		}
		const path = "/feature-flags/f"
		r := call(t, h, "POST", path, `{"enabled": true}`)
		wantStatus(t, r, http.StatusUnauthorized, `"code":"unauthorized"`, "a bearer token is required")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		wantStatus(t, call(t, h, "POST", path, `{"enabled": true}`, "Authorization: Bearer viewer-secret"),
			http.StatusForbidden, "token viewer is read-only")
		wantStatus(t, call(t, h, "GET", path, "", "Authorization: Bearer down"), http.StatusServiceUnavailable, "token store unavailable")
		wantStatus(t, call(t, h, "POST", "/ofrep/v1/evaluate/flags/f", `{}`), http.StatusUnauthorized)

		wantStatus(t, call(t, h, "POST", path, `{"enabled": true, "rollout_percentage": 5, "reason": "phase 1"}`,
			"Authorization: Bearer ops-secret"), http.StatusCreated, `"updated_by":"token ops"`)
		wantStatus(t, call(t, h, "POST", path, `{"rollout_percentage": 10}`,
			"Authorization: Bearer ops-secret", ReasonHeader+": phase 3"), http.StatusOK)
		r = call(t, h, "GET", path+"/history", "", "Authorization: Bearer viewer-secret")
		wantStatus(t, r, http.StatusOK)
		var v flagView
		r.decode(t, &v)
		want := "v1 token ops (phase 1) new -> {true 5 production}\nv2 token ops (phase 3) {true 5 production} -> {true 10 production}"
		if got := describeHistory(v.History); got != want {
			t.Errorf("history:\n%s\nwant:\n%s", got, want)
		}
		wantWrites := []bool{true, true, false, false, true, true, false}
		if fmt.Sprint(writes) != fmt.Sprint(wantWrites) {
			t.Errorf("Authorize write flags %v, want %v", writes, wantWrites)
		}
	})
}

func TestNewHandlerNeedsStore(t *testing.T) {
	_, err := NewHandler(Config{})
	wantCode(t, err, canary.EINVALID)
}

// failingStore fails every call with err.
type failingStore struct{ err error }

func (f failingStore) GetFlag(context.Context, string) (Flag, error)              { return Flag{}, f.err }
func (f failingStore) ListFlags(context.Context) ([]Flag, error)                  { return nil, f.err }
func (f failingStore) FlagHistory(context.Context, string, int) ([]Change, error) { return nil, f.err }
func (f failingStore) UpdateFlag(context.Context, string, Update, string, string) (Flag, bool, error) {
	return Flag{}, false, f.err
}

// TestStoreFailures: a store that is unavailable answers 503 with its
// message; an unexpected error answers 500 without leaking it.
func TestStoreFailures(t *testing.T) {
	h, _ := NewHandler(Config{Store: failingStore{canary.Errorf(canary.EUNAVAILABLE, "state database unavailable (disk full)")}})
	wantStatus(t, call(t, h, "POST", "/feature-flags/f", `{"enabled": true}`), 503, "disk full")
	wantStatus(t, call(t, h, "GET", "/feature-flags", ""), 503, "disk full")
	wantStatus(t, call(t, h, "POST", "/ofrep/v1/evaluate/flags/f", `{}`), 500, `"errorDetails":"state database unavailable (disk full)"`)

	h, _ = NewHandler(Config{Store: failingStore{errors.New("sql: connection /var/lib/secret.db broken")}})
	r := call(t, h, "GET", "/feature-flags/f", "")
	wantStatus(t, r, 500, `"code":"internal"`)
	if strings.Contains(r.body, "secret.db") {
		t.Errorf("500 leaks the internal error: %s", r.body)
	}
}
