package web

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/canary-dev/canary"
)

// Defaults of `canary serve --rate-limit` and --rate-burst. One dashboard
// page load makes at most 5 API requests (whoami, the rollout, its events
// — one more per 1,000 events —, its notifications and the event stream,
// which counts once when it opens), and a live page about 2 per burst of
// events after that; a CLI command makes 1 to 3. So 20 a second with a
// burst of 40 never slows a person, even with a few tabs reloaded at once,
// and stops a runaway script within its first 40 requests.
const (
	DefaultRateLimit = 20
	DefaultRateBurst = 40
)

// CodeRateLimited: the token (or, without one, the client address) made
// more requests than the server's rate limit allows (429, with
// Retry-After).
const CodeRateLimited = "rate_limited"

// unauthenticatedLabel is the rate-limit metric's token label of requests
// without a valid token (and of every request with Insecure), which are
// limited per client IP. Token names cannot contain parentheses.
const unauthenticatedLabel = "(none)"

// maxLimiterKeys bounds the client addresses tracked at once. Past it, full
// buckets (idle clients) are forgotten, which loses nothing; if that is not
// enough, new addresses share one bucket until some are forgotten.
const maxLimiterKeys = 10000

// limiter is a token bucket per token name and per client IP.
type limiter struct {
	limit rate.Limit
	burst int
	clock canary.Clock

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newLimiter(perSecond float64, burst int, clock canary.Clock) *limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(2*perSecond)))
	}
	if clock == nil {
		clock = canary.SystemClock{}
	}
	return &limiter{limit: rate.Limit(perSecond), burst: burst, clock: clock, buckets: map[string]*rate.Limiter{}}
}

// allow takes one request from key's bucket; when it is empty it returns
// false and how long until a request would be allowed.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxLimiterKeys {
			l.sweep(now)
		}
		if len(l.buckets) >= maxLimiterKeys {
			key = "overflow"
			b = l.buckets[key]
		}
		if b == nil {
			b = rate.NewLimiter(l.limit, l.burst)
			l.buckets[key] = b
		}
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// sweep forgets the buckets that are full again (a fresh bucket is the
// same), at most once per refill time.
func (l *limiter) sweep(now time.Time) {
	refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	if now.Sub(l.swept) < refill {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// rateLimit takes the request out of its bucket: the token's, by name,
// or for a request without a valid token (or with Insecure) the client
// IP's. An empty bucket is a 429 with Retry-After, counted by token name.
func (s *server) rateLimit(r *http.Request, actor string) error {
	if s.limiter == nil {
		return nil
	}
	key, label := "token:"+actor, actor
	if actor == "" || s.insecure {
		key, label = "ip:"+clientIP(r), unauthenticatedLabel
	}
	ok, wait := s.limiter.allow(key)
	if ok {
		return nil
	}
	s.metrics.rateLimited.WithLabelValues(label).Inc()
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	who := "token " + actor
	if label == unauthenticatedLabel {
		who = "this client address (requests without a valid token are limited per address)"
	}
	return &statusError{status: http.StatusTooManyRequests, code: CodeRateLimited,
		msg: who + " made more requests than the server allows (" + formatRate(float64(s.limiter.limit)) +
			" a second, bursts of " + itoa(int64(s.limiter.burst)) + "); retry in " + itoa(secs) +
			"s (the server's --rate-limit and --rate-burst set the limit)",
		header: map[string]string{"Retry-After": strconv.FormatInt(secs, 10)}}
}

// clientIP is the address the request came from (RemoteAddr: never a
// header a client could forge). Behind a reverse proxy every request has
// the proxy's address.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// formatRate writes a rate without needless decimals: 20, 0.5.
func formatRate(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
