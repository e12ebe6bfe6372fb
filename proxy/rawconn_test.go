//go:build linux

package proxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// rawPair returns a connected pair of loopback TCP connections: a is
// wrapped by fastConn, b is a plain *net.TCPConn.
func rawPair(t *testing.T) (a *rawConn, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := fastListener{ln}.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	b, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	a, ok := c.(*rawConn)
	if !ok {
		t.Fatalf("fastListener accepted a %T, want *rawConn", c)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRawConnReadWrite: bytes go both ways intact, including a write far
// larger than the socket buffers (the raw write fills them, waits on the
// poller, and resumes where it stopped), and a peer's close reads as
// io.EOF.
func TestRawConnReadWrite(t *testing.T) {
	a, b := rawPair(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(io.LimitReader(b, int64(len(big))))
		got <- buf
	}()
	n, err := a.Write(big)
	if err != nil || n != len(big) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if buf := <-got; !bytes.Equal(buf, big) {
		t.Fatalf("peer read %d bytes, not the %d written", len(buf), len(big))
	}
	if _, err := b.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err = io.ReadAtLeast(a, buf, 5)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
	}
	b.Close()
	if n, err := a.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v; want 0, io.EOF", n, err)
	}
}

// TestRawConnDeadlineAndClose: a read deadline ends a waiting Read with
// os.ErrDeadlineExceeded (a net.Error whose Timeout is true, as the
// proxy's client-gone loop and fasthttp expect), and Close from another
// goroutine ends one with net.ErrClosed.
func TestRawConnDeadlineAndClose(t *testing.T) {
	a, _ := rawPair(t)
	buf := make([]byte, 8)
	_ = a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := a.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past its deadline: %v; want a timeout wrapping os.ErrDeadlineExceeded", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read error %#v: want a *net.OpError for read", err)
	}
	_ = a.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Read(buf)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the Read park; the outcome is the same if it has not
	a.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read ended by Close: %v; want net.ErrClosed", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v; want net.ErrClosed", err)
	}
}

// TestRawConnResetIsSyscallError: writing to a peer that reset the
// connection fails with the errno inside, as net.Conn's Write does.
func TestRawConnResetIsSyscallError(t *testing.T) {
	a, b := rawPair(t)
	_ = b.(*net.TCPConn).SetLinger(0)
	b.Close() // RST
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = a.Write([]byte("after the reset"))
		time.Sleep(time.Millisecond)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("Write to a reset peer: %v; want an *os.SyscallError (ECONNRESET or EPIPE)", err)
	}
}

// TestRawConnNoAllocs: Read and Write allocate nothing.
func TestRawConnNoAllocs(t *testing.T) {
	a, b := rawPair(t)
	msg := []byte("ping")
	buf := make([]byte, 16)
	bbuf := make([]byte, 16)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := a.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(b, bbuf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(a, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write/read round trip, want 0", allocs)
	}
}

// TestProxySocketsAreRaw: the server's client connections and the pooled
// upstream connections are rawConns (the per-request CPU saving of
// BENCHMARKS.md "Raw system calls" depends on both), and a request
// through them is answered.
func TestProxySocketsAreRaw(t *testing.T) {
	st := backend(t, "stable")
	p, err := New(Config{Stable: st.URL, Canary: st.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer("", p)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !bytes.Contains(buf[:n], []byte("200 OK")) {
		t.Fatalf("response %q, %v; want 200 OK", buf[:n], err)
	}
	srv.mu.Lock()
	for sc := range srv.conns {
		if _, ok := sc.(*rawConn); !ok {
			t.Errorf("client connection is a %T, want *rawConn", sc)
		}
	}
	clients := len(srv.conns)
	srv.mu.Unlock()
	pool := p.route.Load().stable.pool
	pool.mu.Lock()
	idle := len(pool.idle)
	for _, uc := range pool.idle {
		if _, ok := uc.Conn.(*rawConn); !ok {
			t.Errorf("upstream connection is a %T, want *rawConn", uc.Conn)
		}
	}
	pool.mu.Unlock()
	if clients != 1 || idle != 1 {
		t.Fatalf("%d client and %d idle upstream connections, want 1 and 1", clients, idle)
	}
}
