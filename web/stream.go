package web

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// stream is GET .../events/stream: the rollout's events as server-sent
// events, from ?after= or the Last-Event-ID header (a reconnecting
// EventSource resumes where it stopped), then live as they are appended:
//
//	id: 42
//	event: ruleFiring
//	data: {"seq":42,"type":"ruleFiring",...}
//
// An idle stream gets a ": keep-alive" comment every KeepAlive. Before
// each read after the first, the stream checks that the name still stands
// for the same rollout; a new generation ends it with a "generation"
// event. The handler returns when the client goes away. If reading
// events fails mid-stream, an "error" event carries the error body and the
// stream ends.
func (s *server) stream(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := rolloutName(r)
	if err != nil {
		return err
	}
	after, err := streamStart(r)
	if err != nil {
		return err
	}
	ro, err := s.api.Get(r.Context(), name)
	if err != nil {
		return err
	}
	key, who := "token:"+actor, "token "+actor
	if s.insecure {
		key, who = "ip:"+clientIP(r), "this client address"
	}
	if !s.perToken.take(key) {
		return canary.Errorf(canary.EUNAVAILABLE,
			"%s already holds %d event streams open, the most one token may; close one (another tab or `canary events -w`) and retry",
			who, s.perToken.max)
	}
	defer s.perToken.release(key)
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return canary.Errorf(canary.EUNAVAILABLE, "too many event streams are open (%d); retry later", cap(s.streams))
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	ch, cancel := s.api.Subscribe(r.Context(), name)
	defer cancel()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	bw.WriteString("retry: 2000\n\n")
	sw := &sseWriter{w: bw, rc: rc}
	if !sw.flush() {
		return nil
	}
	s.pump(r.Context(), sw, ch, ro.ID, name, after)
	return nil
}

// Generation is the data of a stream's "generation" event: the name now
// stands for a new rollout (a plan with a new spec.version was applied),
// whose events are numbered from 1 again. The stream ends after it; a
// client reopens it with after=0 to follow the new generation.
type Generation struct {
	Name       string `json:"name"`
	ID         int64  `json:"id"`
	Generation int    `json:"generation"`
}

// pump writes events as they come until the client goes away or reading
// events fails.
func (s *server) pump(ctx context.Context, sw *sseWriter, ch <-chan struct{}, id int64, name string, after int64) {
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	for first := true; ; first = false {
		if !first && s.newGeneration(ctx, sw, id, name) {
			return
		}
		evs, err := s.api.Events(ctx, name, after, MaxLimit)
		if err != nil {
			if ctx.Err() == nil {
				_, body := s.errorResponse("GET "+rollout+"/events/stream", err)
				sw.event("", "error", body)
				sw.flush()
			}
			return
		}
		for _, ev := range evs {
			sw.event(strconv.FormatInt(ev.Seq, 10), string(ev.Type), ev)
			after = ev.Seq
		}
		if !sw.flush() {
			return
		}
		if len(evs) == MaxLimit {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-tick.C:
			sw.w.WriteString(": keep-alive\n\n")
			if !sw.flush() {
				return
			}
		}
	}
}

// newGeneration sends a "generation" event and reports true when name no
// longer stands for rollout id, so events of two generations never mix in
// one stream.
func (s *server) newGeneration(ctx context.Context, sw *sseWriter, id int64, name string) bool {
	ro, err := s.api.Get(ctx, name)
	if err != nil || ro.ID == id {
		return false
	}
	sw.event("", "generation", Generation{Name: ro.Name, ID: ro.ID, Generation: ro.Generation})
	sw.flush()
	return true
}

// streamStart is the Seq the stream starts after: Last-Event-ID when
// given (a reconnect), else ?after=.
func streamStart(r *http.Request) (int64, error) {
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		return intParam(r, "after", 0, 0, 1<<62)
	}
	v, err := strconv.ParseInt(id, 10, 64)
	if err != nil || v < 0 {
		return 0, canary.Errorf(canary.EINVALID, "Last-Event-ID %q is not an event sequence number", truncate(id, 32))
	}
	return v, nil
}

// sseWriter writes the event stream format.
type sseWriter struct {
	w  *bufio.Writer
	rc *http.ResponseController
}

// event writes one event; the data is one line of JSON.
func (sw *sseWriter) event(id, typ string, v any) {
	data, err := marshalJSON(v)
	if err != nil {
		data = []byte(`{"error":{"code":"internal","message":"encode the event"}}`)
	}
	if id != "" {
		sw.w.WriteString("id: " + id + "\n")
	}
	sw.w.WriteString("event: " + oneLine(typ) + "\ndata: ")
	sw.w.Write(data)
	sw.w.WriteString("\n\n")
}

// flush sends what was written; false when the client is gone.
func (sw *sseWriter) flush() bool {
	if sw.w.Flush() != nil {
		return false
	}
	return sw.rc.Flush() == nil
}

// oneLine drops line breaks, which would end an SSE field.
func oneLine(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// streamCaps counts the event streams each token (or client address)
// holds open, so that one cannot take all of Config.MaxStreams.
type streamCaps struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamCaps(max int) *streamCaps { return &streamCaps{max: max, open: map[string]int{}} }

// take counts one more stream for key; false when key holds max already.
func (c *streamCaps) take(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key] >= c.max {
		return false
	}
	c.open[key]++
	return true
}

// release counts one stream of key closed.
func (c *streamCaps) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key]--; c.open[key] <= 0 {
		delete(c.open, key)
	}
}
