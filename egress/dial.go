package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// DialContext connects to addr ("host:port") as net.Dialer does, checking
// every address it tries with Check just before connecting: the check sees
// the IP the name resolved to at that moment, so DNS rebinding cannot slip
// past it. A nil Policy dials anything.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if p != nil {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		d.Control = func(_, address string, _ syscall.RawConn) error {
			h, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot read the address %q", ErrRefused, address)
			}
			ip, err := netip.ParseAddr(h)
			if err != nil {
				return fmt.Errorf("%w: cannot read the address %q", ErrRefused, address)
			}
			return p.Check(host, ip)
		}
	}
	return d.DialContext(ctx, network, addr)
}

// Transport is http.DefaultTransport's settings with DialContext as its
// dialer and no proxy from the environment (a proxy would make the
// policy check the proxy's address instead of the destination's).
func (p *Policy) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if p != nil {
		tr.Proxy = nil
		tr.DialContext = p.DialContext
	}
	return tr
}

// Client is an http.Client on Transport with no overall timeout (every
// call of canary's sets its own deadline). Redirects are dialed through
// the same Transport, so they are checked too.
func (p *Policy) Client() *http.Client {
	return &http.Client{Transport: p.Transport()}
}
