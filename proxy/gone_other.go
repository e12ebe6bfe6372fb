//go:build !unix

package proxy

import "net"

// clientGone cannot tell on this platform: a client that goes away is
// noticed when its response is written.
func clientGone(net.Conn) bool { return false }
