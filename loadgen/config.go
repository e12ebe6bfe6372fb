package loadgen

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// TrackHeader is the answer header whose value (stable or canary) the
// generator counts requests by.
const TrackHeader = "X-Canary-Track"

// Defaults used when a Config field is zero.
const (
	DefaultConcurrency = 64
	DefaultUserHeader  = "X-User-ID"
	DefaultTimeout     = 10 * time.Second
)

// Config describes one run of load.
type Config struct {
	// Target is the URL every request goes to. It must be on this machine:
	// 127.0.0.0/8, ::1 or localhost. Required.
	Target string
	// Method of the requests. Default: GET.
	Method string
	// Rate is the open-loop request rate in requests per second. Zero
	// sends as fast as Concurrency allows (closed loop).
	Rate float64
	// Concurrency is the most requests in flight at once. A request due
	// while all are busy waits for one to finish; if that puts the
	// schedule more than a second behind, the schedule restarts from now
	// rather than bursting to catch up. Default: 64.
	Concurrency int
	// Users is the size of the pool of user keys: request i carries
	// Header: user-<i mod Users>, so a sticky proxy keeps each user on one
	// track. Zero sends no user header.
	Users int
	// Header carries the user key. Default: X-User-ID.
	Header string
	// Duration bounds the run: no request starts after it, and those in
	// flight are waited for. Zero means no time bound.
	Duration time.Duration
	// MaxRequests bounds the number of requests sent. Zero means no count
	// bound. At least one of Duration and MaxRequests is required.
	MaxRequests int
	// Warmup is the start of the run whose requests are sent and counted
	// but whose latencies are not measured. Default: none.
	Warmup time.Duration
	// Timeout of one request. Default: 10s.
	Timeout time.Duration
	// Client sends the requests. Default: a client that dials loopback
	// addresses only, keeps Concurrency connections alive and follows no
	// redirects (a 3xx is counted as it is).
	Client *http.Client
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if err := checkTarget(c.Target); err != nil {
		return c, err
	}
	switch {
	case c.Duration <= 0 && c.MaxRequests <= 0:
		return c, fmt.Errorf("loadgen: refusing unbounded load: set Duration or MaxRequests")
	case c.Duration < 0 || c.MaxRequests < 0:
		return c, fmt.Errorf("loadgen: Duration %s and MaxRequests %d must not be negative", c.Duration, c.MaxRequests)
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0:
		return c, fmt.Errorf("loadgen: Rate %v must be a number of requests per second, 0 or more", c.Rate)
	case c.Concurrency < 0 || c.Users < 0 || c.Timeout < 0 || c.Warmup < 0:
		return c, fmt.Errorf("loadgen: Concurrency %d, Users %d, Timeout %s and Warmup %s must not be negative",
			c.Concurrency, c.Users, c.Timeout, c.Warmup)
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Header == "" {
		c.Header = DefaultUserHeader
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

// checkTarget accepts http(s) URLs whose host is a loopback address.
func checkTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadgen: target %q is not an http(s) URL", target)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("loadgen: target %q is not on this machine: load is only sent to loopback addresses (127.0.0.0/8, ::1, localhost)", u.Redacted())
}

// newClient returns the default client for c: loopback-only dialing,
// Concurrency idle connections kept, no redirects.
func newClient(c Config) (*http.Client, *http.Transport) {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        c.Concurrency,
		MaxIdleConnsPerHost: c.Concurrency,
		IdleConnTimeout:     30 * time.Second,
	}
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return client, tr
}

// loopbackOnly refuses to connect to an address that is not loopback,
// whatever a name resolved to.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadgen: refusing to dial %s: not a loopback address", address)
	}
	return nil
}
