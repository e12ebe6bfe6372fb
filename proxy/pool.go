package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"sync"
	"time"
)

// Upstream connection settings.
const (
	// upstreamIdleTimeout closes a pooled connection idle this long
	// instead of reusing it (as net/http's Transport, 90s).
	upstreamIdleTimeout = 90 * time.Second
	// upstreamBufferSize is each upstream connection's read and write
	// buffer; a response header must fit in the read buffer.
	upstreamBufferSize = 16 << 10
)

// connPool keeps idle keep-alive connections to one upstream origin, most
// recently used first, and dials new ones. It never limits how many
// connections are in use: the proxy opens what its clients need.
type connPool struct {
	addr    string // host:port
	tls     *tls.Config
	maxIdle int

	mu   sync.Mutex
	idle []*upConn // oldest first; taken from the end
}

// upConn is one upstream connection with its buffers.
type upConn struct {
	net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

func newConnPool(u *url.URL, maxIdle int) *connPool {
	cp := &connPool{addr: u.Host, maxIdle: maxIdle}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		cp.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		cp.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
	}
	return cp
}

// get returns an idle connection (reused = true) or a new one.
func (cp *connPool) get(now time.Time) (c *upConn, reused bool, err error) {
	cp.mu.Lock()
	for n := len(cp.idle); n > 0; n-- {
		c = cp.idle[n-1]
		cp.idle[n-1] = nil
		cp.idle = cp.idle[:n-1]
		if now.Sub(c.idleSince) < upstreamIdleTimeout {
			cp.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	cp.mu.Unlock()
	c, err = cp.dial()
	return c, false, err
}

// dial opens a new connection (TLS for an https upstream).
func (cp *connPool) dial() (*upConn, error) {
	conn, err := dialer.Dial("tcp", cp.addr)
	if err != nil {
		return nil, err
	}
	conn = fastConn(conn)
	if cp.tls != nil {
		tc := tls.Client(conn, cp.tls)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	return &upConn{Conn: conn, br: bufio.NewReaderSize(conn, upstreamBufferSize), bw: bufio.NewWriterSize(conn, upstreamBufferSize)}, nil
}

// put returns c to the pool for reuse, or closes it when the pool is
// full. Connections idle past the timeout are closed on the way.
func (cp *connPool) put(c *upConn, now time.Time) {
	c.idleSince = now
	cp.mu.Lock()
	for len(cp.idle) > 0 && now.Sub(cp.idle[0].idleSince) >= upstreamIdleTimeout {
		cp.idle[0].Close()
		cp.idle[0] = nil
		cp.idle = cp.idle[1:]
	}
	if len(cp.idle) >= cp.maxIdle {
		cp.mu.Unlock()
		c.Close()
		return
	}
	cp.idle = append(cp.idle, c)
	cp.mu.Unlock()
}

// closeIdle closes every idle connection.
func (cp *connPool) closeIdle() {
	cp.mu.Lock()
	idle := cp.idle
	cp.idle = nil
	cp.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}
