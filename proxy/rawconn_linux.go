//go:build linux

package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// maxRW caps one read or write system call, as internal/poll does.
const maxRW = 1 << 30

// rawConn is a TCP connection whose Read and Write make their system calls
// with syscall.RawSyscall instead of the runtime's entersyscall and
// exitsyscall. The socket is non-blocking, so a call never waits: when it
// would, the goroutine parks on the runtime's poller (RawConn.Read and
// Write), as net.Conn's own Read and Write do; deadlines and Close work
// the same. What changes is the scheduler's view: with entersyscall every
// loopback read and write (tens of µs on a busy machine) marks the
// goroutine's P as in a system call, which wakes the sysmon thread and
// lets it hand the P to another thread (futex wake-ups and thread
// switches per request, the nanosleep and futex calls strace counted);
// a raw call keeps the P. Everything else (deadlines, Close, addresses,
// SyscallConn, ReadFrom and WriteTo for splice) is the *net.TCPConn's.
//
// One goroutine reads and one writes at a time (as net.Conn allows
// concurrent Read and Write but the proxy never reads concurrently): the
// buffers of the call in progress are fields, so that Read and Write
// allocate nothing.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn

	rbuf  []byte
	rn    int
	rerr  syscall.Errno
	readF func(uintptr) bool

	wbuf   []byte
	wn     int
	werr   syscall.Errno
	writeF func(uintptr) bool
}

// fastConn returns c with raw-syscall Read and Write when it is a
// *net.TCPConn, else c itself.
func fastConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{TCPConn: tc, rc: rc}
	r.readF = r.doRead
	r.writeF = r.doWrite
	return r
}

func (c *rawConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > maxRW {
		b = b[:maxRW]
	}
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.readF)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// doRead makes one read call; false asks RawConn.Read to wait for the
// socket to become readable and call again.
func (c *rawConn) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerr = e
		return true
	}
}

func (c *rawConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werr = b, 0, 0
	err := c.rc.Write(c.writeF)
	n, errno := c.wn, c.werr
	c.wbuf = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// doWrite writes until all of wbuf is written (true) or the socket's
// buffer is full (false: RawConn.Write waits until it is writable).
func (c *rawConn) doWrite(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		chunk := min(len(c.wbuf)-c.wn, maxRW)
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(chunk))
		switch e {
		case 0:
			c.wn += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.werr = e
		return true
	}
	return true
}

// opError wraps err as net.Conn's Read and Write do: a *net.OpError naming
// the operation and both addresses (RawConn's own errors name its
// "raw-read" or "raw-write" operation; the cause is kept).
func (c *rawConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// fastListener accepts connections wrapped by fastConn.
type fastListener struct{ net.Listener }

func (l fastListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return fastConn(c), nil
}
