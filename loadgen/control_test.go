package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrencyCap holds the first requests until the cap is reached and
// checks the server never sees more than Concurrency at once.
func TestConcurrencyCap(t *testing.T) {
	const limit = 3
	var inFlight, peak atomic.Int64
	full := make(chan struct{})
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n == limit {
			close(full) // only once: afterwards release is closed and n stays below
		}
		<-release
	})
	done := make(chan Result, 1)
	go func() {
		res, _ := Run(context.Background(), Config{Target: srv.URL, MaxRequests: 12, Concurrency: limit})
		done <- res
	}()
	select {
	case <-full:
	case <-time.After(5 * time.Second):
		t.Fatalf("server never saw %d requests at once", limit)
	}
	close(release)
	res := <-done
	if res.Requests != 12 || res.Status2xx != 12 {
		t.Errorf("requests = %d, 2xx = %d, want 12", res.Requests, res.Status2xx)
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak in flight = %d, want %d", p, limit)
	}
}

// TestSnapshotAndStop answers five requests, then holds the rest until
// their context ends: the snapshot sees five, Stop cancels the two held.
func TestSnapshotAndStop(t *testing.T) {
	var n atomic.Int64
	seventh := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i <= 5 {
			return
		}
		if i == 7 {
			close(seventh)
		}
		<-r.Context().Done()
	})
	g, err := Start(context.Background(), Config{Target: srv.URL, Duration: time.Hour, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-seventh:
	case <-time.After(5 * time.Second):
		g.Stop()
		t.Fatal("seventh request never arrived")
	}
	// The seventh request took the slot the fifth answer freed, and a slot
	// is freed only after its answer is counted.
	if snap := g.Snapshot(); snap.Requests != 5 || snap.Status2xx != 5 || snap.Elapsed <= 0 {
		t.Errorf("snapshot = %+v, want 5 answered", snap)
	}
	start := time.Now()
	res := g.Stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %s", d)
	}
	if res.Requests != 5 || res.Canceled != 2 || res.Errors != 0 {
		t.Errorf("after Stop: requests %d, canceled %d, errors %d; want 5, 2, 0", res.Requests, res.Canceled, res.Errors)
	}
	select {
	case <-g.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if again := g.Stop(); again.Requests != res.Requests || again.Elapsed != res.Elapsed {
		t.Errorf("second Stop = %+v, want the same final result %+v", again, res)
	}
}

func TestContextCancel(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Config{Target: srv.URL, Duration: time.Hour, Concurrency: 2})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %v, want the context's", err)
	}
	if res.Canceled != 2 || res.Requests != 0 {
		t.Errorf("result = %+v, want 2 canceled and none finished", res)
	}
}

func TestRequestErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	hang := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"connection refused", Config{Target: closedURL, MaxRequests: 5}, "connection refused"},
		{"timeout", Config{Target: hang.URL, MaxRequests: 3, Timeout: 100 * time.Millisecond}, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			n := int64(tt.cfg.MaxRequests)
			if res.Requests != n || res.Errors != n {
				t.Errorf("requests = %d, errors = %d, want %d each", res.Requests, res.Errors, n)
			}
			if !strings.Contains(res.LastError, tt.wantErr) {
				t.Errorf("last error = %q, want it to contain %q", res.LastError, tt.wantErr)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	const local = "http://127.0.0.1:1/"
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unbounded", Config{Target: local, Rate: 10}, "refusing unbounded load"},
		{"negative count", Config{Target: local, MaxRequests: -1, Duration: time.Second}, "must not be negative"},
		{"negative rate", Config{Target: local, MaxRequests: 1, Rate: -1}, "Rate -1"},
		{"negative concurrency", Config{Target: local, MaxRequests: 1, Concurrency: -1}, "must not be negative"},
		{"public host", Config{Target: "http://example.com/", MaxRequests: 1}, "is not on this machine"},
		{"private address", Config{Target: "http://10.0.0.1:8080/", MaxRequests: 1}, "is not on this machine"},
		{"public IPv6", Config{Target: "http://[2001:db8::1]/", MaxRequests: 1}, "is not on this machine"},
		{"all interfaces", Config{Target: "http://0.0.0.0:8080/", MaxRequests: 1}, "is not on this machine"},
		{"localhost lookalike", Config{Target: "http://localhost.example.com/", MaxRequests: 1}, "is not on this machine"},
		{"loopback name via DNS", Config{Target: "http://127.0.0.1.nip.io/", MaxRequests: 1}, "is not on this machine"},
		{"not http", Config{Target: "ftp://127.0.0.1/", MaxRequests: 1}, "is not an http(s) URL"},
		{"no scheme", Config{Target: "127.0.0.1:8080", MaxRequests: 1}, "is not an http(s) URL"},
		{"password hidden", Config{Target: "http://u:secret@example.com/", MaxRequests: 1}, "u:xxxxx@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
			if _, err := Start(context.Background(), tt.cfg); err == nil {
				t.Errorf("Start accepted what Run refused")
			}
		})
	}
}

func TestLoopbackTargetsAccepted(t *testing.T) {
	for _, target := range []string{
		"http://127.0.0.1:8080/", "http://127.5.6.7/", "https://[::1]:8443/x",
		"http://localhost:9001/api", "http://LOCALHOST/",
	} {
		t.Run(target, func(t *testing.T) {
			if err := checkTarget(target); err != nil {
				t.Errorf("checkTarget(%q) = %v, want nil", target, err)
			}
		})
	}
}

// TestDialerRefusesNonLoopback checks the default client's last line of
// defence: even if a name resolved elsewhere, it would not connect.
func TestDialerRefusesNonLoopback(t *testing.T) {
	client, _ := newClient(Config{Concurrency: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://192.0.2.1:9/", nil)
	_, err := client.Do(req)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("dial 192.0.2.1 = %v, want refused before connecting", err)
	}
}
