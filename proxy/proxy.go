package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
// before the response was complete, as nginx logs it; it is not an error
// of the track.
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
	// MirrorQueue is how many mirrored copies may wait to be sent; a copy
	// finding the queue full is dropped and counted. Default:
	// DefaultMirrorQueue.
	MirrorQueue int
	// MirrorWorkers is how many mirrored copies are sent at once.
	// Default: DefaultMirrorWorkers.
	MirrorWorkers int
	// MirrorBodies, when above 0, mirrors requests of any method whose
	// body is at most this many bytes (at most MaxMirrorBodies); larger
	// bodies are not mirrored and counted. Default 0: only GET and HEAD
	// requests without a body are mirrored.
	MirrorBodies int64
	// MirrorBodyMemory caps the bytes of mirrored bodies held at once
	// (being read, queued or sent); a copy that would exceed it is dropped
	// and counted. Default: DefaultMirrorBodyMemory.
	MirrorBodyMemory int64
	// MaxIdleConns is how many idle keep-alive connections are kept per
	// upstream for reuse; more are closed when they become idle.
	// Default: 512.
	MaxIdleConns int
	// Logger receives weight changes, promotions (Info) and upstream
	// failures (Warn, at most one line a second per upstream, counting
	// the failures it leaves out). Default: slog.Default().
	Logger *slog.Logger
	// Clock tells the time used for latencies and recording. Default:
	// canary.SystemClock.
	Clock canary.Clock
}

// Proxy splits traffic between a stable and a canary upstream. It is a
// canary.TrafficRouter; serve it with NewServer. The zero value is not
// usable, call New.
type Proxy struct {
	route   atomic.Pointer[routing]
	seq     atomic.Uint64 // unkeyed requests seen, for smooth selection
	header  string        // canonical StickyHeader
	cookie  string
	trust   bool
	rec     *Recorder
	log     *slog.Logger
	now     func() time.Time
	maxIdle int
	mirror  *mirrorer
	// onRecord, when set (by tests), runs after each request is recorded.
	onRecord func()
}

var _ canary.TrafficRouter = (*Proxy)(nil)

// routing is immutable: changes swap in a new one.
type routing struct {
	weight         int
	stable, canary *upstream
	// preview serves the canary's URL to the blue/green preview
	// listener, unrecorded.
	preview *upstream
	// matches send requests to the canary whatever the weight; mirror is
	// the percentage of the stable's GET and HEAD requests copied to it.
	matches []matcher
	mirror  int
}

// upstream is one track's target and its connection pool.
type upstream struct {
	track  canary.Track
	url    *url.URL
	name   []byte // the track's name, the TrackHeader value
	host   []byte // Host header sent upstream: the URL's host
	prefix string // the URL's path without a trailing slash, or ""
	query  string // the URL's raw query, or ""
	pool   *connPool
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
		cookie:  cfg.StickyCookie,
		trust:   cfg.TrustForwarded,
		rec:     cfg.Recorder,
		log:     cfg.Logger,
		maxIdle: cfg.MaxIdleConns,
	}
	if cfg.StickyHeader != "" {
		p.header = http.CanonicalHeaderKey(cfg.StickyHeader)
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.now = time.Now
	if cfg.Clock != nil {
		p.now = cfg.Clock.Now
	}
	if p.maxIdle <= 0 {
		p.maxIdle = 512
	}
	st := p.newUpstream(canary.TrackStable, stable, nil)
	ca := p.newUpstream(canary.TrackCanary, canaryURL, nil)
	if sameOrigin(stable, canaryURL) {
		ca.pool = st.pool
	}
	p.mirror = newMirrorer(p, cfg.MirrorQueue, cfg.MirrorWorkers)
	if err := p.mirror.setBodies(cfg.MirrorBodies, cfg.MirrorBodyMemory); err != nil {
		return nil, err
	}
	p.route.Store(&routing{weight: cfg.Weight, stable: st, canary: ca, preview: p.previewOf(ca)})
	return p, nil
}

func parseUpstream(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, canary.Errorf(canary.EINVALID, "proxy %s URL %q: want an absolute http or https URL, e.g. http://127.0.0.1:9001", name, raw)
	}
	return u, nil
}

func sameOrigin(a, b *url.URL) bool { return a.Scheme == b.Scheme && a.Host == b.Host }

// previewOf is the unrecorded preview upstream of canary up.
func (p *Proxy) previewOf(up *upstream) *upstream {
	return p.newUpstream(trackPreview, up.url, up.pool)
}

// newUpstream returns track's upstream for target, with pool if not nil,
// else a new pool.
func (p *Proxy) newUpstream(track canary.Track, target *url.URL, pool *connPool) *upstream {
	if pool == nil {
		pool = newConnPool(target, p.maxIdle)
	}
	return &upstream{
		track:  track,
		url:    target,
		name:   []byte(track),
		host:   []byte(target.Host),
		prefix: strings.TrimSuffix(target.EscapedPath(), "/"),
		query:  target.RawQuery,
		pool:   pool,
	}
}

// logFailure logs an upstream failure at Warn, at most once a second per
// upstream, with the number of failures left unlogged since the last line.
func (p *Proxy) logFailure(up *upstream, method, path []byte, err error) {
	now := p.now().Unix()
	last := up.lastLog.Load()
	if now <= last || !up.lastLog.CompareAndSwap(last, now) {
		up.suppressed.Add(1)
		return
	}
	p.log.Warn("upstream failed", "track", up.track, "upstream", up.url.Redacted(),
		"method", string(method), "path", string(path), "err", err, "unlogged", up.suppressed.Swap(0))
}

// record counts one finished request of track.
func (p *Proxy) record(track canary.Track, status int, start time.Time) {
	if p.rec != nil {
		end := p.now()
		p.rec.Record(track, status, end.Sub(start), end)
	}
	if p.onRecord != nil {
		p.onRecord()
	}
}

// Weight returns the current canary weight in percent.
func (p *Proxy) Weight() int { return p.route.Load().weight }

// SetWeight routes weight percent (0..100) of new requests to the canary,
// with no matches and no mirror (SetRoute sets those). The change is
// atomic: requests in flight finish on the track they were given, and
// none is dropped. Setting the current weight is a no-op.
func (p *Proxy) SetWeight(_ context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return canary.Errorf(canary.EINVALID, "set weight %d%%: want 0 to 100", weight)
	}
	for {
		old := p.route.Load()
		if old.weight == weight && old.matches == nil && old.mirror == 0 {
			return nil
		}
		next := *old
		next.weight, next.matches, next.mirror = weight, nil, 0
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
		if old.weight == 0 && old.matches == nil && old.mirror == 0 && old.stable.url.String() == old.canary.url.String() {
			return nil
		}
		next := &routing{weight: 0, stable: p.newUpstream(canary.TrackStable, old.canary.url, old.canary.pool), canary: old.canary, preview: old.preview}
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
// percent) and the mirroring counters (copies sent, failed and dropped
// for a full queue) with reg. Register the Recorder separately.
func (p *Proxy) Register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricWeight,
		Help: "Percentage of requests without a sticky key routed to the canary, and the bucket threshold (÷100) for those with one.",
	}, func() float64 { return float64(p.Weight()) })}
	for _, c := range []struct {
		name, help string
		v          func(MirrorStats) uint64
	}{
		{metricMirrored, "Mirrored copies of stable requests the canary answered (responses discarded).", func(s MirrorStats) uint64 { return s.Sent }},
		{metricMirrorFailed, "Mirrored copies the canary did not answer (recorded as its 502s).", func(s MirrorStats) uint64 { return s.Failed }},
		{metricMirrorDropped, "Mirrored copies dropped because the mirror queue or the body memory was full (never sent).", func(s MirrorStats) uint64 { return s.Dropped }},
		{metricMirrorTooLarge, "Requests not mirrored because their body was larger than strategy.mirrorBodies.", func(s MirrorStats) uint64 { return s.TooLarge }},
	} {
		v := c.v
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(v(p.MirrorStats())) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// String describes the routing, for logs.
func (p *Proxy) String() string {
	rt := p.route.Load()
	return fmt.Sprintf("proxy stable=%s canary=%s weight=%d%%", rt.stable.url.Redacted(), rt.canary.url.Redacted(), rt.weight)
}

// dialer dials upstreams: 5s to connect, TCP keep-alive every 30s.
var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
