package sample

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves a Service on a loopback address.
type Server struct {
	svc  *Service
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Start serves a Service built from cfg on addr until ctx is done or
// Close is called. addr must be on this machine (127.0.0.0/8, ::1 or
// localhost); port 0 picks a free port, and "" means 127.0.0.1:0.
func Start(ctx context.Context, addr string, cfg Config) (*Server, error) {
	svc, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := CheckAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", svc.name, err)
	}
	s := &Server{
		svc: svc, ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// CheckAddr refuses listen addresses reachable from other machines.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("sample: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("sample: listen address %q is not a loopback address (use 127.0.0.1:PORT): sample services only serve this machine", addr)
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Addr is the address the server listens on, e.g. 127.0.0.1:41234.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Service is the service being served, to change its behaviour or read
// its counts.
func (s *Server) Service() *Service { return s.svc }

// Done is closed once the server has stopped serving.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops the server at once: the listener and every connection are
// closed, so requests waiting out their latency are canceled. It waits for
// the server to stop and is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		err := s.srv.Close()
		<-s.done
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}
