package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/canary-dev/canary/web"
	"github.com/spf13/pflag"
)

// rateFlags are canary serve's --rate-limit and --rate-burst: the API's
// per-token request rate limit (web.Config.RateLimit and RateBurst).
type rateFlags struct {
	limit rateValue
	burst burstValue
}

// addRateLimitFlags registers --rate-limit and --rate-burst with their
// defaults (web.DefaultRateLimit, web.DefaultRateBurst). A negative or
// non-numeric value is refused as the flag is parsed (exit code 2).
func addRateLimitFlags(fs *pflag.FlagSet, f *rateFlags) {
	f.limit, f.burst = web.DefaultRateLimit, web.DefaultRateBurst
	fs.Var(&f.limit, "rate-limit",
		"API requests a second each token may make (without a token: each client IP); more are refused with 429 and Retry-After (0: no limit)")
	fs.Var(&f.burst, "rate-burst", "API requests a token may make at once before --rate-limit applies")
}

// apply sets the rate limit of cfg.
func (f rateFlags) apply(cfg web.Config) web.Config {
	cfg.RateLimit, cfg.RateBurst = float64(f.limit), int(f.burst)
	return cfg
}

// rateValue is a request rate: a finite number, 0 or more.
type rateValue float64

func (v *rateValue) String() string { return strconv.FormatFloat(float64(*v), 'f', -1, 64) }
func (v *rateValue) Type() string   { return "per-second" }
func (v *rateValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%q is not a rate: give requests a second, e.g. 20 or 0.5 (0: no limit)", s)
	}
	*v = rateValue(f)
	return nil
}

// burstValue is a bucket size: a whole number, 1 or more.
type burstValue int

func (v *burstValue) String() string { return strconv.Itoa(int(*v)) }
func (v *burstValue) Type() string   { return "requests" }
func (v *burstValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return fmt.Errorf("%q is not a burst: give a whole number of requests from 1 to 1000000, e.g. 40", s)
	}
	*v = burstValue(n)
	return nil
}
