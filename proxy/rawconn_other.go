//go:build !linux

package proxy

import "net"

// fastConn returns c: raw-syscall connections are Linux only.
func fastConn(c net.Conn) net.Conn { return c }

// fastListener is its listener unchanged off Linux.
type fastListener struct{ net.Listener }
