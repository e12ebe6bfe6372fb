//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// clientGone reports whether the peer of c has closed or reset the
// connection, without reading from it: it peeks at the socket without
// blocking. Data waiting to be read (a pipelined request) means the
// client is still there.
func clientGone(c net.Conn) bool {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil || n == 0:
			gone = true
		}
		return true
	})
	return gone || err != nil
}
