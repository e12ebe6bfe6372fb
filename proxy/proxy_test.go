package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestSplitExact sends sequential requests without a key through a real
// proxy and checks the exact count and even spacing of canary requests.
func TestSplitExact(t *testing.T) {
	tests := []struct {
		weight, requests int
	}{
		{5, 2000},
		{10, 500},
		{25, 400},
		{50, 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d%%", tt.weight), func(t *testing.T) {
			tp := startProxy(t, Config{Stable: backend(t, "stable").URL, Canary: backend(t, "canary").URL, Weight: tt.weight})
			var canaries []int
			for i := range tt.requests {
				status, track, body := tp.get(t, "/", nil)
				if status != http.StatusOK || track != body {
					t.Fatalf("request %d: status %d, track %q, body %q; want 200 and track = body", i, status, track, body)
				}
				if track == "canary" {
					canaries = append(canaries, i)
				}
			}
			if want := tt.requests * tt.weight / 100; len(canaries) != want {
				t.Errorf("canary requests = %d of %d, want %d", len(canaries), tt.requests, want)
			}
			for i := 1; i < len(canaries); i++ {
				if gap := canaries[i] - canaries[i-1]; gap != 100/tt.weight {
					t.Fatalf("canary requests %d and %d are %d apart, want %d", canaries[i-1], canaries[i], gap, 100/tt.weight)
				}
			}
			st := stats(t, tp.rec, canary.TrackCanary, time.Hour, time.Now().Add(time.Second))
			if st.Requests != int64(len(canaries)) {
				t.Errorf("recorded canary requests = %d, want %d", st.Requests, len(canaries))
			}
		})
	}
}

// TestStickyRouting: a keyed request goes where its bucket says, by
// header or by cookie, at every weight.
func TestStickyRouting(t *testing.T) {
	tp := startProxy(t, Config{
		Stable: backend(t, "stable").URL, Canary: backend(t, "canary").URL,
		StickyHeader: "x-user-id", StickyCookie: "sid",
	})
	for _, w := range []int{5, 25, 50} {
		if err := tp.SetWeight(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			key := fmt.Sprintf("user-%d", i)
			want := "stable"
			if Bucket(key) < w*100 {
				want = "canary"
			}
			for _, hdr := range []http.Header{{"X-User-Id": {key}}, {"Cookie": {"theme=dark; sid=" + key}}} {
				if _, track, body := tp.get(t, "/", hdr); track != want || body != want {
					t.Errorf("weight %d, key %q via %v: track %q body %q, want %q", w, key, hdr, track, body, want)
				}
			}
		}
	}
}

// TestWeightChangesUnderLoad: weights move while several clients send
// requests; every request succeeds on the track its header names.
func TestWeightChangesUnderLoad(t *testing.T) {
	tp := startProxy(t, Config{Stable: backend(t, "stable").URL, Canary: backend(t, "canary").URL, Weight: 50})
	const clients, perClient = 4, 250
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	progress := make(chan struct{}, clients*perClient) // one per request done
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perClient {
				if err := getOnTrack(tp); err != nil {
					errs <- err
				}
				progress <- struct{}{}
			}
		}()
	}
	loadDone := make(chan struct{})
	go func() { wg.Wait(); close(loadDone) }()
	// Change the weight after every finished request, while the other
	// clients' requests are in flight.
	weights := []int{0, 5, 10, 25, 50, 100, 25, 5}
	changes := 0
	for running := true; running; {
		select {
		case <-loadDone:
			running = false
		case <-progress:
			if err := tp.SetWeight(context.Background(), weights[changes%len(weights)]); err != nil {
				t.Fatal(err)
			}
			changes++
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := stats(t, tp.rec, canary.TrackStable, time.Hour, time.Now().Add(time.Second))
	c := stats(t, tp.rec, canary.TrackCanary, time.Hour, time.Now().Add(time.Second))
	if got := s.Requests + c.Requests; got != clients*perClient {
		t.Errorf("recorded requests = %d, want %d", got, clients*perClient)
	}
	if s.Errors+c.Errors != 0 {
		t.Errorf("recorded errors = %d, want 0", s.Errors+c.Errors)
	}
	t.Logf("%d weight changes during %d requests (%d canary)", changes, clients*perClient, c.Requests)
}

// getOnTrack fetches / and checks it succeeded on the track it names.
func getOnTrack(tp *testProxy) error {
	resp, err := tp.client.Get(tp.url + "/")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != resp.Header.Get(TrackHeader) {
		return fmt.Errorf("status %d, track %q, body %q, err %v", resp.StatusCode, resp.Header.Get(TrackHeader), body, err)
	}
	return nil
}

// TestInFlightSurvivesChanges: a request in flight when the weight moves
// and the canary is promoted finishes normally on its own track.
func TestInFlightSurvivesChanges(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "stable")
	}))
	t.Cleanup(slow.Close)
	tp := startProxy(t, Config{Stable: slow.URL, Canary: backend(t, "canary").URL})
	type result struct {
		status      int
		track, body string
	}
	res := make(chan result, 1)
	go func() {
		resp, err := tp.client.Get(tp.url + "/")
		if err != nil {
			res <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, resp.Header.Get(TrackHeader), string(b)}
	}()
	<-arrived
	ctx := context.Background()
	if err := tp.SetWeight(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if err := tp.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	got := <-res
	if got != (result{200, "stable", "stable"}) {
		t.Errorf("in-flight request = %+v, want 200 on stable", got)
	}
}

func TestPromote(t *testing.T) {
	tp := startProxy(t, Config{Stable: backend(t, "old").URL, Canary: backend(t, "new").URL, Weight: 25, StickyHeader: "X-User-Id"})
	ctx := context.Background()
	for range 2 { // promoting twice is the same as once
		if err := tp.Promote(ctx); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if got := tp.Weight(); got != 0 {
			t.Errorf("weight after Promote = %d, want 0", got)
		}
		for i := range 20 {
			hdr := http.Header{"X-User-Id": {fmt.Sprint(i)}}
			if i%2 == 0 {
				hdr = nil
			}
			if status, track, body := tp.get(t, "/", hdr); status != 200 || track != "stable" || body != "new" {
				t.Fatalf("after Promote: status %d, track %q, body %q; want 200, stable, new", status, track, body)
			}
		}
	}
	if err := tp.RemoveCanary(ctx); err != nil {
		t.Errorf("RemoveCanary = %v, want nil", err)
	}
}

func TestSetWeightInvalid(t *testing.T) {
	tp := startProxy(t, Config{Stable: backend(t, "s").URL, Canary: backend(t, "c").URL, Weight: 10})
	for _, w := range []int{-1, 101} {
		err := tp.SetWeight(context.Background(), w)
		if canary.ErrorCode(err) != canary.EINVALID {
			t.Errorf("SetWeight(%d) = %v, want an %s error", w, err, canary.EINVALID)
		}
	}
	if got := tp.Weight(); got != 10 {
		t.Errorf("weight after invalid sets = %d, want 10", got)
	}
}

func TestNewInvalid(t *testing.T) {
	ok := "http://127.0.0.1:9001"
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no stable", Config{Canary: ok}},
		{"no canary", Config{Stable: ok}},
		{"not http", Config{Stable: "ftp://127.0.0.1/", Canary: ok}},
		{"no host", Config{Stable: "http:///path", Canary: ok}},
		{"relative", Config{Stable: "127.0.0.1:9001", Canary: ok}},
		{"weight above 100", Config{Stable: ok, Canary: ok, Weight: 101}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); canary.ErrorCode(err) != canary.EINVALID {
				t.Errorf("New = %v, want an %s error", err, canary.EINVALID)
			}
		})
	}
}

// TestUpstreamDown: a dead canary answers 502, counted as errors of the
// canary track only.
func TestUpstreamDown(t *testing.T) {
	tp := startProxy(t, Config{Stable: backend(t, "stable").URL, Canary: deadURL(t), Weight: 50})
	const n = 100
	for i := range n {
		status, track, _ := tp.get(t, "/", nil)
		want := http.StatusOK
		if track == "canary" {
			want = http.StatusBadGateway
		}
		if status != want {
			t.Fatalf("request %d on %s: status %d, want %d", i, track, status, want)
		}
	}
	tests := []struct {
		track            canary.Track
		requests, errors int64
	}{
		{canary.TrackCanary, n / 2, n / 2},
		{canary.TrackStable, n / 2, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.track), func(t *testing.T) {
			st := stats(t, tp.rec, tt.track, time.Hour, time.Now().Add(time.Second))
			if st.Requests != tt.requests || st.Errors != tt.errors {
				t.Errorf("requests, errors = %d, %d; want %d, %d", st.Requests, st.Errors, tt.requests, tt.errors)
			}
		})
	}
}

func TestNewServer(t *testing.T) {
	s := NewServer("127.0.0.1:0", nil)
	if s.ReadHeaderTimeout != 10*time.Second || s.IdleTimeout != 120*time.Second || s.MaxHeaderBytes != 16<<10 {
		t.Errorf("timeouts = %s/%s/%d, want 10s/2m/16384", s.ReadHeaderTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
}
