package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newServer starts an httptest server closed with the test.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// ok answers 200 and counts the requests.
func ok(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	return newServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) }), &n
}

func TestMaxRequestsIsExact(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"closed loop", Config{MaxRequests: 100, Concurrency: 4}},
		{"closed loop, default concurrency", Config{MaxRequests: 100}},
		{"paced", Config{MaxRequests: 20, Rate: 1000}},
		{"both bounds, count first", Config{MaxRequests: 25, Duration: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := ok(t)
			tt.cfg.Target = srv.URL
			res, err := Run(context.Background(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(tt.cfg.MaxRequests)
			if res.Requests != want || res.Status2xx != want || hits.Load() != want {
				t.Errorf("requests = %d, 2xx = %d, server saw %d; want %d each", res.Requests, res.Status2xx, hits.Load(), want)
			}
			if res.Errors != 0 || res.Canceled != 0 {
				t.Errorf("errors = %d, canceled = %d, want 0 (last error %q)", res.Errors, res.Canceled, res.LastError)
			}
		})
	}
}

// TestRate is a sanity check of the pacing, not a timing assertion: 30
// requests at 200/s cannot finish before the 30th is due at 145ms.
func TestRate(t *testing.T) {
	srv, _ := ok(t)
	res, err := Run(context.Background(), Config{Target: srv.URL, Rate: 200, MaxRequests: 30})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 30 {
		t.Errorf("requests = %d, want 30", res.Requests)
	}
	if min := 145 * time.Millisecond; res.Elapsed < min || res.Elapsed > 5*time.Second {
		t.Errorf("elapsed = %s, want at least %s (the last request's due time) and not absurdly more", res.Elapsed, min)
	}
}

func TestDurationBound(t *testing.T) {
	srv, hits := ok(t)
	res, err := Run(context.Background(), Config{Target: srv.URL, Rate: 100, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Requests are due at 0, 10ms, ..., 290ms (and 300ms at the edge).
	if res.Requests > 31 || res.Requests < 5 {
		t.Errorf("requests = %d, want at most 31 and some", res.Requests)
	}
	if hits.Load() != res.Requests {
		t.Errorf("server saw %d, result says %d", hits.Load(), res.Requests)
	}
	if res.Elapsed < 280*time.Millisecond {
		t.Errorf("elapsed = %s, want about 300ms", res.Elapsed)
	}
}

// TestStatusClassesAndTracks answers a fixed cycle of statuses and track
// headers; the server's counter makes the mix exact whatever the order.
func TestStatusClassesAndTracks(t *testing.T) {
	type answer struct {
		status int
		track  string
	}
	cycle := []answer{{200, "stable"}, {200, "canary"}, {503, "canary"}, {404, ""}, {302, "stable"}}
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		a := cycle[(n.Add(1)-1)%int64(len(cycle))]
		if a.track != "" {
			w.Header().Set(TrackHeader, a.track)
		}
		if a.status == 302 {
			// Off this machine: must be counted, never followed.
			w.Header().Set("Location", "http://192.0.2.1/")
		}
		w.WriteHeader(a.status)
	})
	res, err := Run(context.Background(), Config{Target: srv.URL, MaxRequests: 50, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Requests: 50, Status2xx: 20, Status3xx: 10, Status4xx: 10, Status5xx: 10}
	if res.Counts != want {
		t.Errorf("counts = %+v, want %+v", res.Counts, want)
	}
	wantTracks := map[string]Counts{
		"stable": {Requests: 20, Status2xx: 10, Status3xx: 10},
		"canary": {Requests: 20, Status2xx: 10, Status5xx: 10},
	}
	if len(res.Tracks) != len(wantTracks) {
		t.Errorf("tracks = %+v, want %+v", res.Tracks, wantTracks)
	}
	for k, w := range wantTracks {
		if got := res.Tracks[k]; got != w {
			t.Errorf("track %s = %+v, want %+v", k, got, w)
		}
	}
	if n.Load() != 50 {
		t.Errorf("server saw %d requests, want 50 (a redirect was followed?)", n.Load())
	}
}

func TestUsers(t *testing.T) {
	tests := []struct {
		name   string
		users  int
		header string
		want   map[string]int
	}{
		{"default header", 3, "", map[string]int{"user-0": 3, "user-1": 3, "user-2": 3}},
		{"custom header", 1, "X-Session", map[string]int{"user-0": 9}},
		{"no users", 0, "", map[string]int{"": 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header
			if header == "" {
				header = DefaultUserHeader
			}
			var mu sync.Mutex
			seen := map[string]int{}
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen[r.Header.Get(header)]++
				mu.Unlock()
			})
			_, err := Run(context.Background(), Config{Target: srv.URL, MaxRequests: 9, Users: tt.users, Header: tt.header})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("server saw users %v, want %v", seen, tt.want)
			}
			for k, v := range tt.want {
				if seen[k] != v {
					t.Errorf("user %q: %d requests, want %d (all: %v)", k, seen[k], v, seen)
				}
			}
		})
	}
}
