package proxy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

func TestForwardedHeaders(t *testing.T) {
	tests := []struct {
		name          string
		tls           bool
		trust         bool
		inboundXFF    string
		host          string
		wantXFF       string
		wantProto     string
		wantFwdHost   string // "" means the proxy's own address
		stablePath    string
		wantSeenPath  string
		requestTarget string
	}{
		{name: "plain http", wantXFF: "127.0.0.1", wantProto: "http", requestTarget: "/a?b=1", wantSeenPath: "/a?b=1"},
		{name: "tls", tls: true, wantXFF: "127.0.0.1", wantProto: "https", requestTarget: "/", wantSeenPath: "/"},
		// An untrusted client cannot forge the chain.
		{name: "forged chain replaced", inboundXFF: "6.6.6.6", wantXFF: "127.0.0.1", wantProto: "http", requestTarget: "/", wantSeenPath: "/"},
		{name: "trusted chain appended", trust: true, inboundXFF: "10.0.0.1, 10.0.0.2", wantXFF: "10.0.0.1, 10.0.0.2, 127.0.0.1", wantProto: "http", requestTarget: "/", wantSeenPath: "/"},
		{name: "client host kept in X-Forwarded-Host", host: "app.example", wantFwdHost: "app.example", wantXFF: "127.0.0.1", wantProto: "http", requestTarget: "/", wantSeenPath: "/"},
		{name: "upstream path prefix", stablePath: "/v1", wantXFF: "127.0.0.1", wantProto: "http", requestTarget: "/users?id=7", wantSeenPath: "/v1/users?id=7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := backend(t, "stable")
			cfg := Config{Stable: up.URL + tt.stablePath, Canary: up.URL, TrustForwarded: tt.trust, Logger: slog.New(slog.DiscardHandler)}
			hdr := http.Header{}
			if tt.inboundXFF != "" {
				hdr.Set("X-Forwarded-For", tt.inboundXFF)
			}
			got, proxyHost := getThrough(t, cfg, tt.tls, tt.requestTarget, tt.host, hdr)
			wantFwdHost := tt.wantFwdHost
			if wantFwdHost == "" {
				wantFwdHost = proxyHost
			}
			checks := []struct{ header, want string }{
				{"X-Seen-Forwarded-For", tt.wantXFF},
				{"X-Seen-Forwarded-Proto", tt.wantProto},
				{"X-Seen-Forwarded-Host", wantFwdHost},
				{"X-Seen-Host", strings.TrimPrefix(up.URL, "http://")},
				{"X-Seen-Path", tt.wantSeenPath},
				{TrackHeader, "stable"},
			}
			for _, c := range checks {
				if v := got.Get(c.header); v != c.want {
					t.Errorf("%s = %q, want %q", c.header, v, c.want)
				}
			}
		})
	}
}

// getThrough serves a proxy for cfg (over TLS if tls), sends one GET for
// target with the given Host (if any) and headers, and returns the
// response headers and the proxy's host:port.
func getThrough(t *testing.T, cfg Config, useTLS bool, target, host string, hdr http.Header) (http.Header, string) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, scheme := http.DefaultClient, "http"
	var wrap func(net.Listener) net.Listener
	if useTLS {
		// httptest's certificate (for 127.0.0.1) and a client trusting it.
		certSrv := httptest.NewTLSServer(http.NotFoundHandler())
		defer certSrv.Close()
		client, scheme = certSrv.Client(), "https"
		wrap = func(ln net.Listener) net.Listener { return tls.NewListener(ln, certSrv.TLS) }
	}
	addr := serveOn(t, p, wrap).String()
	req, _ := http.NewRequest("GET", scheme+"://"+addr+target, nil)
	req.Header = hdr
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header, addr
}

// wsEchoBackend completes a WebSocket handshake by hand (hijacking the
// connection) and echoes one unfragmented frame of up to 125 bytes.
func wsEchoBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want a websocket upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("backend hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		if err := brw.Flush(); err != nil {
			return
		}
		op, payload, err := readFrame(brw.Reader)
		if err != nil {
			t.Errorf("backend read frame: %v", err)
			return
		}
		_, _ = conn.Write(append([]byte{0x80 | op, byte(len(payload))}, payload...))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// readFrame reads one frame with a payload under 126 bytes, unmasking it.
func readFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[1] & 0x7f)
	if n > 125 {
		return 0, nil, errors.New("frame too long for this test")
	}
	var mask [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return hdr[0] & 0x0f, payload, nil
}

func TestWebSocketPassThrough(t *testing.T) {
	rec := newRecorder(t, 0)
	p, err := New(Config{Stable: backend(t, "stable").URL, Canary: wsEchoBackend(t).URL, Weight: 100, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := recorded(p, 1)
	addr := serve(t, p)[len("http://"):]

	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) || resp.Header.Get(TrackHeader) != "canary" {
		t.Fatalf("handshake: status %d, accept %q, track %q; want 101, %q, canary", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"), resp.Header.Get(TrackHeader), wsAccept(key))
	}
	msg := []byte("hello through the proxy")
	mask := [4]byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask[:]...)
	for i, b := range msg {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	op, got, err := readFrame(br)
	if err != nil {
		t.Fatalf("reading echoed frame: %v", err)
	}
	if op != 1 || string(got) != string(msg) {
		t.Errorf("echo = op %d %q, want op 1 %q", op, got, msg)
	}
	conn.Close()
	<-done
	st := stats(t, rec, canary.TrackCanary, time.Hour, time.Now().Add(time.Second))
	if st.Requests != 1 || st.Errors != 0 || st.LatencySamples != 0 {
		t.Errorf("recorded requests, errors, latency samples = %d, %d, %d; want 1, 0, 0 (an upgrade has no latency)", st.Requests, st.Errors, st.LatencySamples)
	}
}

// TestStreaming: the first chunk reaches the client while the backend is
// still blocked before writing the second.
func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	}))
	t.Cleanup(up.Close)
	tp := startProxy(t, Config{Stable: up.URL, Canary: up.URL})
	resp, err := tp.client.Get(tp.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("first chunk = %q, %v; want %q before the backend finishes", first, err, "first\n")
	}
	unblock()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Errorf("rest = %q, %v; want %q", rest, err, "second\n")
	}
}

// TestAbortedMidBody: an upstream that dies after sending headers counts
// as a 502 of its track.
func TestAbortedMidBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		brw.Flush()
		conn.Close()
	}))
	t.Cleanup(up.Close)
	rec := newRecorder(t, 0)
	p, err := New(Config{Stable: backend(t, "stable").URL, Canary: up.URL, Weight: 100, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := recorded(p, 1)
	resp, err := http.Get(serve(t, p))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("client read the whole body, want a truncated response")
	}
	<-done
	st := stats(t, rec, canary.TrackCanary, time.Hour, time.Now().Add(time.Second))
	if st.Requests != 1 || st.Errors != 1 {
		t.Errorf("canary requests, errors = %d, %d; want 1, 1", st.Requests, st.Errors)
	}
}

// TestClientGone: a client that cancels while the upstream is working is
// recorded as 499, not as an error of the track.
func TestClientGone(t *testing.T) {
	arrived := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	rec := newRecorder(t, 0)
	p, err := New(Config{Stable: up.URL, Canary: up.URL, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := recorded(p, 1)
	url := serve(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded, want it cancelled")
	}
	<-done
	st := stats(t, rec, canary.TrackStable, time.Hour, time.Now().Add(time.Second))
	if st.Requests != 1 || st.Errors != 0 {
		t.Errorf("stable requests, errors = %d, %d; want 1, 0", st.Requests, st.Errors)
	}
}

func TestAdminHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	tp := startProxy(t, Config{Stable: backend(t, "stable").URL, Canary: deadURL(t), Weight: 10})
	if err := tp.rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := tp.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := tp.rec.Register(reg); err == nil {
		t.Error("registering the recorder twice = nil error, want an error")
	}
	for range 20 { // 18 stable, 2 canary 502s
		tp.get(t, "/", nil)
	}
	admin := httptest.NewServer(AdminHandler(reg))
	defer admin.Close()
	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"/healthz", 200, []string{"ok"}},
		{"/metrics", 200, []string{
			`canary_proxy_requests_total{code="2xx",track="stable"} 18`,
			`canary_proxy_requests_total{code="5xx",track="canary"} 2`,
			`canary_proxy_requests_total{code="5xx",track="stable"} 0`,
			`canary_proxy_request_duration_seconds_count{track="stable"} 18`,
			`canary_proxy_request_duration_seconds_bucket{track="canary",le="+Inf"} 2`,
			`canary_proxy_weight 10`,
		}},
		{"/nope", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(admin.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %q; got:\n%s", w, body)
				}
			}
		})
	}
}

// TestFailureLogRateLimited: a dead upstream logs one line a second, with
// the count of failures it left out.
func TestFailureLogRateLimited(t *testing.T) {
	var mu sync.Mutex
	var lines []slog.Record
	logger := slog.New(handlerFunc(func(r slog.Record) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, r)
	}))
	clock := canarytest.NewClock(base)
	tp := startProxy(t, Config{Stable: deadURL(t), Canary: deadURL(t), Logger: logger, Clock: clock})
	for range 10 {
		if status, _, _ := tp.get(t, "/", nil); status != http.StatusBadGateway {
			t.Fatalf("status = %d, want 502", status)
		}
	}
	clock.Advance(time.Second)
	tp.get(t, "/", nil)
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 2 {
		t.Fatalf("logged %d lines for 11 failures over 2 seconds, want 2", len(lines))
	}
	var unlogged int64 = -1
	lines[1].Attrs(func(a slog.Attr) bool {
		if a.Key == "unlogged" {
			unlogged = a.Value.Int64()
		}
		return true
	})
	if unlogged != 9 {
		t.Errorf("second line's unlogged = %d, want 9", unlogged)
	}
}

// handlerFunc is a slog.Handler calling a function for every record.
type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }

// TestSetForwardedMatchesStandard checks that setForwarded sets the
// X-Forwarded-* headers exactly as httputil's SetXForwarded does (after
// copying the inbound chain when trusted, as the net/http proxy did).
func TestSetForwardedMatchesStandard(t *testing.T) {
	tests := []struct {
		name       string
		remoteAddr net.Addr
		xff        []string
		xfHost     string
		trust      bool
	}{
		{name: "plain", remoteAddr: tcpAddr("10.1.2.3:5555")},
		{name: "ipv6", remoteAddr: tcpAddr("[::1]:5555")},
		{name: "untrusted chain dropped", remoteAddr: tcpAddr("10.1.2.3:5555"), xff: []string{"6.6.6.6"}},
		{name: "untrusted chain on two lines dropped", remoteAddr: tcpAddr("10.1.2.3:5555"), xff: []string{"6.6.6.6", "7.7.7.7"}},
		{name: "trusted chain, two header lines", remoteAddr: tcpAddr("10.1.2.3:5555"), xff: []string{"1.1.1.1, 2.2.2.2", "3.3.3.3"}, trust: true},
		{name: "trusted, no chain", remoteAddr: tcpAddr("10.1.2.3:5555"), trust: true},
		{name: "forged X-Forwarded-Host replaced", remoteAddr: tcpAddr("10.1.2.3:5555"), xfHost: "evil.example"},
		// A client without an IP address (a Unix socket) leaves no
		// X-Forwarded-For, as SetXForwarded does for a RemoteAddr
		// without a port.
		{name: "no IP address", remoteAddr: &net.UnixAddr{Name: "@sock", Net: "unix"}, xff: []string{"6.6.6.6"}, trust: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := httptest.NewRequest("GET", "http://app.example/x", nil)
			in.RemoteAddr = tt.remoteAddr.String()
			if tt.xff != nil {
				in.Header["X-Forwarded-For"] = tt.xff
			}
			if tt.xfHost != "" {
				in.Header.Set("X-Forwarded-Host", tt.xfHost)
			}
			want := &httputil.ProxyRequest{In: in, Out: in.Clone(context.Background())}
			want.Out.Header.Del("X-Forwarded-For")
			want.Out.Header.Del("X-Forwarded-Host")
			if tt.trust {
				want.Out.Header["X-Forwarded-For"] = in.Header["X-Forwarded-For"]
			}
			if _, ok := tt.remoteAddr.(*net.TCPAddr); !ok {
				in.RemoteAddr = "sock" // no port: SetXForwarded sets no X-Forwarded-For
			}
			want.SetXForwarded()

			var ctx fasthttp.RequestCtx
			ctx.Init(fastRequest(t, in), tt.remoteAddr, nil)
			h := &ctx.Request.Header
			(&Proxy{trust: tt.trust}).setForwarded(&ctx, h, scanRequestHeaders(h.RawHeaders()))
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				var got []string
				for _, v := range h.PeekAll(k) {
					got = append(got, string(v))
				}
				if !reflect.DeepEqual(got, want.Out.Header.Values(k)) {
					t.Errorf("%s = %q, want %q", k, got, want.Out.Header.Values(k))
				}
			}
		})
	}
}

func tcpAddr(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}
