package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/client_golang/prometheus"
)

// TrackHeader is the response header naming the track that served the
// request: "stable" or "canary". It replaces any value the upstream sent.
const TrackHeader = "X-Canary-Track"

// StatusClientClosed is recorded (not written) when the client went away
// before the upstream answered, as nginx logs it; it is not an error of
// the track.
const StatusClientClosed = 499

// Config configures a Proxy.
type Config struct {
	// Stable is the URL of the stable version, e.g. http://127.0.0.1:9001.
	// Its path, if any, is prefixed to every request's path. Required.
	Stable string
	// Canary is the URL of the canary version. Required.
	Canary string
	// Weight is the initial canary weight in percent, 0..100. Default: 0.
	Weight int
	// StickyHeader names a request header (e.g. X-User-ID) whose value
	// keeps a user on one track: the request goes to the canary iff
	// Bucket(value) < weight×100. Default: none.
	StickyHeader string
	// StickyCookie names a cookie used like StickyHeader when the header
	// is absent or empty. Default: none.
	StickyCookie string
	// TrustForwarded keeps the inbound X-Forwarded-For chain and appends
	// the client's address, for a proxy behind another proxy. Default
	// false: the chain is replaced by the client's address, so clients
	// cannot forge it. X-Forwarded-Host and -Proto are always set from the
	// inbound request.
	TrustForwarded bool
	// Recorder receives every request's track, status and latency.
	// Default: none (nothing is recorded).
	Recorder *Recorder
	// Transport makes the upstream requests. Default: DefaultTransport(),
	// shared by all proxies.
	Transport http.RoundTripper
	// Logger receives weight changes, promotions (Info) and upstream
	// failures (Warn, at most one line a second per upstream, counting
	// the failures it leaves out). Default: slog.Default().
	Logger *slog.Logger
	// Now tells the time used for latencies and recording. Default:
	// time.Now.
	Now func() time.Time
}

// Proxy splits traffic between a stable and a canary upstream. It is an
// http.Handler and a canary.TrafficRouter; the zero value is not usable,
// call New.
type Proxy struct {
	route  atomic.Pointer[routing]
	seq    atomic.Uint64 // unkeyed requests seen, for smooth selection
	header string        // canonical StickyHeader
	cookie string
	trust  bool
	rec    *Recorder
	tr     http.RoundTripper
	log    *slog.Logger
	now    func() time.Time
	pool   httputil.BufferPool
}

var _ canary.TrafficRouter = (*Proxy)(nil)

// routing is immutable: changes swap in a new one.
type routing struct {
	weight         int
	stable, canary *upstream
}

// upstream is one track's target and the ReverseProxy bound to it.
type upstream struct {
	track canary.Track
	url   *url.URL
	hdr   []string // {track}, shared: header values are never mutated
	rp    *httputil.ReverseProxy
	// Failures are logged at most once a second per upstream.
	lastLog    atomic.Int64 // unix second of the last failure logged
	suppressed atomic.Int64 // failures not logged since
}

// New returns a Proxy for cfg, or an error naming the bad field.
func New(cfg Config) (*Proxy, error) {
	stable, err := parseUpstream("stable", cfg.Stable)
	if err != nil {
		return nil, err
	}
	canaryURL, err := parseUpstream("canary", cfg.Canary)
	if err != nil {
		return nil, err
	}
	if cfg.Weight < 0 || cfg.Weight > 100 {
		return nil, canary.Errorf(canary.EINVALID, "proxy weight %d%%: want 0 to 100", cfg.Weight)
	}
	p := &Proxy{
		cookie: cfg.StickyCookie,
		trust:  cfg.TrustForwarded,
		rec:    cfg.Recorder,
		tr:     cfg.Transport,
		log:    cfg.Logger,
		now:    cfg.Now,
		pool:   newBufferPool(),
	}
	if cfg.StickyHeader != "" {
		p.header = http.CanonicalHeaderKey(cfg.StickyHeader)
	}
	if p.tr == nil {
		p.tr = DefaultTransport()
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.route.Store(&routing{
		weight: cfg.Weight,
		stable: p.newUpstream(canary.TrackStable, stable),
		canary: p.newUpstream(canary.TrackCanary, canaryURL),
	})
	return p, nil
}

func parseUpstream(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, canary.Errorf(canary.EINVALID, "proxy %s URL %q: want an absolute http or https URL, e.g. http://127.0.0.1:9001", name, raw)
	}
	return u, nil
}

func (p *Proxy) newUpstream(track canary.Track, target *url.URL) *upstream {
	up := &upstream{track: track, url: target, hdr: []string{string(track)}}
	up.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			p.setForwarded(pr)
		},
		Transport:  p.tr,
		BufferPool: p.pool,
		ErrorLog:   slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		ModifyResponse: func(res *http.Response) error {
			res.Header[TrackHeader] = up.hdr
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.upstreamError(up, w, r, err)
		},
	}
	return up
}

// Shared header values: never mutated (http.Header.Set replaces a value
// slice and Add appends to a full one, which copies).
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	emptyValue = []string{""}
)

// setForwarded sets what ProxyRequest.SetXForwarded sets, with the
// inbound X-Forwarded-For chain kept when p.trust, in one allocation
// instead of three or four: X-Forwarded-For (the client's address, after
// the inbound chain if trusted; removed when RemoteAddr has no port, as
// SetXForwarded does), X-Forwarded-Host and X-Forwarded-Proto from the
// inbound request. A request without a User-Agent gets an empty one,
// which the Transport does not send (ReverseProxy would set the same
// after Rewrite, allocating).
func (p *Proxy) setForwarded(pr *httputil.ProxyRequest) {
	in, h := pr.In, pr.Out.Header
	vals := make([]string, 2)
	clientIP, _, err := net.SplitHostPort(in.RemoteAddr)
	switch {
	case err != nil:
		delete(h, "X-Forwarded-For")
	case p.trust && len(in.Header["X-Forwarded-For"]) > 0:
		vals[0] = strings.Join(in.Header["X-Forwarded-For"], ", ") + ", " + clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	default:
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	vals[1] = in.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	if in.TLS == nil {
		h["X-Forwarded-Proto"] = protoHTTP
	} else {
		h["X-Forwarded-Proto"] = protoHTTPS
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = emptyValue
	}
}

// upstreamError answers 502 for a failed upstream, or records 499 when the
// client went away first.
func (p *Proxy) upstreamError(up *upstream, w http.ResponseWriter, r *http.Request, err error) {
	sw, _ := w.(*statusWriter)
	if r.Context().Err() != nil {
		if sw != nil {
			sw.status = StatusClientClosed
		}
		p.log.Debug("client went away", "track", up.track, "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	p.logFailure(up, r, err)
	if sw != nil && sw.hijacked {
		sw.status = http.StatusBadGateway
		return
	}
	w.Header()[TrackHeader] = up.hdr
	w.WriteHeader(http.StatusBadGateway)
}

// logFailure logs an upstream failure at Warn, at most once a second per
// upstream, with the number of failures left unlogged since the last line.
func (p *Proxy) logFailure(up *upstream, r *http.Request, err error) {
	now := p.now().Unix()
	last := up.lastLog.Load()
	if now <= last || !up.lastLog.CompareAndSwap(last, now) {
		up.suppressed.Add(1)
		return
	}
	p.log.Warn("upstream failed", "track", up.track, "upstream", up.url.Redacted(),
		"method", r.Method, "path", r.URL.Path, "err", err, "unlogged", up.suppressed.Swap(0))
}

// ServeHTTP forwards r to the track chosen for it and records the outcome.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := p.route.Load()
	up := rt.stable
	if p.toCanary(rt.weight, r) {
		up = rt.canary
	}
	start := p.now()
	sw := getStatusWriter(w)
	defer p.finish(sw, r, up.track, start)
	up.rp.ServeHTTP(sw, r)
	sw.done = true
}

// toCanary picks the track: by sticky bucket when the request has a key,
// else by the smooth sequence.
func (p *Proxy) toCanary(weight int, r *http.Request) bool {
	switch {
	case weight <= 0:
		return false
	case weight >= 100:
		return true
	}
	if key := stickyKey(r, p.header, p.cookie); key != "" {
		return onCanary(Bucket(key), weight)
	}
	return smoothCanary(p.seq.Add(1)-1, weight)
}

// finish records the request. It runs deferred so that a response aborted
// mid-body (ReverseProxy panics with http.ErrAbortHandler when copying
// fails after the headers were sent) still counts: as 499 if the client
// went away, else as a 502 of the track.
func (p *Proxy) finish(sw *statusWriter, r *http.Request, track canary.Track, start time.Time) {
	status := sw.status
	switch {
	case !sw.done && r.Context().Err() != nil:
		status = StatusClientClosed
	case !sw.done:
		status = http.StatusBadGateway
	case status == 0:
		status = http.StatusOK
	}
	putStatusWriter(sw)
	if p.rec != nil {
		end := p.now()
		p.rec.Record(track, status, end.Sub(start), end)
	}
}

// Weight returns the current canary weight in percent.
func (p *Proxy) Weight() int { return p.route.Load().weight }

// SetWeight routes weight percent (0..100) of new requests to the canary.
// The change is atomic: requests in flight finish on the track they were
// given, and none is dropped. Setting the current weight is a no-op.
func (p *Proxy) SetWeight(_ context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return canary.Errorf(canary.EINVALID, "set weight %d%%: want 0 to 100", weight)
	}
	for {
		old := p.route.Load()
		if old.weight == weight {
			return nil
		}
		next := *old
		next.weight = weight
		if p.route.CompareAndSwap(old, &next) {
			p.log.Info("canary weight set", "from", old.weight, "to", weight)
			return nil
		}
	}
}

// Promote makes the canary's URL the stable one and sets the weight to 0,
// atomically: from then on every request goes to the new version and is
// recorded on the stable track. Promoting again is a no-op.
func (p *Proxy) Promote(_ context.Context) error {
	for {
		old := p.route.Load()
		if old.weight == 0 && old.stable.url.String() == old.canary.url.String() {
			return nil
		}
		next := &routing{weight: 0, stable: p.newUpstream(canary.TrackStable, old.canary.url), canary: old.canary}
		if p.route.CompareAndSwap(old, next) {
			p.log.Info("canary promoted", "stable", old.canary.url.Redacted(), "previous", old.stable.url.Redacted())
			return nil
		}
	}
}

// RemoveCanary is a no-op for the proxy: it does not own the canary's
// process. After a promotion or a rollback the weight is 0 and the canary
// URL gets no traffic; stopping the canary deployment is the job of
// whatever started it.
func (p *Proxy) RemoveCanary(context.Context) error { return nil }

// Register registers the canary_proxy_weight gauge (the canary weight in
// percent) with reg. Register the Recorder separately.
func (p *Proxy) Register(reg prometheus.Registerer) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricWeight,
		Help: "Percentage of requests without a sticky key routed to the canary, and the bucket threshold (÷100) for those with one.",
	}, func() float64 { return float64(p.Weight()) }))
}

// String describes the routing, for logs.
func (p *Proxy) String() string {
	rt := p.route.Load()
	return fmt.Sprintf("proxy stable=%s canary=%s weight=%d%%", rt.stable.url.Redacted(), rt.canary.url.Redacted(), rt.weight)
}
