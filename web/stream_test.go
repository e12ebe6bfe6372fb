package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/web"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	id, typ, data string
}

// sseStream reads a stream line by line on its own goroutine.
type sseStream struct {
	t      testing.TB
	resp   *http.Response
	cancel context.CancelFunc
	lines  chan string
}

// openStream GETs path as a viewer with extra headers (name/value pairs).
func (e *env) openStream(path string, hdr ...string) *sseStream {
	e.t.Helper()
	return e.openStreamAs(viewToken, path, hdr...)
}

// openStreamAs GETs path with token.
func (e *env) openStreamAs(token, path string, hdr ...string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	s := &sseStream{t: e.t, resp: resp, cancel: cancel, lines: make(chan string, 1000)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	e.t.Cleanup(func() { cancel(); resp.Body.Close() })
	return s
}

// line returns the next line, failing after a few seconds.
func (s *sseStream) line() (string, bool) {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		return l, ok
	case <-time.After(5 * time.Second):
		s.t.Fatal("no line from the stream in 5s")
		return "", false
	}
}

// next returns the next event, skipping comments and the retry field.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	var ev sseEvent
	for {
		l, ok := s.line()
		if !ok {
			s.t.Fatal("the stream ended")
		}
		switch {
		case l == "" && ev.typ != "":
			return ev
		case strings.HasPrefix(l, "id: "):
			ev.id = l[4:]
		case strings.HasPrefix(l, "event: "):
			ev.typ = l[7:]
		case strings.HasPrefix(l, "data: "):
			ev.data = l[6:]
		}
	}
}

func (s *sseStream) nextEvent() canary.Event {
	s.t.Helper()
	raw := s.next()
	var ev canary.Event
	if err := json.Unmarshal([]byte(raw.data), &ev); err != nil {
		s.t.Fatalf("event data %q: %v", raw.data, err)
	}
	if raw.id != strconv.FormatInt(ev.Seq, 10) || raw.typ != string(ev.Type) {
		s.t.Errorf("id %q event %q for seq %d type %s", raw.id, raw.typ, ev.Seq, ev.Type)
	}
	return ev
}

func TestStreamInOrderThenLive(t *testing.T) {
	e := newEnv(t)
	e.applied()
	old, _ := e.api.Events(t.Context(), "default/web", 0, 0)
	s := e.openStream("/api/v1/rollouts/default/web/events/stream")
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	for i := range old {
		if ev := s.nextEvent(); ev.Seq != old[i].Seq || ev.Type != old[i].Type {
			t.Fatalf("event %d: %d %s, want %d %s", i, ev.Seq, ev.Type, old[i].Seq, old[i].Type)
		}
	}
	n := int64(len(old))
	for i := range 30 {
		e.api.Append("default/web", canary.Event{Type: canary.EvEvaluated, Message: "live " + strconv.Itoa(i)})
	}
	for i := range 30 {
		ev := s.nextEvent()
		if ev.Seq != n+int64(i)+1 || ev.Message != "live "+strconv.Itoa(i) {
			t.Fatalf("live event %d: %+v", i, ev)
		}
	}
}

func TestStreamResumes(t *testing.T) {
	e := newEnv(t)
	e.applied()
	for range 5 {
		e.api.Append("default/web", canary.Event{Type: canary.EvEvaluated})
	}
	s := e.openStream("/api/v1/rollouts/default/web/events/stream", "Last-Event-ID", "3")
	if ev := s.nextEvent(); ev.Seq != 4 {
		t.Errorf("after Last-Event-ID 3: first seq %d, want 4", ev.Seq)
	}
	s = e.openStream("/api/v1/rollouts/default/web/events/stream?after=2")
	if ev := s.nextEvent(); ev.Seq != 3 {
		t.Errorf("after=2: first seq %d, want 3", ev.Seq)
	}
	s = e.openStream("/api/v1/rollouts/default/web/events/stream?after=1", "Last-Event-ID", "4")
	if ev := s.nextEvent(); ev.Seq != 5 {
		t.Errorf("Last-Event-ID wins over after: first seq %d, want 5", ev.Seq)
	}
}

// TestStreamEndsWhenClientGoes: the handler returns (its subscription is
// cancelled, the gauge drops) when the client disconnects.
func TestStreamEndsWhenClientGoes(t *testing.T) {
	e := newEnv(t)
	e.applied()
	s := e.openStream("/api/v1/rollouts/default/web/events/stream")
	s.nextEvent()
	if n := e.api.Subscribers("default/web"); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	s.cancel()
	canarytest.WaitUntil(t, 5*time.Second, "the stream handler returned after the client went away", func() bool {
		return e.api.Subscribers("default/web") == 0
	})
	canarytest.WaitUntil(t, 5*time.Second, "the streams gauge back to 0", func() bool {
		return strings.Contains(e.metrics(), "canary_http_event_streams 0")
	})
}

func TestStreamKeepAlive(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.KeepAlive = 10 * time.Millisecond })
	e.applied()
	s := e.openStream("/api/v1/rollouts/default/web/events/stream?after=1000")
	for {
		l, ok := s.line()
		if !ok {
			t.Fatal("the stream ended")
		}
		if l == ": keep-alive" {
			return
		}
	}
}

func TestStreamRefusals(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.MaxStreams = 1 })
	want(t, e.do("GET", "/api/v1/rollouts/default/nope/events/stream", viewToken, ""), http.StatusNotFound, canary.ENOTFOUND)
	e.applied()
	want(t, e.do("GET", "/api/v1/rollouts/default/web/events/stream", viewToken, "", "Last-Event-ID", "x"),
		http.StatusBadRequest, canary.EINVALID)
	want(t, e.do("GET", "/api/v1/rollouts/default/web/events/stream?after=-3", viewToken, ""),
		http.StatusBadRequest, canary.EINVALID)
	want(t, e.do("GET", "/api/v1/rollouts/default/web/events/stream", "", ""), http.StatusUnauthorized, web.CodeUnauthenticated)
	s := e.openStream("/api/v1/rollouts/default/web/events/stream")
	s.nextEvent()
	want(t, e.do("GET", "/api/v1/rollouts/default/web/events/stream", viewToken, ""),
		http.StatusServiceUnavailable, canary.EUNAVAILABLE)
}

// TestStreamCapPerToken: one token cannot hold every stream slot. With 4
// slots and 2 per token, the viewer's third stream is refused (503,
// naming the token and the limit) while the operator still opens one;
// once the viewer closes a stream it may open another.
func TestStreamCapPerToken(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.MaxStreams, c.MaxStreamsPerToken = 4, 2 })
	e.applied()
	const path = "/api/v1/rollouts/default/web/events/stream"
	first := e.openStream(path)
	first.nextEvent()
	e.openStream(path).nextEvent()
	r := e.do("GET", path, viewToken, "")
	want(t, r, http.StatusServiceUnavailable, canary.EUNAVAILABLE)
	if msg := errorOf(t, r).Message; !strings.Contains(msg, "token ci already holds 2 event streams") {
		t.Errorf("message %q: want the token and the per-token limit named", msg)
	}
	op := e.openStreamAs(opToken, path)
	if op.resp.StatusCode != http.StatusOK {
		t.Fatalf("the operator's stream: %d; want 200 while the viewer is at its cap", op.resp.StatusCode)
	}
	op.nextEvent()
	first.cancel()
	first.resp.Body.Close()
	for i := 0; !strings.Contains(e.metrics(), "canary_http_event_streams 2\n"); i++ {
		if i == 500 {
			t.Fatal("the closed stream is still counted")
		}
		time.Sleep(10 * time.Millisecond) // the server notices the client went away
	}
	if again := e.openStream(path); again.resp.StatusCode != http.StatusOK {
		t.Errorf("after closing a stream the viewer's next one: %d; want 200", again.resp.StatusCode)
	}
}

// TestStreamError: a failure to read events mid-stream is an "error"
// event, then the stream ends.
func TestStreamError(t *testing.T) {
	e := newEnv(t)
	e.applied()
	e.api.EventsFunc = func(context.Context, string, int64, int) ([]canary.Event, error) {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "the store is gone")
	}
	s := e.openStream("/api/v1/rollouts/default/web/events/stream")
	ev := s.next()
	if ev.typ != "error" || ev.data != `{"error":{"code":"unavailable","message":"the store is gone"}}` {
		t.Errorf("error event %+v", ev)
	}
	for {
		if _, ok := s.line(); !ok {
			return
		}
	}
}

// TestStreamNewGeneration: applying a new version under the same name
// ends the stream with a "generation" event.
func TestStreamNewGeneration(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.KeepAlive = 20 * time.Millisecond })
	e.applied()
	s := e.openStream("/api/v1/rollouts/default/web/events/stream")
	s.nextEvent()
	want(t, e.do("POST", "/api/v1/rollouts", opToken, strings.Replace(testPlan, "version: v2", "version: v3", 1)),
		http.StatusCreated, "")
	var ev sseEvent
	for ev.typ != "generation" {
		ev = s.next()
	}
	var g web.Generation
	if err := json.Unmarshal([]byte(ev.data), &g); err != nil || g.Name != "default/web" || g.Generation != 2 || g.ID != 2 {
		t.Errorf("generation event %q: %+v %v", ev.data, g, err)
	}
	for {
		if _, ok := s.line(); !ok {
			return
		}
	}
}
