package client_test

import (
	"context"
	"errors"
	"github.com/canary-dev/canary/api"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/client"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/web"
	"github.com/canary-dev/canary/web/webtest"
)

const (
	opToken   = "op-secret-0123456789abcdef0123456789"
	viewToken = "view-secret-0123456789abcdef0123456789"
)

const testPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  featureFlag: {name: release_web}
  steps:
    - {weight: 10, hold: 1m}
    - {weight: 100}
  rules:
    - {metric: latencyP95, above: 600ms, action: rollback-gradual}
`

// serve starts the API on a fake; wrap, when given, wraps the handler.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) (*webtest.API, string) {
	t.Helper()
	fake := webtest.New()
	tk, err := web.ParseTokens("alice:operator:" + opToken + ",ci:viewer:" + viewToken)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Config{API: fake, Tokens: tk, KeepAlive: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

func newClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codeOf is err's canary code, and its *client.Error when there is one.
func codeOf(err error) (string, *client.Error) {
	var ce *client.Error
	errors.As(err, &ce)
	return canary.ErrorCode(err), ce
}

func TestRoundTrip(t *testing.T) {
	fake, url := serve(t, nil)
	c := newClient(t, url, opToken)
	ctx := t.Context()
	res, err := c.Apply(ctx, []byte(testPlan), false)
	if err != nil || !res.Created || res.Rollout.Name != "shop/web" {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if res, err = c.Apply(ctx, []byte(testPlan), false); err != nil || !res.Unchanged {
		t.Fatalf("apply again: %+v %v", res, err)
	}
	list, err := c.List(ctx, api.ListOptions{Phase: canary.PhaseProgressing, Limit: 5})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	r, err := c.Get(ctx, "shop/web")
	if err != nil || r.Generation != 1 || r.Plan.Spec.Version != "v2" {
		t.Fatalf("get: %+v %v", r, err)
	}
	evs, err := c.Events(ctx, "shop/web", 1, 1)
	if err != nil || len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("events: %+v %v", evs, err)
	}
	all, err := c.AllEvents(ctx, "shop/web", 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("all events: %d %v", len(all), err)
	}
	r, err = c.Control(ctx, "shop/web", engine.Command{Kind: engine.CmdPause, Reason: "look", Actor: "ignored"})
	if err != nil || r.State.Phase != canary.PhasePaused {
		t.Fatalf("pause: %+v %v", r.State.Phase, err)
	}
	if calls := fake.Calls(); calls[len(calls)-1] != "Control shop/web pause actor=alice" {
		t.Errorf("calls %q", calls)
	}
	md, err := c.Report(ctx, "shop/web")
	if err != nil || !strings.HasPrefix(md, "# Rollout report: shop/web v2") {
		t.Fatalf("report: %q %v", md, err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Control(ctx, "shop/web", engine.Command{Kind: engine.CmdAbort, Immediate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "shop/web"); err == nil {
		t.Fatal("deleted an active rollout")
	}
}

func TestOptionsReachTheServer(t *testing.T) {
	fake, url := serve(t, nil)
	var got engine.Command
	fake.ControlFunc = func(_ context.Context, name string, cmd engine.Command) (api.Rollout, error) {
		got = cmd
		return api.Rollout{Name: name}, nil
	}
	c := newClient(t, url, opToken)
	if _, err := c.Control(t.Context(), "web", engine.Command{Kind: engine.CmdPromote, Full: true, Reason: "ship it"}); err != nil {
		t.Fatal(err)
	}
	if want := (engine.Command{Kind: engine.CmdPromote, Full: true, Reason: "ship it", Actor: "alice"}); got != want {
		t.Errorf("command %+v, want %+v", got, want)
	}
	if _, err := c.Apply(t.Context(), []byte(testPlan), true); err != nil {
		t.Fatal(err)
	}
	if calls := fake.Calls(); calls[1] != "Apply force=true actor=alice" {
		t.Errorf("calls %q", calls)
	}
}

func TestErrors(t *testing.T) {
	_, url := serve(t, nil)
	ctx := t.Context()
	c := newClient(t, url, opToken)

	_, err := c.Get(ctx, "shop/nope")
	if code, ce := codeOf(err); code != canary.ENOTFOUND || ce == nil || ce.Status != 404 || err.Error() != "rollout shop/nope not found" {
		t.Errorf("not found: %q %v", code, err)
	}
	_, err = c.Apply(ctx, []byte(strings.Replace(testPlan, "hold: 1m", "hold: 1 minute", 1)), false)
	code, ce := codeOf(err)
	if code != canary.EINVALID || ce == nil || len(ce.Details) != 1 || !strings.Contains(ce.Details[0], "spec.steps[0].hold") {
		t.Fatalf("invalid plan: %q %#v", code, err)
	}
	if !strings.HasPrefix(err.Error(), "the plan is invalid: 1 problem\nplan:9:") {
		t.Errorf("invalid plan message %q", err.Error())
	}
	_, err = c.Get(ctx, "shop/a/b")
	if code, _ := codeOf(err); code != canary.EINVALID {
		t.Errorf("odd name: %q %v", code, err)
	}

	_, err = newClient(t, url, "").List(ctx, api.ListOptions{})
	if code, ce := codeOf(err); code != web.CodeUnauthenticated || ce.Status != 401 {
		t.Errorf("no token: %q %v", code, err)
	}
	_, err = newClient(t, url, viewToken).Control(ctx, "shop/web", engine.Command{Kind: engine.CmdPause})
	if code, _ := codeOf(err); code != web.CodeForbidden || !strings.Contains(err.Error(), "needs role operator") {
		t.Errorf("viewer: %q %v", code, err)
	}
}

func TestUnreachableAndForeignErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	_, err := newClient(t, srv.URL, opToken).Get(t.Context(), "web")
	if code, ce := codeOf(err); code != canary.EUNAVAILABLE || ce == nil || ce.Status != 502 {
		t.Errorf("proxy error: %q %v", code, err)
	}
	url := srv.URL
	srv.Close()
	_, err = newClient(t, url, opToken).Get(t.Context(), "web")
	if code, _ := codeOf(err); code != canary.EUNAVAILABLE || !strings.Contains(err.Error(), "cannot reach the canary server") {
		t.Errorf("closed server: %q %v", code, err)
	}
	if strings.Contains(err.Error(), opToken) {
		t.Error("the error shows the token")
	}
	for _, bad := range []string{"127.0.0.1:7070", "ftp://x", "http://", "http://h/?q=1", "::"} {
		if _, err := client.New(bad, "", nil); canary.ErrorCode(err) != canary.EINVALID {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
}

// TestBasePath: a server behind a path prefix works.
func TestBasePath(t *testing.T) {
	_, url := serve(t, func(h http.Handler) http.Handler { return http.StripPrefix("/canary", h) })
	c := newClient(t, url+"/canary/", opToken)
	if _, err := c.Apply(t.Context(), []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(t.Context(), "shop/web"); err != nil {
		t.Fatal(err)
	}
}

// recorder collects watched events.
type recorder struct {
	mu  sync.Mutex
	evs []canary.Event
	got chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1000)} }

func (r *recorder) add(ev canary.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// wait waits for n events in all.
func (r *recorder) wait(t *testing.T, n int) []canary.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.evs) >= n {
			evs := append([]canary.Event(nil), r.evs...)
			r.mu.Unlock()
			return evs
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("waited 5s for %d events", n)
		}
	}
}
