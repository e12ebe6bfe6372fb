package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
)

// bodyBackend answers "<name> got <n> bytes" and keeps every request's
// method, body and mirror mark.
type bodyBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "POST 100 mirrored <sha-less body prefix>"
	gate chan struct{}
}

func newBodyBackend(t *testing.T, name string, gate chan struct{}) *bodyBackend {
	t.Helper()
	b := &bodyBackend{gate: gate}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		b.mu.Lock()
		b.seen = append(b.seen, fmt.Sprintf("%s %s mirrored=%v", r.Method, body, r.Header.Get(MirrorHeader) == "1"))
		b.mu.Unlock()
		if b.gate != nil {
			<-b.gate
		}
		fmt.Fprintf(w, "%s got %d bytes", name, len(body))
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *bodyBackend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

// send makes a request with body through the proxy; chunked hides the
// body's length, so the client sends it chunked.
func (tp *testProxy) send(t *testing.T, method, body string, chunked bool) string {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = struct{ io.Reader }{r}
	}
	req, err := http.NewRequest(method, tp.url+"/orders", r)
	if err != nil {
		t.Fatal(err)
	}
	if chunked && req.ContentLength != -1 && req.ContentLength != 0 {
		t.Fatalf("request length %d, want unknown (chunked)", req.ContentLength)
	}
	resp, err := tp.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get(TrackHeader) != "stable" {
		t.Fatalf("%s: %d track %q %q %v, want 200 from the stable", method, resp.StatusCode, resp.Header.Get(TrackHeader), got, err)
	}
	return string(got)
}

// body is n bytes of a recognizable pattern starting with tag.
func body(tag string, n int) string {
	return (tag + strings.Repeat(".", n))[:n]
}

// TestMirrorBodies: with MirrorBodies 1 KiB and mirror 100%, a POST with a
// short body (known length), a chunked one and a PUT of exactly 1 KiB
// reach the canary with the same bodies while the client gets the stable's
// answer; bodies over 1 KiB (known length or chunked) reach only the stable
// and are counted.
func TestMirrorBodies(t *testing.T) {
	st, ca := newBodyBackend(t, "stable", nil), newBodyBackend(t, "canary", nil)
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL, MirrorBodies: 1024})
	if err := tp.SetRoute(context.Background(), canary.Route{MirrorPercent: 100}); err != nil {
		t.Fatal(err)
	}
	small, chunk, exact := body("small", 100), body("chunked", 600), body("exact", 1024)
	bigKnown, bigChunked := body("bigknown", 1025), body("bigchunked", 5000)
	for _, c := range []struct {
		method, body string
		chunked      bool
	}{{"POST", small, false}, {"POST", chunk, true}, {"PUT", exact, false}, {"POST", bigKnown, false}, {"POST", bigChunked, true}} {
		if got, want := tp.send(t, c.method, c.body, c.chunked), fmt.Sprintf("stable got %d bytes", len(c.body)); got != want {
			t.Fatalf("%s of %d bytes: client got %q, want %q", c.method, len(c.body), got, want)
		}
	}
	waitFor(t, "3 copies", func() bool { return tp.MirrorStats().Sent == 3 })
	want := []string{"POST " + chunk + " mirrored=true", "POST " + small + " mirrored=true", "PUT " + exact + " mirrored=true"}
	got := ca.requests()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("canary got %.80q, want %.80q", got, want)
	}
	if n := len(st.requests()); n != 5 {
		t.Errorf("stable got %d requests, want 5 (every body whole)", n)
	}
	if s := tp.MirrorStats(); s.TooLarge != 2 || s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("stats %+v, want TooLarge 2 (1025 bytes known, 5000 chunked), no drops or failures", s)
	}
}

// TestMirrorBodiesOff: without MirrorBodies a POST, with a body or not, is
// never copied, while GETs are.
func TestMirrorBodiesOff(t *testing.T) {
	st, ca := newBodyBackend(t, "stable", nil), newBodyBackend(t, "canary", nil)
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL})
	if err := tp.SetRoute(context.Background(), canary.Route{MirrorPercent: 100}); err != nil {
		t.Fatal(err)
	}
	tp.send(t, "POST", body("post", 10), false)
	tp.send(t, "POST", body("chunked", 10), true)
	tp.send(t, "POST", "", false)
	tp.send(t, "GET", "", false)
	waitFor(t, "the GET's copy", func() bool { return tp.MirrorStats().Sent == 1 })
	if got := ca.requests(); !slices.Equal(got, []string{"GET  mirrored=true"}) {
		t.Errorf("canary got %q, want only the GET's copy", got)
	}
	if s := tp.MirrorStats(); s.TooLarge != 0 {
		t.Errorf("TooLarge %d without MirrorBodies, want 0 (bodies are not considered)", s.TooLarge)
	}
}

// TestMirrorBodyMemory: copies whose bodies would take more than
// MirrorBodyMemory are dropped and counted, and the memory comes back
// once the copies are sent.
func TestMirrorBodyMemory(t *testing.T) {
	gate := make(chan struct{})
	st, ca := newBodyBackend(t, "stable", nil), newBodyBackend(t, "canary", gate)
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL, MirrorBodies: 1024, MirrorBodyMemory: 1024})
	if err := tp.SetRoute(context.Background(), canary.Route{MirrorPercent: 100}); err != nil {
		t.Fatal(err)
	}
	tp.send(t, "POST", body("first", 600), false)
	tp.send(t, "POST", body("second", 600), true) // 600 + 1024 reserved for an unknown length
	tp.send(t, "POST", body("third", 424), false) // fits beside the first
	if s := tp.MirrorStats(); s.Dropped != 1 {
		t.Errorf("dropped %d, want 1 (the chunked body while 600 bytes are held of 1024)", s.Dropped)
	}
	close(gate)
	waitFor(t, "2 copies", func() bool { return tp.MirrorStats().Sent == 2 })
	if h := tp.mirror.held.Load(); h != 0 {
		t.Errorf("%d bytes still held after the copies were sent, want 0", h)
	}
	tp.send(t, "POST", body("after", 1000), true)
	waitFor(t, "the copy after", func() bool { return tp.MirrorStats().Sent == 3 })
	if got := ca.requests(); len(got) != 3 || !bytes.Contains([]byte(got[2]), []byte("after")) {
		t.Errorf("canary got %.60q, want first, third, after", got)
	}
}
