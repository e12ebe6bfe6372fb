package proxy

import (
	"bytes"

	"github.com/canary-dev/canary"

	"github.com/valyala/fasthttp"
)

// Buckets is canary.Buckets, the number of sticky buckets.
const Buckets = canary.Buckets

// Bucket is canary.Bucket: the sticky bucket (0..9999) of a key, the
// contract the proxy shares with the flag service.
func Bucket(key string) int { return canary.Bucket(key) }

// onCanary reports whether bucket b is on the canary at weight w percent.
func onCanary(b, w int) bool { return b < w*(Buckets/100) }

// smoothCanary reports whether the n-th unkeyed request (counting from 0)
// goes to the canary at weight w percent: iff ⌊(k+1)·w/100⌋ > ⌊k·w/100⌋
// with k = n mod 100. Any 100 consecutive requests send exactly w to the
// canary, evenly spread: at w=5 the requests k=19, 39, 59, 79, 99.
func smoothCanary(n uint64, w int) bool {
	k := int(n % 100)
	return (k+1)*w/100 > k*w/100
}

// stickyKey returns the request's sticky key: the value of the header
// (given in canonical form) if present and non-empty, else the value of
// the cookie, else nil. It does not allocate.
func stickyKey(h *fasthttp.RequestHeader, header, cookie string) []byte {
	if header != "" {
		if v := h.Peek(header); len(v) > 0 {
			return v
		}
	}
	if cookie != "" {
		// PeekAll leaves the Cookie lines as received (Cookie would parse
		// and re-encode them, dropping values it finds invalid).
		return cookieValue(h.PeekAll(fasthttp.HeaderCookie), cookie)
	}
	return nil
}

// cookieValue finds cookie name in Cookie header lines. A value in double
// quotes is unquoted, as RFC 6265 allows.
func cookieValue(lines [][]byte, name string) []byte {
	for _, line := range lines {
		for len(line) > 0 {
			var part []byte
			part, line, _ = bytes.Cut(line, semicolon)
			part = bytes.TrimSpace(part)
			k, v, ok := bytes.Cut(part, equals)
			if !ok || string(k) != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return nil
}

var semicolon, equals = []byte(";"), []byte("=")
