package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Loopback is the default of Listen.Allow: 127.0.0.0/8 and ::1.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Listen says where a plan's built-in proxy (traffic.proxy.listen and
// admin) may listen under canary serve.
type Listen struct {
	// Allow are the networks whose addresses may be listened on; an
	// address of all interfaces (0.0.0.0, ::, or no host) needs 0.0.0.0/0
	// or ::/0. Default: Loopback.
	Allow []netip.Prefix
}

// Check refuses an address ("host:port") outside Allow, naming the flag
// that widens it. A host name is resolved and every address it has must
// be allowed.
func (l Listen) Check(ctx context.Context, addr string) error {
	allow := l.Allow
	if len(allow) == 0 {
		allow = Loopback
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	var ips []netip.Addr
	if host == "" {
		ips = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	} else if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip.Unmap().WithZone("")}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return fmt.Errorf("cannot resolve %q to check it against --proxy-listen: %v", host, err)
	}
	for _, ip := range ips {
		if !listenAllowed(allow, ip.Unmap()) {
			return fmt.Errorf("%w: %s may not be listened on: the server allows only %s (widen --proxy-listen to allow it)",
				ErrRefused, addr, prefixes(allow))
		}
	}
	return nil
}

// listenAllowed reports whether ip is in allow; an unspecified address
// (all interfaces) only by a prefix of length 0 of its family.
func listenAllowed(allow []netip.Prefix, ip netip.Addr) bool {
	if ip.IsUnspecified() {
		return slices.ContainsFunc(allow, func(n netip.Prefix) bool { return n.Bits() == 0 && n.Addr().Is4() == ip.Is4() })
	}
	return inAny(allow, ip)
}

// prefixes writes nets comma-separated.
func prefixes(nets []netip.Prefix) string {
	s := make([]string, len(nets))
	for i, n := range nets {
		s[i] = n.String()
	}
	return strings.Join(s, ", ")
}
