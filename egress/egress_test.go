package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/canary-dev/canary/egress"
)

func nets(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	n, _, err := egress.ParseList(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDefaultRefusesMetadata: the zero Policy dials ordinary addresses
// and refuses link-local and cloud metadata ones before any packet is
// sent (Control runs before connect).
func TestDefaultRefusesMetadata(t *testing.T) {
	var p egress.Policy
	for _, addr := range []string{"169.254.169.254:80", "169.254.0.1:443", "100.100.100.200:80", "0.0.0.0:80"} {
		c, err := p.DialContext(t.Context(), "tcp", addr)
		if err == nil {
			c.Close()
			t.Fatalf("dial %s: connected, want refused", addr)
		}
		if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "metadata") {
			t.Errorf("dial %s: %v, want the metadata refusal", addr, err)
		}
	}
	for _, ip := range []string{"fe80::1", "fe80::1%eth0", "fd00:ec2::254", "::ffff:169.254.169.254"} {
		if err := p.Check("", netip.MustParseAddr(ip)); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("Check(%s) = %v, want refused", ip, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "2001:db8::1", "100.100.100.201"} {
		if err := p.Check("", netip.MustParseAddr(ip)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", ip, err)
		}
	}
	// An explicit allow lifts the block for what it covers.
	p.Allow = nets(t, "169.254.10.0/24")
	if err := p.Check("", netip.MustParseAddr("169.254.10.7")); err != nil {
		t.Errorf("allowed link-local: %v", err)
	}
	if err := p.Check("", netip.MustParseAddr("169.254.169.254")); err == nil {
		t.Error("metadata outside the allowed /24 was allowed")
	}
}

// TestDialChecksResolvedAddress: the policy sees the address a name
// resolves to at dial time, so a name cannot launder a refused address
// (the DNS-rebinding case), and host allow lists match the name.
func TestDialChecksResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	deny := egress.Policy{Deny: nets(t, "127.0.0.0/8,::1")}
	if _, err := deny.DialContext(t.Context(), "tcp", net.JoinHostPort("localhost", port)); !errors.Is(err, egress.ErrRefused) ||
		!strings.Contains(err.Error(), "localhost (127.0.0.1)") && !strings.Contains(err.Error(), "localhost (::1)") {
		t.Fatalf("dial localhost with loopback denied: %v, want refused naming host and address", err)
	}
	onlyTen := egress.Policy{Allow: nets(t, "10.0.0.0/8")}
	if _, err := onlyTen.DialContext(t.Context(), "tcp", srv.Listener.Addr().String()); !errors.Is(err, egress.ErrRefused) ||
		!strings.Contains(err.Error(), "not in --egress-allow") {
		t.Fatalf("dial outside the allow list: %v", err)
	}
	byName := egress.Policy{Allow: nets(t, "10.0.0.0/8"), AllowHosts: []string{"localhost"}}
	c, err := byName.DialContext(t.Context(), "tcp", net.JoinHostPort("localhost", port))
	if err != nil {
		t.Fatalf("dial an allowed host name: %v", err)
	}
	c.Close()
	wild := egress.Policy{DenyHosts: []string{"*.example.com"}}
	if err := wild.Check("prom.example.com", netip.MustParseAddr("10.0.0.1")); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("denied subdomain: %v", err)
	}
	if err := wild.Check("example.com", netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Errorf("*.example.com refused example.com itself: %v", err)
	}
}

// TestClientRefusesRedirectToMetadata: a permitted server redirecting to
// the metadata address does not get the client there.
func TestClientRefusesRedirectToMetadata(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	defer srv.Close()
	var p egress.Policy
	resp, err := p.Client().Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("followed a redirect to the metadata address")
	}
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("got %v, want ErrRefused", err)
	}
	if err := p.CheckURL(context.Background(), "http://169.254.169.254/x", nil); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("CheckURL: %v", err)
	}
	if err := p.CheckURL(context.Background(), srv.URL, nil); err != nil {
		t.Fatalf("CheckURL of a loopback server: %v", err)
	}
}

// TestListen: the proxy may listen on loopback by default; all interfaces
// or another address only when allowed, and the error names the flag.
func TestListen(t *testing.T) {
	var def egress.Listen
	for _, ok := range []string{"127.0.0.1:0", "127.0.0.2:8080", "[::1]:8080", "localhost:8080"} {
		if err := def.Check(t.Context(), ok); err != nil {
			t.Errorf("Check(%s) = %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "10.0.0.5:80"} {
		if err := def.Check(t.Context(), bad); !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "--proxy-listen") {
			t.Errorf("Check(%s) = %v, want refused naming --proxy-listen", bad, err)
		}
	}
	any4 := egress.Listen{Allow: nets(t, "0.0.0.0/0")}
	if err := any4.Check(t.Context(), "0.0.0.0:8080"); err != nil {
		t.Errorf("0.0.0.0 with 0.0.0.0/0 allowed: %v", err)
	}
	if err := any4.Check(t.Context(), "[::]:8080"); err == nil {
		t.Error(":: allowed by 0.0.0.0/0")
	}
}

func TestParseList(t *testing.T) {
	n, h, err := egress.ParseList(" 10.0.0.0/8, 192.168.1.7 ,prom.example.com,*.corp.example, fd00::/8")
	if err != nil || len(n) != 3 || len(h) != 2 || n[1].String() != "192.168.1.7/32" {
		t.Fatalf("ParseList = %v %v %v", n, h, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "http://x", "a b"} {
		if _, _, err := egress.ParseList(bad); err == nil {
			t.Errorf("ParseList(%q) accepted", bad)
		}
	}
}
