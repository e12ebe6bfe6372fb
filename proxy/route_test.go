package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func hm(name, exact, regex, prefix string) canary.Match {
	return canary.Match{Header: &canary.HeaderMatch{Name: name, Exact: exact, Regex: regex, Prefix: prefix}}
}

// TestMatchReachesCanary: a request matching the route goes to the canary
// whatever the weight (0%, 50%); one that does not follows the weight.
func TestMatchReachesCanary(t *testing.T) {
	st, ca := backend(t, "stable"), backend(t, "canary")
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL})
	route := canary.Route{Matches: []canary.Match{hm("X-Beta", "1", "", ""), hm("X-Team", "", "qa|ops", ""),
		hm("X-User", "", "", "int-"), {Cookie: &canary.CookieMatch{Name: "beta"}}, {Cookie: &canary.CookieMatch{Name: "grp", Value: "always"}}}}
	tests := []struct {
		name string
		hdr  http.Header
		want string
	}{
		{"exact", http.Header{"X-Beta": {"1"}}, "canary"},
		{"exact other value", http.Header{"X-Beta": {"10"}}, "stable"},
		{"regex", http.Header{"X-Team": {"ops"}}, "canary"},
		{"regex is anchored", http.Header{"X-Team": {"devops"}}, "stable"},
		{"prefix", http.Header{"X-User": {"int-42"}}, "canary"},
		{"cookie present", http.Header{"Cookie": {"a=b; beta=x"}}, "canary"},
		{"cookie value", http.Header{"Cookie": {"grp=always"}}, "canary"},
		{"cookie other value", http.Header{"Cookie": {"grp=never"}}, "stable"},
		{"no match", nil, "stable"},
	}
	for _, w := range []int{0, 50} {
		route.Weight = w
		if err := tp.SetRoute(context.Background(), route); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			if w == 50 && tt.want == "stable" {
				continue // follows the weight
			}
			for range 20 {
				if _, track, _ := tp.get(t, "/", tt.hdr); track != tt.want {
					t.Fatalf("weight %d%%, %s: got track %q, want %q", w, tt.name, track, tt.want)
				}
			}
		}
	}
	// A plain weight clears the matches.
	if err := tp.SetWeight(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if _, track, _ := tp.get(t, "/", http.Header{"X-Beta": {"1"}}); track != "stable" {
		t.Errorf("after SetWeight(0): got track %q for a formerly matching request, want stable", track)
	}
}

// countingBackend answers every request with status and body after delay,
// counting requests and those marked as mirrored copies.
type countingBackend struct {
	*httptest.Server
	all, mirrored atomic.Int64
}

func newCountingBackend(t *testing.T, status int, body string, delay time.Duration, gate <-chan struct{}) *countingBackend {
	t.Helper()
	b := &countingBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			<-gate
		}
		time.Sleep(delay)
		b.all.Add(1)
		if r.Header.Get(MirrorHeader) == "1" {
			b.mirrored.Add(1)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(b.Close)
	return b
}

// waitFor polls cond every 5ms for at most 5s (the copies are sent off
// the request path, so they arrive a moment after the responses).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestMirrorNeverChangesResponse: with mirror 100% every GET is copied to a
// canary that fails slowly, yet every client gets the stable's response;
// the copies are recorded as the canary's (its 5xx count); POSTs are not
// copied.
func TestMirrorNeverChangesResponse(t *testing.T) {
	st := newCountingBackend(t, 200, "stable", 0, nil)
	ca := newCountingBackend(t, 503, "canary-broken", 20*time.Millisecond, nil)
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL})
	if err := tp.SetRoute(context.Background(), canary.Route{MirrorPercent: 100}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for range n {
		status, track, body := tp.get(t, "/x", nil)
		if status != 200 || track != "stable" || body != "stable" {
			t.Fatalf("mirrored GET: got %d %q %q, want 200 stable stable", status, track, body)
		}
	}
	resp, err := tp.client.Post(tp.url+"/x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the copies", func() bool { return tp.MirrorStats().Sent == n })
	if got := ca.mirrored.Load(); got != n || ca.all.Load() != n {
		t.Errorf("canary saw %d requests, %d marked mirrored; want %d, all marked (POST not mirrored)", ca.all.Load(), got, n)
	}
	stats, err := tp.rec.Stats(canary.TrackCanary, time.Minute, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Requests != n || stats.ErrorRate() != 1 {
		t.Errorf("canary track recorded %d requests at error rate %v, want %d at 1 (the copies' 503s)", stats.Requests, stats.ErrorRate(), n)
	}
}

// TestMirrorShareAndDrops: mirror 10% copies exactly 1 request in 10;
// when the canary hangs and the queue is full, copies are dropped and
// counted while clients keep getting the stable's answers.
func TestMirrorShareAndDrops(t *testing.T) {
	gate := make(chan struct{})
	st := newCountingBackend(t, 200, "stable", 0, nil)
	ca := newCountingBackend(t, 200, "canary", 0, gate)
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL, MirrorQueue: 2, MirrorWorkers: 1})
	if err := tp.SetRoute(context.Background(), canary.Route{MirrorPercent: 10}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if status, track, _ := tp.get(t, "/", nil); status != 200 || track != "stable" {
			t.Fatalf("got %d %q, want 200 stable", status, track)
		}
	}
	// 10 copies: one in the worker's hands, two queued, seven dropped.
	s := tp.MirrorStats()
	if s.Dropped != 7 {
		t.Errorf("dropped %d copies, want 7 (10 mirrored, 1 sending + 2 queued)", s.Dropped)
	}
	close(gate)
	waitFor(t, "the queued copies", func() bool { return tp.MirrorStats().Sent == 3 })
}

// TestMirrorKeepsStableLatency: the stable's p99 with mirror 100% to a
// slow canary stays within a generous bound of unmirrored runs in the
// same test (medians of three alternating rounds) (figures for BENCHMARKS.md come from bench/, not from here).
func TestMirrorKeepsStableLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	st := newCountingBackend(t, 200, "stable", 0, nil)
	ca := newCountingBackend(t, 200, "canary", 30*time.Millisecond, nil)
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL})
	p99 := func() time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 300 {
					t0 := time.Now()
					if status, _, _ := tp.get(t, "/", nil); status != 200 {
						t.Errorf("status %d", status)
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)*99/100]
	}
	// Three rounds in alternation, the median p99 of each kind: a burst of
	// load from elsewhere on the machine moves one round, not the result.
	var plains, mirroreds []time.Duration
	for range 3 {
		for _, mirror := range []int{0, 100} {
			if err := tp.SetRoute(context.Background(), canary.Route{MirrorPercent: mirror}); err != nil {
				t.Fatal(err)
			}
			if mirror == 0 {
				plains = append(plains, p99())
			} else {
				mirroreds = append(mirroreds, p99())
			}
		}
	}
	slices.Sort(plains)
	slices.Sort(mirroreds)
	plain, mirrored := plains[1], mirroreds[1]
	t.Logf("stable p99: %v unmirrored, %v with mirror 100%% to a 30ms canary (%+v)", plain, mirrored, tp.MirrorStats())
	if limit := 3*plain + 20*time.Millisecond; mirrored > limit {
		t.Errorf("stable p99 with mirroring %v, want at most %v (3x the unmirrored %v + 20ms)", mirrored, limit, plain)
	}
}

// TestBlueGreenSwitch: under load, the switch from mirrored-only to 100%
// and back is atomic: no request fails, every request that starts after a
// switch returned lands on the new side, and the preview always serves the
// new version without being recorded.
func TestBlueGreenSwitch(t *testing.T) {
	st, ca := backend(t, "stable"), backend(t, "canary")
	tp := startProxy(t, Config{Stable: st.URL, Canary: ca.URL})
	preview := NewPreviewServer("", tp.Proxy)
	ln := listen(t)
	go func() { _ = preview.Serve(ln) }()
	t.Cleanup(func() { preview.Close() })
	ctx := context.Background()
	if err := tp.SetRoute(ctx, canary.Route{MirrorPercent: 100}); err != nil {
		t.Fatal(err)
	}
	if _, track, body := getURL(t, tp.client, "http://"+ln.Addr().String()+"/"); track != string(trackPreview) || body != "canary" {
		t.Fatalf("preview: got %q %q, want preview canary", track, body)
	}
	var phase atomic.Int32 // 0 before the switch, 1 switched, 2 switched back
	var wrong, failed, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ph := phase.Load()
				status, track, _ := tp.get(t, "/", nil)
				total.Add(1)
				switch {
				case status != 200:
					failed.Add(1)
				case phase.Load() != ph:
					// In flight across a switch: either side is right.
				case ph == 1 && track != "canary", ph == 2 && track != "stable":
					wrong.Add(1)
					t.Logf("phase %d: served by %q", ph, track)
				}
			}
		})
	}
	more := func() { n := total.Load(); waitFor(t, "30 more requests", func() bool { return total.Load() >= n+30 }) }
	more()
	if err := tp.SetRoute(ctx, canary.Route{Weight: 100}); err != nil {
		t.Fatal(err)
	}
	phase.Store(1)
	more()
	if err := tp.SetRoute(ctx, canary.Route{}); err != nil { // rollback: switch back
		t.Fatal(err)
	}
	phase.Store(2)
	more()
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || wrong.Load() != 0 || total.Load() < 90 {
		t.Errorf("%d requests: %d failed, %d on the old side after a switch; want none (and at least 90 requests)", total.Load(), failed.Load(), wrong.Load())
	}
	if s, err := tp.rec.Stats(trackPreview, time.Minute, time.Now()); err == nil && s.Requests > 0 {
		t.Errorf("the preview's request was recorded: %+v", s)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// getURL fetches url and returns status, track and body.
func getURL(t *testing.T, c *http.Client, url string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get(TrackHeader), string(body)
}
