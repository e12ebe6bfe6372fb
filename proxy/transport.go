package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// copyBufferSize is the size of the buffers ReverseProxy copies response
// bodies with (its own default, allocated per request without a pool).
const copyBufferSize = 32 << 10

// DefaultTransport returns the transport proxies use when Config.Transport
// is nil: one *http.Transport shared by every Proxy in the process, tuned
// for a reverse proxy talking to a few upstreams:
//
//   - up to 512 idle keep-alive connections per upstream (net/http keeps 2,
//     so a proxy under 64 concurrent clients would open and close
//     connections all the time), 1024 in all, closed after 90s idle;
//   - 5s to connect, 10s for a TLS handshake, TCP keep-alive every 30s;
//   - no response-header timeout (long polls and streams are allowed);
//   - no environment HTTP proxy, no transparent gzip (Accept-Encoding and
//     the encoded body pass through untouched), HTTP/1.1 to upstreams (as
//     nginx), which also carries WebSocket upgrades.
func DefaultTransport() *http.Transport { return defaultTransport() }

var defaultTransport = sync.OnceValue(func() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
})

// bufferPool is an httputil.BufferPool of 32 KiB copy buffers. It pools
// pointers to arrays, so neither Get nor Put allocates (pooling []byte
// values would allocate a slice header on every Put).
type bufferPool struct{ p sync.Pool }

func newBufferPool() httputil.BufferPool { return &bufferPool{} }

// Get returns a 32 KiB buffer.
func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return buf[:]
	}
	return new([copyBufferSize]byte)[:]
}

// Put returns buf, which Get returned, to the pool.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < copyBufferSize {
		return
	}
	b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
}

// Server timeouts used by NewServer.
const (
	// ServerReadHeaderTimeout bounds how long a client may take to send
	// the request line and headers (slowloris protection).
	ServerReadHeaderTimeout = 10 * time.Second
	// ServerIdleTimeout closes keep-alive connections idle this long.
	ServerIdleTimeout = 120 * time.Second
	// ServerMaxHeaderBytes caps the request line and headers, as nginx's
	// large_client_header_buffers (4×8k) roughly does.
	ServerMaxHeaderBytes = 64 << 10
)

// NewServer returns an *http.Server for h on addr with timeouts fit for
// real clients: ReadHeaderTimeout 10s, IdleTimeout 120s, MaxHeaderBytes
// 64 KiB. It sets no ReadTimeout or WriteTimeout, which would cut uploads,
// streamed responses and WebSockets; upstream slowness is bounded by the
// client going away.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}
