package proxy

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// hopFlags says which headers needing work a request has, from one scan
// of its raw header block.
type hopFlags uint16

const (
	hopHeader  hopFlags = 1 << iota // a hop-by-hop header (removed before forwarding)
	hopUpgrade                      // an Upgrade header
	hasXFF                          // X-Forwarded-For
	hasXFHost                       // X-Forwarded-Host
	hasXFProto                      // X-Forwarded-Proto
)

// hopByHop are the request headers not forwarded (RFC 9110 7.6.1, as
// net/http/httputil.ReverseProxy), in canonical form. Expect is answered
// by the proxy's server itself. Headers named by Connection go as well.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Upgrade", "Expect"}

// scanRequestHeaders classifies the header names in raw (the header
// block as received, one "Name: value" line each).
func scanRequestHeaders(raw []byte) hopFlags {
	var f hopFlags
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		line := raw
		if i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		f |= classify(line[:colon])
	}
	return f
}

// classify returns the flag of one header name (any case).
func classify(k []byte) hopFlags {
	switch len(k) {
	case 2:
		if eq(k, "te") {
			return hopHeader
		}
	case 6:
		if eq(k, "expect") {
			return hopHeader
		}
	case 7:
		if eq(k, "upgrade") {
			return hopHeader | hopUpgrade
		}
		if eq(k, "trailer") {
			return hopHeader
		}
	case 10:
		if eq(k, "connection") || eq(k, "keep-alive") {
			return hopHeader
		}
	case 15:
		if eq(k, "x-forwarded-for") {
			return hasXFF
		}
	case 16:
		if eq(k, "proxy-connection") {
			return hopHeader
		}
		if eq(k, "x-forwarded-host") {
			return hasXFHost
		}
	case 17:
		if eq(k, "x-forwarded-proto") {
			return hasXFProto
		}
	case 18:
		if eq(k, "proxy-authenticate") {
			return hopHeader
		}
	case 19:
		if eq(k, "proxy-authorization") {
			return hopHeader
		}
	}
	return 0
}

// eq reports whether b equals the lower-case ASCII s, ignoring case.
func eq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// isUpgrade reports whether the request asks for a protocol upgrade
// (Connection: upgrade and an Upgrade header), e.g. a WebSocket.
func isUpgrade(h *fasthttp.RequestHeader) bool {
	if len(h.Peek(fasthttp.HeaderUpgrade)) == 0 {
		return false
	}
	for _, v := range h.PeekAll(fasthttp.HeaderConnection) {
		if hasToken(v, "upgrade") {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list v holds token
// (lower-case ASCII), ignoring case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, comma)
		if eq(bytes.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

var comma = []byte(",")

// prepare turns the inbound request into the upstream request in place:
// the upstream's Host and path prefix, X-Forwarded-For/-Host/-Proto, no
// hop-by-hop headers (but Connection and Upgrade for an upgrade), and no
// Connection: close (the upstream connection is kept alive whatever the
// client asked; the server answers the client's close itself).
func (p *Proxy) prepare(ctx *fasthttp.RequestCtx, up *upstream, f hopFlags, upgrade bool) {
	h := &ctx.Request.Header
	h.SetNoDefaultContentType(true)
	h.ResetConnectionClose()
	if f&hopHeader != 0 {
		var upgradeValue []byte
		if upgrade {
			upgradeValue = append([]byte(nil), h.Peek(fasthttp.HeaderUpgrade)...)
		}
		removeHopByHop(h)
		if upgrade {
			h.SetBytesV(fasthttp.HeaderUpgrade, upgradeValue)
			h.Set(fasthttp.HeaderConnection, "Upgrade")
		}
	}
	p.setForwarded(ctx, h, f)
	h.SetHostBytes(up.host)
	setTarget(ctx, up)
}

// removeHopByHop deletes the hop-by-hop headers and those that
// Connection names.
func removeHopByHop(h *fasthttp.RequestHeader) {
	var named [][]byte
	for _, v := range h.PeekAll(fasthttp.HeaderConnection) {
		for len(v) > 0 {
			var t []byte
			t, v, _ = bytes.Cut(v, comma)
			if t = bytes.TrimSpace(t); len(t) > 0 {
				named = append(named, append([]byte(nil), t...))
			}
		}
	}
	for _, k := range named {
		h.DelBytes(k)
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}

// setForwarded sets X-Forwarded-For (the client's address, after the
// inbound chain if p.trust; none when the client has no IP address, as
// httputil's SetXForwarded), X-Forwarded-Host (the inbound Host) and
// X-Forwarded-Proto (http, or https on a TLS listener), replacing what
// the client sent.
func (p *Proxy) setForwarded(ctx *fasthttp.RequestCtx, h *fasthttp.RequestHeader, f hopFlags) {
	var buf [64]byte
	ip, hasIP := appendClientIP(buf[:0], ctx.RemoteAddr())
	switch {
	case p.trust && f&hasXFF != 0 && hasIP:
		var chain []byte
		for _, v := range h.PeekAll(fasthttp.HeaderXForwardedFor) {
			chain = append(append(chain, v...), ", "...)
		}
		chain = append(chain, ip...)
		h.Del(fasthttp.HeaderXForwardedFor)
		h.AddBytesV(fasthttp.HeaderXForwardedFor, chain)
	case f&hasXFF != 0:
		h.Del(fasthttp.HeaderXForwardedFor)
		fallthrough
	default:
		if hasIP {
			h.AddBytesV(fasthttp.HeaderXForwardedFor, ip)
		}
	}
	if f&hasXFHost != 0 {
		h.Del(fasthttp.HeaderXForwardedHost)
	}
	h.AddBytesV(fasthttp.HeaderXForwardedHost, h.Host())
	if f&hasXFProto != 0 {
		h.Del(fasthttp.HeaderXForwardedProto)
	}
	if ctx.IsTLS() {
		h.AddBytesV(fasthttp.HeaderXForwardedProto, protoHTTPS)
	} else {
		h.AddBytesV(fasthttp.HeaderXForwardedProto, protoHTTP)
	}
}

var protoHTTP, protoHTTPS = []byte("http"), []byte("https")

// appendClientIP appends the IP address of a (with its zone), and reports
// whether a had one.
func appendClientIP(dst []byte, a net.Addr) ([]byte, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return dst, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return dst, false
	}
	return ip.Unmap().WithZone(ta.Zone).AppendTo(dst), true
}

// setTarget sets the request target sent upstream: the upstream URL's
// path prefix joined to the inbound path (one slash between them) and its
// query before the inbound query, as httputil's ProxyRequest.SetURL. An
// inbound target in absolute form is sent in origin form.
func setTarget(ctx *fasthttp.RequestCtx, up *upstream) {
	setTargetURI(&ctx.Request, ctx.Request.Header.RequestURI(), ctx, up)
}

// setTargetURI sets req's target to uri (the inbound request's) on up.
func setTargetURI(req *fasthttp.Request, uri []byte, ctx *fasthttp.RequestCtx, up *upstream) {
	if len(uri) == 0 || uri[0] != '/' {
		uri = append([]byte(nil), ctx.URI().RequestURI()...)
	}
	if up.prefix == "" && up.query == "" {
		// Also marks the URI as set, so that Request.Write sends it
		// and the Host header as they are.
		req.SetRequestURIBytes(uri)
		return
	}
	path, query, hasQuery := bytes.Cut(uri, question)
	t := make([]byte, 0, len(up.prefix)+len(uri)+len(up.query)+2)
	t = append(t, up.prefix...)
	t = append(t, path...)
	switch {
	case up.query != "" && hasQuery && len(query) > 0:
		t = append(append(append(append(t, '?'), up.query...), '&'), query...)
	case up.query != "":
		t = append(append(t, '?'), up.query...)
	case hasQuery:
		t = append(append(t, '?'), query...)
	}
	req.SetRequestURIBytes(t)
}

var question = []byte("?")

// stripResponseHop deletes hop-by-hop headers from an upstream response
// (not those of a 101 Switching Protocols, which the client needs).
func stripResponseHop(h *fasthttp.ResponseHeader) {
	if h.StatusCode() == fasthttp.StatusSwitchingProtocols {
		return
	}
	found := false
	for k := range h.All() {
		if classify(k)&hopHeader != 0 {
			found = true
			break
		}
	}
	if !found {
		return
	}
	for _, v := range h.PeekAll(fasthttp.HeaderConnection) {
		for len(v) > 0 {
			var t []byte
			t, v, _ = bytes.Cut(v, comma)
			if t = bytes.TrimSpace(t); len(t) > 0 && !eq(t, "close") {
				h.DelBytes(append([]byte(nil), t...))
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}
