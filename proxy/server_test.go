package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestUpstreamKeepAlive: sequential requests reuse one upstream
// connection.
func TestUpstreamKeepAlive(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "stable")
	}))
	up.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	tp := startProxy(t, Config{Stable: up.URL, Canary: up.URL})
	for i := range 50 {
		if status, _, body := tp.get(t, "/", nil); status != 200 || body != "stable" {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d for 50 sequential requests, want 1", n)
	}
}

// TestUpstreamResetMidResponse: an upstream that resets (or closes) its
// connection after sending part of the body aborts the client's
// connection (the client never gets a complete response) and counts as a
// 502 of its track, never as a 200.
func TestUpstreamResetMidResponse(t *testing.T) {
	tests := []struct {
		name   string
		header string // response header the upstream sends
		reset  bool   // RST instead of FIN
	}{
		{"content-length, reset", "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", true},
		{"content-length, close", "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", false},
		{"chunked, reset", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"chunked, close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunked := strings.Contains(tt.header, "chunked")
			upURL := rawUpstream(t, func(c *net.TCPConn) {
				_, _ = io.WriteString(c, tt.header)
				part := strings.Repeat("x", 64<<10)
				if chunked {
					part = fmt.Sprintf("%x\r\n%s\r\n", len(part), part)
				}
				_, _ = io.WriteString(c, part)
				time.Sleep(50 * time.Millisecond) // let the proxy pass the part on
				if tt.reset {
					_ = c.SetLinger(0)
				}
			})
			rec := newRecorder(t, 0)
			p, err := New(Config{Stable: backend(t, "stable").URL, Canary: upURL, Weight: 100, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			done := recorded(p, 1)
			resp, err := http.Get(serve(t, p))
			var n int64
			if err == nil {
				if resp.StatusCode != 200 || resp.Header.Get(TrackHeader) != "canary" {
					t.Errorf("status %d, track %q; want the upstream's 200 on canary", resp.StatusCode, resp.Header.Get(TrackHeader))
				}
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Errorf("client read a complete body (%d bytes), want the connection aborted", n)
			}
			<-done
			st := stats(t, rec, canary.TrackCanary, time.Hour, time.Now().Add(time.Second))
			if st.Requests != 1 || st.Errors != 1 {
				t.Errorf("canary requests, errors = %d, %d; want 1, 1 (a 502)", st.Requests, st.Errors)
			}
			if tot := rec.tracks[1].totals(); tot.codes[2] != 0 || tot.codes[5] != 1 {
				t.Errorf("canary 2xx, 5xx = %d, %d; want 0, 1", tot.codes[2], tot.codes[5])
			}
		})
	}
}

// rawUpstream serves each connection by reading one request header and
// calling answer, then closing the connection.
func rawUpstream(t *testing.T, answer func(*net.TCPConn)) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		answer(c.(*net.TCPConn))
	})
}

// TestSlowHeaderClosed: clients sending their header at 1 byte/s are
// disconnected at the header timeout, before their header is complete,
// while other clients are served meanwhile.
func TestSlowHeaderClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("real time: a few seconds")
	}
	const timeout = 2 * time.Second
	p, err := New(Config{Stable: backend(t, "stable").URL, Canary: backend(t, "canary").URL, Weight: 5, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer("", p)
	srv.ReadHeaderTimeout = timeout
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	const slow = 20
	header := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: slowloris\r\n\r\n"
	type result struct {
		sent    int
		elapsed time.Duration
		err     error
	}
	results := make(chan result, slow)
	for range slow {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer c.Close()
			start := time.Now()
			closed := make(chan struct{})
			go func() { // the server closing shows as the end of reading
				_, _ = c.Read(make([]byte, 1))
				close(closed)
			}()
			sent := 0
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for sent < len(header) {
				if _, err := c.Write([]byte{header[sent]}); err != nil {
					break
				}
				sent++
				select {
				case <-closed:
					results <- result{sent: sent, elapsed: time.Since(start)}
					return
				case <-tick.C:
				}
			}
			<-closed
			results <- result{sent: sent, elapsed: time.Since(start)}
		}()
	}
	// Meanwhile, normal clients.
	stop := make(chan struct{})
	var served, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + addr + "/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					served.Add(1)
				}
			}
		}()
	}
	for range slow {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("slow client: %v", r.err)
		case r.sent >= len(header):
			t.Errorf("slow client sent its whole header (%d bytes) in %s without being closed", r.sent, r.elapsed)
		case r.elapsed < timeout:
			t.Errorf("slow client closed after %s, before the %s header timeout", r.elapsed, timeout)
		}
	}
	close(stop)
	wg.Wait()
	if served.Load() == 0 || failed.Load() != 0 {
		t.Errorf("other clients: %d served, %d failed; want some served and none failed", served.Load(), failed.Load())
	}
	t.Logf("%d requests of other clients served while %d slow clients were held", served.Load(), slow)
}

// TestStreamedUpload: a large request body passes through to the upstream
// without being held in the proxy's memory.
func TestStreamedUpload(t *testing.T) {
	big := int64(1 << 30)
	if testing.Short() || raceEnabled {
		big = 64 << 20
	}
	var got atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		got.Store(n)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	}))
	t.Cleanup(up.Close)
	tp := startProxy(t, Config{Stable: up.URL, Canary: up.URL})
	for _, chunked := range []bool{false, true} {
		size := big
		if chunked {
			size = 64 << 20 // the same path, framed differently
		}
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var body io.Reader = io.LimitReader(zeros{}, size)
			req, _ := http.NewRequest("POST", tp.url+"/upload", body)
			if chunked {
				req.ContentLength = -1
			} else {
				req.ContentLength = size
			}
			client := &http.Client{Timeout: 5 * time.Minute}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if resp.StatusCode != 200 || string(b) != fmt.Sprint(size) || got.Load() != size {
				t.Fatalf("status %d, body %q, upstream got %d; want 200 and %d bytes", resp.StatusCode, b, got.Load(), size)
			}
			// The test's client, the upstream and the proxy share the
			// process: all of them together allocated far less than the body.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(size/16) {
				t.Errorf("allocated %d MiB for a %d MiB upload, want it streamed", alloc>>20, size>>20)
			}
		})
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestGracefulShutdown: a request in flight when Shutdown starts gets its
// whole response, then the server stops accepting connections.
func TestGracefulShutdown(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(up.Close)
	p, err := New(Config{Stable: up.URL, Canary: up.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer("", p)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-arrived
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	// Shutdown closes the listener first: new connections are refused.
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve = %v, want nil after Shutdown", err)
	}
}
