package web_test

import (
	"context"
	"errors"
	"github.com/canary-dev/canary/api"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/web"
	"github.com/canary-dev/canary/web/webtest"
)

// TestAuth: every route asks for the right role, and says what is missing.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.applied()
	reads := []string{"GET /api/v1/rollouts", "GET /api/v1/rollouts/default/web",
		"GET /api/v1/rollouts/default/web/events", "GET /api/v1/rollouts/default/web/report", "GET /metrics"}
	writes := []string{"POST /api/v1/rollouts", "DELETE /api/v1/rollouts/default/web",
		"POST /api/v1/rollouts/default/web/pause", "POST /api/v1/rollouts/default/web/resume",
		"POST /api/v1/rollouts/default/web/promote", "POST /api/v1/rollouts/default/web/approve",
		"POST /api/v1/rollouts/default/web/abort", "POST /api/v1/rollouts/default/web/retry"}
	before := len(e.api.Calls())
	for _, route := range append(append([]string{}, reads...), writes...) {
		method, path, _ := strings.Cut(route, " ")
		t.Run(route, func(t *testing.T) {
			r := e.do(method, path, "", "")
			want(t, r, http.StatusUnauthorized, web.CodeUnauthenticated)
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="canary"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if msg := errorOf(t, r).Message; !strings.Contains(msg, "needs a bearer token") {
				t.Errorf("401 message %q does not say a token is needed", msg)
			}
			r = e.do(method, path, "not-a-token-of-this-server", "")
			want(t, r, http.StatusUnauthorized, web.CodeUnauthenticated)
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			r = e.do(method, path, "", "", "Authorization", "Basic YWxpY2U6c2VjcmV0")
			want(t, r, http.StatusUnauthorized, web.CodeUnauthenticated)
		})
	}
	for _, route := range writes {
		method, path, _ := strings.Cut(route, " ")
		r := e.do(method, path, viewToken, testPlan)
		want(t, r, http.StatusForbidden, web.CodeForbidden)
		if msg := errorOf(t, r).Message; !strings.Contains(msg, "token ci has role viewer") || !strings.Contains(msg, "needs role operator") {
			t.Errorf("%s: 403 message %q does not name the role needed", route, msg)
		}
		// The request as sent, not the route template ({namespace}/{name}).
		if msg := errorOf(t, r).Message; !strings.Contains(msg, "; "+route+" needs role") {
			t.Errorf("%s: 403 message %q does not quote the request", route, msg)
		}
	}
	if got := e.api.Calls()[before:]; len(got) != 0 {
		t.Errorf("refused requests reached the manager: %q", got)
	}
	for _, route := range reads {
		method, path, _ := strings.Cut(route, " ")
		want(t, e.do(method, path, viewToken, ""), http.StatusOK, "")
		want(t, e.do(method, path, opToken, ""), http.StatusOK, "")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		want(t, e.do("GET", p, "", ""), http.StatusOK, "")
	}
}

func TestAuthGoldens(t *testing.T) {
	e := newEnv(t)
	golden(t, "error_unauthenticated.json", e.do("GET", "/api/v1/rollouts", "", "").body)
	golden(t, "error_forbidden.json", e.do("POST", "/api/v1/rollouts/default/web/pause", viewToken, "").body)
}

// TestActor: the token's name is the command's actor, whatever the body.
func TestActor(t *testing.T) {
	e := newEnv(t)
	e.applied()
	r := e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, `{"reason":"looking at the dashboards"}`)
	want(t, r, http.StatusOK, "")
	want(t, e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, `{"actor":"mallory"}`),
		http.StatusBadRequest, canary.EINVALID)
	evs, _ := e.api.Events(t.Context(), "default/web", 0, 0)
	var cmd *canary.Event
	for i := range evs {
		if evs[i].Type == canary.EvCommand {
			cmd = &evs[i]
		}
	}
	if cmd == nil || cmd.Actor != "alice" || cmd.Message != "pause by alice: looking at the dashboards" {
		t.Fatalf("command event %+v", cmd)
	}
}

func TestNoTokensRefused(t *testing.T) {
	fake := webtest.New()
	if _, err := web.New(web.Config{API: fake}); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("New without tokens: %v, want a refusal naming --insecure", err)
	}
	empty, _ := web.ParseTokens("")
	if _, err := web.New(web.Config{API: fake, Tokens: empty}); err == nil {
		t.Fatal("New with an empty token list: want a refusal")
	}
	if _, err := web.New(web.Config{Tokens: tokens(t)}); err == nil {
		t.Fatal("New without an API: want a refusal")
	}
	e := newEnv(t, func(c *web.Config) { c.Tokens, c.Insecure = nil, true })
	e.applied()
	if calls := e.api.Calls(); calls[0] != "Apply force=false actor=anonymous" {
		t.Errorf("insecure actor: %q", calls)
	}
}

// TestOddNames: names that are not DNS labels are 400 before the manager
// sees them, and the server stays up.
func TestOddNames(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 10000)
	paths := []string{
		"/api/v1/rollouts/default/a%2Fb",
		"/api/v1/rollouts/a%2F..%2F..%2Fetc/web",
		"/api/v1/rollouts/%2e%2e/web",
		"/api/v1/rollouts/default/..%2f..%2fetc%2fpasswd",
		"/api/v1/rollouts/default/" + long,
		"/api/v1/rollouts/" + long + "/web/events",
		"/api/v1/rollouts/Default/web",
		"/api/v1/rollouts/default/-web",
		"/api/v1/rollouts/default/web-",
		"/api/v1/rollouts/default/we.b",
		"/api/v1/rollouts/default/w%C3%A9b",
		"/api/v1/rollouts/default/web%00",
		"/api/v1/rollouts/default/%20",
		"/api/v1/rollouts/default/web%0Aevil",
		"/api/v1/rollouts/default/web/../../../../etc/passwd",
		"/api/v1/rollouts/default//web",
	}
	valid := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	for _, p := range paths {
		for _, m := range []string{"GET", "DELETE"} {
			r := e.do(m, p, opToken, "")
			if r.status < 400 || r.status >= 500 {
				t.Errorf("%s %.80s: status %d, want 4xx", m, p, r.status)
				continue
			}
			if len(r.body) > 1000 {
				t.Errorf("%s %.80s: %d-byte error echoes the input", m, p, len(r.body))
			}
		}
		if r := e.do("POST", p+"/pause", opToken, ""); r.status < 400 || r.status >= 500 {
			t.Errorf("POST %.80s/pause: status %d, want 4xx", p, r.status)
		}
	}
	r := e.do("GET", "/api/v1/rollouts/default/"+long, opToken, "")
	want(t, r, http.StatusBadRequest, canary.EINVALID)
	if msg := errorOf(t, r).Message; msg != "the name is 10000 bytes long; at most 63 (a DNS label)" {
		t.Errorf("message %q", msg)
	}
	for _, c := range e.api.Calls() {
		if verb, name, ok := strings.Cut(c, " "); ok && verb != "Apply" && verb != "List" && !valid.MatchString(strings.Fields(name)[0]) {
			t.Errorf("the manager was called with an odd name: %.100q", c)
		}
	}
	want(t, e.do("GET", "/healthz", "", ""), http.StatusOK, "")
}

// TestErrorMapping: each code has its status; other errors are a 500
// that shows nothing internal; a panic is a 500 and the server goes on.
func TestErrorMapping(t *testing.T) {
	e := newEnv(t)
	var fail error
	e.api.GetFunc = func(context.Context, string) (api.Rollout, error) { return api.Rollout{}, fail }
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{canary.Errorf(canary.EINVALID, "bad"), 400, canary.EINVALID},
		{canary.Errorf(canary.ENOTFOUND, "no"), 404, canary.ENOTFOUND},
		{canary.Errorf(canary.ECONFLICT, "busy"), 409, canary.ECONFLICT},
		{canary.Errorf(canary.EUNAVAILABLE, "store down"), 503, canary.EUNAVAILABLE},
		{canary.Errorf(canary.EINTERNAL, "bug"), 500, canary.EINTERNAL},
		{canary.Errorf("weird", "odd code"), 500, canary.EINTERNAL},
		{errors.New("sqlite: /var/lib/canary/db locked"), 500, canary.EINTERNAL},
	}
	for _, tt := range tests {
		fail = tt.err
		r := e.do("GET", "/api/v1/rollouts/default/web", viewToken, "")
		want(t, r, tt.status, tt.code)
		if strings.Contains(string(r.body), "/var/lib") {
			t.Errorf("internal detail leaked: %s", r.body)
		}
	}
	e.api.GetFunc = func(context.Context, string) (api.Rollout, error) { panic("boom") }
	want(t, e.do("GET", "/api/v1/rollouts/default/web", viewToken, ""), http.StatusInternalServerError, canary.EINTERNAL)
	want(t, e.do("GET", "/healthz", "", ""), http.StatusOK, "")
	if !strings.Contains(e.log.String(), "panic in handler") {
		t.Errorf("the panic was not logged:\n%s", e.log.String())
	}
}

// TestControls: each command reaches the manager with its options; wrong
// phases are 409; bad bodies are 400.
func TestControls(t *testing.T) {
	e := newEnv(t)
	e.applied()
	var got []engine.Command
	e.api.ControlFunc = func(_ context.Context, name string, cmd engine.Command) (api.Rollout, error) {
		got = append(got, cmd)
		return e.api.Get(context.Background(), name)
	}
	for _, c := range []struct{ path, body string }{
		{"pause", ""}, {"resume", "{}"}, {"promote", `{"full":true}`}, {"approve", "null"},
		{"abort", `{"immediate":true,"reason":"p95 too high"}`}, {"retry", " "},
	} {
		want(t, e.do("POST", "/api/v1/rollouts/default/web/"+c.path, opToken, c.body, "Content-Type", "application/json"),
			http.StatusOK, "")
	}
	wantCmds := []engine.Command{{Kind: "pause", Actor: "alice"}, {Kind: "resume", Actor: "alice"},
		{Kind: "promote", Full: true, Actor: "alice"}, {Kind: "approve", Actor: "alice"},
		{Kind: "abort", Immediate: true, Actor: "alice", Reason: "p95 too high"}, {Kind: "retry", Actor: "alice"}}
	if len(got) != len(wantCmds) {
		t.Fatalf("commands %+v", got)
	}
	for i := range got {
		if got[i] != wantCmds[i] {
			t.Errorf("command %d: %+v, want %+v", i, got[i], wantCmds[i])
		}
	}
	e.api.ControlFunc = nil
	r := e.do("POST", "/api/v1/rollouts/default/web/resume", opToken, "")
	want(t, r, http.StatusConflict, canary.ECONFLICT)
	if msg := errorOf(t, r).Message; !strings.Contains(msg, "cannot resume rollout web") {
		t.Errorf("conflict message %q", msg)
	}
	want(t, e.do("POST", "/api/v1/rollouts/default/nope/pause", opToken, ""), http.StatusNotFound, canary.ENOTFOUND)
}

func TestControlBadBodies(t *testing.T) {
	e := newEnv(t)
	e.applied()
	bodies := map[string]string{
		"unknown field":  `{"full":true,"force":1}`,
		"full on pause":  `{"full":true}`,
		"wrong type":     `{"reason":42}`,
		"array":          `[]`,
		"string":         `"pause"`,
		"two values":     `{} {}`,
		"truncated":      `{"reason":"x`,
		"not json":       `reason=x`,
		"long reason":    `{"reason":"` + strings.Repeat("r", 2000) + `"}`,
		"newline reason": `{"reason":"a\nb"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, body)
			want(t, r, http.StatusBadRequest, canary.EINVALID)
			if len(r.body) > 600 {
				t.Errorf("%d-byte error", len(r.body))
			}
		})
	}
	want(t, e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, `{}`, "Content-Type", "text/html"),
		http.StatusUnsupportedMediaType, canary.EINVALID)
	want(t, e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, `{"reason":"`+strings.Repeat("r", 20000)+`"}`),
		http.StatusRequestEntityTooLarge, canary.EINVALID)
	r := e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, `{"colour":"red"}`)
	if msg := errorOf(t, r).Message; msg != `the body is not a valid command: unknown field "colour" (a command takes full, immediate and reason)` {
		t.Errorf("message %q", msg)
	}
}
