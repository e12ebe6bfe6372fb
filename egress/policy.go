package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Blocked are the networks refused unless a Policy's Allow names them
// explicitly: link-local addresses (where cloud metadata services and the
// instance's credentials live) and the metadata addresses clouds put
// elsewhere.
var Blocked = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // IPv4 link-local: AWS, GCP, Azure, OpenStack metadata
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS IMDS over IPv6
	netip.MustParsePrefix("0.0.0.0/32"),         // "this host": reaches local listeners on Linux
	netip.MustParsePrefix("::/128"),             // the IPv6 unspecified address, likewise
}

// ErrRefused is wrapped by every refusal of a Policy.
var ErrRefused = errors.New("refused by the outbound policy")

// Policy says which destinations plans may reach. The zero value refuses
// only Blocked.
//
// A destination (a host name and the IP address dialed) is refused when
// the IP is in Deny or the host is in DenyHosts; else when the IP is in
// Blocked and not in Allow; else, when Allow or AllowHosts is set, unless
// the IP is in Allow or the host is in AllowHosts. Deny wins over allow.
type Policy struct {
	// Allow are the networks plans may reach; empty: any (but Blocked).
	// A network here also lifts Blocked for the addresses it covers.
	Allow []netip.Prefix
	// Deny are networks never reached.
	Deny []netip.Prefix
	// AllowHosts are host names plans may reach whatever their address
	// (still not Deny, and not Blocked unless in Allow). A leading "*."
	// matches any subdomain. Empty: decided by address only.
	AllowHosts []string
	// DenyHosts are host names never reached ("*." as in AllowHosts).
	DenyHosts []string
}

// Check decides one destination: host as written in the plan (a name or
// an IP literal) and ip, the address dialed.
//
// A nil Policy allows everything (canary run: the plan is the user's own).
func (p *Policy) Check(host string, ip netip.Addr) error {
	if p == nil {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case inAny(p.Deny, ip):
		return p.refused(host, ip, "it is in --egress-deny")
	case matchHost(p.DenyHosts, host):
		return p.refused(host, ip, "the host is in --egress-deny")
	case inAny(Blocked, ip) && !inAny(p.Allow, ip):
		return p.refused(host, ip, "link-local and cloud metadata addresses are refused unless --egress-allow names them")
	case len(p.Allow) == 0 && len(p.AllowHosts) == 0:
		return nil
	case inAny(p.Allow, ip) || matchHost(p.AllowHosts, host):
		return nil
	}
	return p.refused(host, ip, "it is not in --egress-allow")
}

func (p *Policy) refused(host string, ip netip.Addr, why string) error {
	if host == "" || host == ip.String() {
		return fmt.Errorf("%w: %s: %s", ErrRefused, ip, why)
	}
	return fmt.Errorf("%w: %s (%s): %s", ErrRefused, host, ip, why)
}

// CheckURL resolves the host of raw (an http or https URL) with resolver
// (nil: net.DefaultResolver) and checks every address it has, so a plan
// naming a refused destination is refused when it is applied rather than
// at its first request. A name that does not resolve now is not refused
// here: the dialer decides when it is reached.
func (p *Policy) CheckURL(ctx context.Context, raw string, resolver *net.Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	return p.CheckHost(ctx, u.Hostname(), resolver)
}

// CheckHost checks every address host has now (see CheckURL).
func (p *Policy) CheckHost(ctx context.Context, host string, resolver *net.Resolver) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.Check(host, ip)
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ips, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if err := p.Check(host, ip); err != nil {
			return err
		}
	}
	return nil
}

// inAny reports whether ip is in one of nets.
func inAny(nets []netip.Prefix, ip netip.Addr) bool {
	return slices.ContainsFunc(nets, func(n netip.Prefix) bool { return n.Contains(ip) })
}

// matchHost reports whether host is one of names ("*.example.com" matches
// its subdomains, not example.com itself).
func matchHost(names []string, host string) bool {
	if host == "" {
		return false
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if suffix, ok := strings.CutPrefix(n, "*"); ok && strings.HasPrefix(suffix, ".") {
			if strings.HasSuffix(host, suffix) {
				return true
			}
		} else if host == n {
			return true
		}
	}
	return false
}

// ParseList reads a comma-separated list of networks (CIDR or a single
// IP) and host names, as --egress-allow and --egress-deny take them.
func ParseList(s string) (nets []netip.Prefix, hosts []string, err error) {
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case strings.Contains(f, "/"):
			n, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, nil, fmt.Errorf("%q is not a network: write it as 10.0.0.0/8 or fd00::/8", f)
			}
			nets = append(nets, n.Masked())
		default:
			if ip, err := netip.ParseAddr(f); err == nil {
				nets = append(nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			if !validHost(f) {
				return nil, nil, fmt.Errorf("%q is neither a network (10.0.0.0/8), an address nor a host name (prometheus.example.com, *.example.com)", f)
			}
			hosts = append(hosts, strings.ToLower(f))
		}
	}
	return nets, hosts, nil
}

// validHost accepts DNS names, optionally starting with "*.".
func validHost(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}
