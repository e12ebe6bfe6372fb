package proxy

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Buckets is the number of sticky buckets: Bucket returns 0..Buckets-1, and
// a weight of w percent covers buckets 0..w×100-1.
const Buckets = 10000

// FNV-1a 64-bit parameters and the MurmurHash3 fmix64 constants used by
// Bucket. They are part of the contract: changing them moves users between
// tracks.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	fmixC1      = 0xff51afd7ed558ccd
	fmixC2      = 0xc4ceb9fe1a85ec53
)

// Bucket hashes a sticky key (a user ID, a session cookie) into 0..9999.
// A key is on the canary iff Bucket(key) < weight×100, so assignment is
// monotone: a key on the canary at 5% stays on it at 10%, 25% and 50%, and
// a key is never moved canary→stable while the weight grows.
//
// The function is a stable contract shared by the proxy and the flag
// service, and must give the same answer in every implementation:
//
//	h := FNV-1a 64 of the key's bytes (offset 14695981039346656037,
//	     prime 1099511628211; for each byte: h ^= b; h *= prime)
//	h ^= h >> 33; h *= 0xff51afd7ed558ccd   // MurmurHash3 fmix64,
//	h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53   // so that keys differing
//	h ^= h >> 33                            // only in their last byte
//	return h mod 10000                      // spread over all buckets
//
// all arithmetic on unsigned 64-bit integers, wrapping. For example
// Bucket("") = 4342, Bucket("user-1") = 5477 (more in the tests). It does
// not allocate.
func Bucket(key string) int { return bucketOf(key) }

// bucketOf is Bucket for a string or a byte slice (a header value), so
// that neither allocates.
func bucketOf[K string | []byte](key K) int {
	h := uint64(fnvOffset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime64
	}
	h ^= h >> 33
	h *= fmixC1
	h ^= h >> 33
	h *= fmixC2
	h ^= h >> 33
	return int(h % Buckets)
}

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
