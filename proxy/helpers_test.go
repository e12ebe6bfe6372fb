package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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

// served wraps a handler and reports each request's end (after the proxy
// has recorded it) on the returned channel, even if the handler panicked.
func served(h http.Handler, buffer int) (http.Handler, <-chan struct{}) {
	done := make(chan struct{}, buffer)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		h.ServeHTTP(w, r)
	}), done
}

// testProxy is a proxy with a recorder behind an httptest server.
type testProxy struct {
	*Proxy
	rec    *Recorder
	srv    *httptest.Server
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
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &testProxy{Proxy: p, rec: cfg.Recorder, srv: srv, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// get fetches path through the proxy and returns status, track and body.
func (tp *testProxy) get(t *testing.T, path string, hdr http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", tp.srv.URL+path, nil)
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
