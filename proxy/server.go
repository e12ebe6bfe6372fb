package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Server timeouts and sizes used by NewServer.
const (
	// ServerReadHeaderTimeout bounds how long a client may take to send
	// the request line and headers (slowloris protection), from its first
	// byte (from accepting the connection for the first request).
	ServerReadHeaderTimeout = 10 * time.Second
	// ServerIdleTimeout closes keep-alive connections idle this long.
	ServerIdleTimeout = 120 * time.Second
	// ServerMaxHeaderBytes caps the request line and headers together, as
	// nginx's large_client_header_buffers (4×8k) roughly does; a larger
	// header is answered 431.
	ServerMaxHeaderBytes = 16 << 10
)

// Server serves a Proxy on plain HTTP/1.1 connections (no TLS, no HTTP/2,
// no h2c) with the fasthttp server: one goroutine per connection, reused
// buffers, no per-request goroutine. The zero value is not usable: call
// NewServer, change the fields if needed, then Serve or ListenAndServe.
type Server struct {
	// Addr is the address ListenAndServe listens on.
	Addr string
	// ReadHeaderTimeout bounds the request line and headers (and up to
	// 8 KiB of a body that came with them); a client slower than that is
	// disconnected. Bodies, responses and upgraded connections are not
	// timed: a client going away ends them. Default
	// ServerReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new
	// request for this long. Default ServerIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers (it is the
	// connection's read buffer). Default ServerMaxHeaderBytes.
	MaxHeaderBytes int
	// Logger receives the server's errors (malformed requests and the
	// like) at Debug. Default: the proxy's logger.
	Logger *slog.Logger

	p       *Proxy
	handler fasthttp.RequestHandler
	once    sync.Once
	fs      *fasthttp.Server

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open connections, for Close
	lns    []net.Listener
	closed bool // Shutdown or Close was called
}

// NewServer returns a Server for p on addr with the default timeouts.
func NewServer(addr string, p *Proxy) *Server {
	return &Server{Addr: addr, ReadHeaderTimeout: ServerReadHeaderTimeout, IdleTimeout: ServerIdleTimeout,
		MaxHeaderBytes: ServerMaxHeaderBytes, p: p, handler: p.handle, conns: make(map[net.Conn]struct{})}
}

// NewPreviewServer returns a server of p's blue/green preview: every
// request goes to the canary's URL, whatever the route, and none is
// recorded (a person trying the new version is not evidence about it).
func NewPreviewServer(addr string, p *Proxy) *Server {
	s := NewServer(addr, p)
	s.handler = p.handlePreview
	return s
}

// server builds the fasthttp server from the fields, once.
func (s *Server) server() *fasthttp.Server {
	s.once.Do(func() {
		log := s.Logger
		if log == nil {
			log = s.p.log
		}
		s.fs = &fasthttp.Server{
			Handler:                       s.handler,
			ReadTimeout:                   s.ReadHeaderTimeout,
			IdleTimeout:                   s.IdleTimeout,
			ReadBufferSize:                s.MaxHeaderBytes,
			StreamRequestBody:             true,
			DisablePreParseMultipartForm:  true,
			NoDefaultServerHeader:         true,
			NoDefaultDate:                 true,
			NoDefaultContentType:          true,
			DisableHeaderNamesNormalizing: false,
			CloseOnShutdown:               true,
			ReduceMemoryUsage:             true,
			Logger:                        fastLogger{log},
			ConnState:                     s.track,
		}
	})
	return s.fs
}

// track keeps the set of open connections, for Close.
func (s *Server) track(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
	case fasthttp.StateHijacked, fasthttp.StateClosed:
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// Serve serves the proxy on ln until Shutdown or Close, which make it
// return nil.
func (s *Server) Serve(ln net.Listener) error {
	fs := s.server()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	err := fs.Serve(fastListener{ln})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Start listens on addr (e.g. 127.0.0.1:0) and serves the proxy in the
// background until Shutdown or Close; it returns the address listened on.
// Errors after the start are logged.
func (s *Server) Start(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := s.Serve(ln); err != nil {
			s.p.log.Error("proxy server stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	return ln.Addr(), nil
}

// ListenAndServe listens on s.Addr and serves the proxy.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Shutdown stops accepting connections, closes idle ones and waits for
// the requests in flight to finish (closing each connection after its
// response) or for ctx to end, whichever comes first. Upgraded
// connections (WebSockets) are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	err := s.server().ShutdownWithContext(ctx)
	if errors.Is(err, net.ErrClosed) { // the listeners, closed above
		err = nil
	}
	return err
}

// closeListeners marks s closed and closes its listeners, including one
// whose Serve has not reached fasthttp yet.
func (s *Server) closeListeners() {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	s.lns = nil
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.closeListeners()
	err := s.server().ShutdownWithContext(ctx)
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// fastLogger passes fasthttp's log lines to slog at Debug.
type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	f.l.Debug("proxy server", "msg", fmt.Sprintf(format, args...))
}
