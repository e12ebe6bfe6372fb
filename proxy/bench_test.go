package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/valyala/fasthttp"
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
	hdrs := map[string]http.Header{
		"unkeyed": {},
		"header":  {"X-User-Id": {"user-12345"}},
		"cookie":  {"Cookie": {"theme=dark; sid=abcdef0123456789"}},
	}
	for _, name := range []string{"unkeyed", "header", "cookie"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header = hdrs[name]
		req := fastRequest(b, r)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var h fasthttp.RequestHeader
				req.Header.CopyTo(&h)
				for pb.Next() {
					p.toCanary(p.route.Load().weight, &h)
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
	url := serve(b, p)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// rawResponse is what rawBackend answers: the headers and body of
// bench/backend's reply.
const rawResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Thu, 26 Nov 2026 08:00:00 GMT\r\nContent-Length: 23\r\n\r\nhello from the backend\n"

// rawBackend is a keep-alive HTTP/1.1 upstream for bodyless requests
// that answers rawResponse without parsing more than the header block
// and without allocating per request, so that a benchmark's CPU time and
// allocations are the proxy's, not the backend's.
func rawBackend(b *testing.B) string {
	b.Helper()
	return serveConns(b, serveRaw)
}

// serveConns accepts connections on a loopback port until the test ends,
// serving each with serve in a goroutine of its own, and returns the
// port's http URL.
func serveConns(tb testing.TB, serve func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveRaw(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	resp := []byte(rawResponse)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 { // the blank line ending the header block
				break
			}
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// BenchmarkHandle is the proxy's own share of a request: its handler
// called directly (no inbound server; the request copied into a fresh
// RequestCtx each time, as the server would parse it), forwarding over a
// kept-alive connection to a loopback backend that costs almost nothing,
// with the recorder on. B/op and allocs/op are the proxy's.
func BenchmarkHandle(b *testing.B) {
	url := rawBackend(b)
	rec, err := NewRecorder(RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Stable: url, Canary: url, Weight: 5, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://proxy.test/", nil)
	r.Header.Set("User-Agent", "wrk")
	req := fastRequest(b, r)
	addr := tcpAddr("127.0.0.1:40000")
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			ctx.Init(req, addr, nil)
			p.handle(&ctx)
			if ctx.Response.StatusCode() != http.StatusOK {
				b.Errorf("status %d", ctx.Response.StatusCode())
				return
			}
		}
	})
}

// BenchmarkServer is a request through proxy.NewServer's inbound
// http.Server and the proxy to the raw backend, from one kept-alive raw
// client connection per goroutine: what bench/proxy.sh measures, without
// wrk's and the backend's CPU.
func BenchmarkServer(b *testing.B) {
	url := rawBackend(b)
	rec, err := NewRecorder(RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Stable: url, Canary: url, Weight: 5, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer("", p)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	addr := ln.Addr().String()
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: wrk\r\n\r\n")
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if err := readRawResponse(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// reportCPU reports the process's CPU time (user and system, every
// thread: the proxy, the raw backend and the raw client) per operation as
// cpu-ns/op, which unlike ns/op does not count time spent waiting. Call
// it as defer reportCPU(b)() after setup.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readRawResponse reads one response with a Content-Length body.
func readRawResponse(br *bufio.Reader) error {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return err
			}
		}
	}
	if n < 0 {
		return errors.New("response without Content-Length")
	}
	_, err := br.Discard(n)
	return err
}
