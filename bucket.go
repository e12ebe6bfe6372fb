package canary

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
// The function is a stable contract shared by the proxy (package proxy) and
// the flag service (package flags), and must give the same answer in every implementation:
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
// not allocate, for a string or a byte slice (a header value).
func Bucket[K string | []byte](key K) int {
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
