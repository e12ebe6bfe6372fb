package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// backend starts an upstream that answers its name and echoes what it saw
// of the forwarding headers.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		h.Set("X-Seen-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
		h.Set("X-Seen-Forwarded-Host", r.Header.Get("X-Forwarded-Host"))
		h.Set("X-Seen-Host", r.Host)
		h.Set("X-Seen-Path", r.URL.RequestURI())
		h.Set(TrackHeader, "forged-by-upstream") // the proxy must replace it
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// deadURL returns a URL on which nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// recorded reports each request's end (after the proxy has recorded it)
// on the returned channel. Call it before serving p.
func recorded(p *Proxy, buffer int) <-chan struct{} {
	done := make(chan struct{}, buffer)
	p.onRecord = func() { done <- struct{}{} }
	return done
}

// serve serves p with NewServer on a loopback port until the test ends,
// and returns its base URL (http://127.0.0.1:port).
func serve(t testing.TB, p *Proxy) string {
	t.Helper()
	return "http://" + serveOn(t, p, nil).String()
}

// serveOn serves p on a new loopback listener (wrapped by wrap, if not
// nil) until the test ends, and returns the listener's address.
func serveOn(t testing.TB, p *Proxy, wrap func(net.Listener) net.Listener) net.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr()
	if wrap != nil {
		ln = wrap(ln)
	}
	srv := NewServer("", p)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return addr
}

// testProxy is a proxy with a recorder behind an httptest server.
type testProxy struct {
	*Proxy
	rec    *Recorder
	url    string // the proxy's base URL
	client *http.Client
}

func startProxy(t *testing.T, cfg Config) *testProxy {
	t.Helper()
	if cfg.Recorder == nil {
		cfg.Recorder = newRecorder(t, 0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url := serve(t, p)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &testProxy{Proxy: p, rec: cfg.Recorder, url: url, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// get fetches path through the proxy and returns status, track and body.
func (tp *testProxy) get(t *testing.T, path string, hdr http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", tp.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := tp.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, resp.Header.Get(TrackHeader), string(body)
}

// fastRequest parses r (as a client would send it) into a fasthttp
// request, keeping the order of its header lines.
func fastRequest(t testing.TB, r *http.Request) *fasthttp.Request {
	t.Helper()
	var raw bytes.Buffer
	if err := r.Write(&raw); err != nil {
		t.Fatal(err)
	}
	req := new(fasthttp.Request)
	if err := req.Read(bufio.NewReader(&raw)); err != nil {
		t.Fatalf("parsing %q: %v", raw.String(), err)
	}
	return req
}
