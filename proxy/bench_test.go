package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func BenchmarkBucket(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%08d", i)
	}
	b.ReportAllocs()
	sum := 0
	for i := 0; b.Loop(); i++ {
		sum += Bucket(keys[i&1023])
	}
	_ = sum
}

// BenchmarkSelect is the per-request track choice, unkeyed and keyed.
func BenchmarkSelect(b *testing.B) {
	p, err := New(Config{Stable: "http://127.0.0.1:1", Canary: "http://127.0.0.1:2", Weight: 5, StickyHeader: "X-User-Id", StickyCookie: "sid"})
	if err != nil {
		b.Fatal(err)
	}
	reqs := map[string]*http.Request{
		"unkeyed": httptest.NewRequest("GET", "/", nil),
		"header":  httptest.NewRequest("GET", "/", nil),
		"cookie":  httptest.NewRequest("GET", "/", nil),
	}
	reqs["header"].Header.Set("X-User-Id", "user-12345")
	reqs["cookie"].Header.Set("Cookie", "theme=dark; sid=abcdef0123456789")
	for _, name := range []string{"unkeyed", "header", "cookie"} {
		r := reqs[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p.toCanary(p.route.Load().weight, r)
				}
			})
		})
	}
}

// BenchmarkRecord is the recorder's hot path, serial and from every
// processor at once (run with -cpu 1,2,4 to see contention).
func BenchmarkRecord(b *testing.B) {
	r, err := NewRecorder(RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.Record(canary.TrackStable, 200, time.Duration(i&0xffff)*time.Microsecond, now)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				r.Record(canary.TrackStable, 200, time.Duration(i&0xffff)*time.Microsecond, now)
			}
		})
	})
	// Crossing into a new second every 1000 records seals shards.
	b.Run("parallel-advancing", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				r.Record(canary.TrackCanary, 200, time.Duration(i&0xffff)*time.Microsecond, now.Add(time.Duration(i/1000)*time.Second))
			}
		})
	})
}

// BenchmarkStats is a query over a full hour with latencies in every
// second spread over 100µs..100ms (a wide, realistic range).
func BenchmarkStats(b *testing.B) {
	r, err := NewRecorder(RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	end := time.Unix(1_700_000_000, 0)
	for s := range 3600 {
		at := end.Add(-time.Duration(s) * time.Second)
		for i := range 200 {
			r.Record(canary.TrackStable, 200, 100*time.Microsecond+time.Duration(i*i*i/80)*time.Microsecond, at)
		}
	}
	for _, w := range []time.Duration{time.Second, time.Minute, 5 * time.Minute, time.Hour} {
		b.Run(w.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st, err := r.Stats(canary.TrackStable, w, end)
				if err != nil || st.Requests == 0 {
					b.Fatalf("Stats = %d requests, %v", st.Requests, err)
				}
				st.Quantile(0.99)
			}
		})
	}
}

// BenchmarkProxy is a whole request through the proxy over loopback, with
// recording, against a backend answering a small body.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello from the backend\n")
	}))
	defer up.Close()
	rec, err := NewRecorder(RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Stable: up.URL, Canary: up.URL, Weight: 5, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.URL)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// discardWriter is a minimal http.ResponseWriter for BenchmarkServeHTTP.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkServeHTTP is the proxy's own share of a request: ServeHTTP
// called directly (no inbound server), forwarding over a kept-alive
// connection to a loopback backend.
func BenchmarkServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello from the backend\n")
	}))
	defer up.Close()
	rec, err := NewRecorder(RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Stable: up.URL, Canary: up.URL, Weight: 5, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			req := httptest.NewRequest("GET", "http://proxy.test/", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			clear(w.h)
			p.ServeHTTP(w, req)
		}
	})
}
