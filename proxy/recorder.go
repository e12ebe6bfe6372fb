package proxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary"
)

// Errors returned by Recorder.Stats and Recorder.Measure; test with
// errors.Is.
var (
	// ErrUnknownMetric: the query's metric is not a latency quantile
	// (latencyPNN), errorRate or requestRate.
	ErrUnknownMetric = errors.New("unknown metric (the builtin source measures latencyPNN, errorRate and requestRate)")
	// ErrUnknownTrack: the track is neither stable nor canary.
	ErrUnknownTrack = errors.New("unknown track (want stable or canary)")
	// ErrWindow: the window is not positive or reaches further back than
	// the recorder's retention.
	ErrWindow = errors.New("window out of range")
)

// DefaultRetention is how far back a Recorder's windows reach by default.
const DefaultRetention = time.Hour

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Retention is how far back windows can reach, rounded up to whole
	// seconds. Memory is one slot per track and second holding the range
	// of latency bins seen in that second: at most about 8 KiB, and
	// nothing for a second without traffic (an hour of 1,000 req/s with
	// lognormal latencies around 5ms takes 11 MiB). Default: 1h; at most
	// 24h.
	Retention time.Duration
}

// Recorder keeps per-track request counts, 5xx counts and latency
// histograms in one-second buckets, in a ring as long as the retention.
// Any window up to the retention is answered from memory by merging
// buckets; latency quantiles are within 0.5% of the exact value.
//
// Record is safe for concurrent use and cheap: one uncontended lock of a
// randomly chosen shard, no allocation. A second's data moves from its
// shards into the ring the first time a shard sees a later second.
type Recorder struct {
	retention time.Duration
	slots     int64
	tracks    [2]*trackRec
}

var _ canary.MetricSource = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	ret := cfg.Retention
	switch {
	case ret == 0:
		ret = DefaultRetention
	case ret < 0 || ret > 24*time.Hour:
		return nil, fmt.Errorf("recorder retention %s: want 1s to 24h", ret)
	}
	slots := int64((ret + time.Second - 1) / time.Second)
	r := &Recorder{retention: time.Duration(slots) * time.Second, slots: slots}
	shards := shardCount(runtime.GOMAXPROCS(0))
	for i := range r.tracks {
		r.tracks[i] = &trackRec{ring: make([]slot, slots), shards: make([]shard, shards), mask: uint32(shards - 1)}
	}
	return r, nil
}

// Retention returns how far back windows can reach.
func (r *Recorder) Retention() time.Duration { return r.retention }

// shardCount is 4× the next power of two ≥ procs, at most 256: enough
// that a processor rarely finds its random shard taken.
func shardCount(procs int) int {
	n := 1
	for n < procs {
		n <<= 1
	}
	return min(n*4, 256)
}

// trackRec is one track's data: live shards for the second(s) being
// written and the ring of sealed seconds.
type trackRec struct {
	mu     sync.Mutex // guards ring; taken after a shard's mu, never before
	ring   []slot
	shards []shard
	mask   uint32
	newest atomic.Int64 // the latest second recorded
}

// noteSecond raises newest to sec.
func (t *trackRec) noteSecond(sec int64) {
	for {
		cur := t.newest.Load()
		if sec <= cur || t.newest.CompareAndSwap(cur, sec) {
			return
		}
	}
}

// expired reports whether second sec is beyond the retention: a retention
// or more before the latest second recorded.
func (t *trackRec) expired(sec int64) bool {
	return sec <= t.newest.Load()-int64(len(t.ring))
}

// slot is one sealed second: counts and the bins lo..lo+len(bins)-1.
type slot struct {
	sec      int64
	requests int64
	errors   int64
	lo       int
	bins     []uint32
}

// shard accumulates one second of one track (bins[lo:hi] may be
// non-zero) and, since the start, the totals Prometheus reads.
type shard struct {
	mu       sync.Mutex
	sec      int64
	requests int64
	errors   int64
	lo, hi   int
	bins     []uint32
	totals   promTotals
	_        [64]byte // keep neighbouring shards' locks off one cache line
}

// bucketSec returns the bucket of time t: bucket b holds (b−1s, b], so a
// window (At−W, At] on whole seconds is exactly its W buckets.
func bucketSec(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func trackIndex(t canary.Track) int {
	switch t {
	case canary.TrackStable:
		return 0
	case canary.TrackCanary:
		return 1
	}
	return -1
}

// Record counts one finished request of track: its status code, its
// latency and the time it finished. A status of 500..599 is an error; 101
// (a protocol upgrade, e.g. a WebSocket, whose "latency" is the life of
// the connection) counts as a request but not in the latency histograms.
// Requests of an unknown track are ignored. In the steady state it does
// not allocate, and it writes no memory shared with other processors but
// one lightly contended shard.
func (r *Recorder) Record(track canary.Track, status int, latency time.Duration, at time.Time) {
	ti := trackIndex(track)
	if ti < 0 {
		return
	}
	t := r.tracks[ti]
	sec := bucketSec(at)
	if sec > t.newest.Load() {
		t.noteSecond(sec)
	}
	o := observation{bin: -1, class: statusClass(status), isErr: status >= 500 && status <= 599}
	if status != http.StatusSwitchingProtocols {
		o.bin = binIndex(latency)
		o.secs = latency.Seconds()
		o.promBucket = promBucket(o.secs)
	}
	sh := t.lockShard()
	sh.observeTotals(o)
	switch {
	case sec < sh.sec:
		// Late: the shard has moved on; add straight to the ring.
		sh.mu.Unlock()
		t.addLate(sec, o)
	default:
		if sec > sh.sec {
			t.seal(sh)
			sh.sec = sec
		}
		sh.add(o)
		sh.mu.Unlock()
	}
}

// observation is one request, pre-digested outside any lock.
type observation struct {
	bin        int // sketch bin, -1 for no latency
	class      int // index into codeClasses
	promBucket int // index into durationBuckets, len for +Inf
	secs       float64
	isErr      bool
}

// lockShard locks and returns a shard: a random one if it is free, else
// the next free one, so two processors rarely wait on each other.
func (t *trackRec) lockShard() *shard {
	i := rand.Uint32()
	for range t.mask + 1 {
		sh := &t.shards[i&t.mask]
		if sh.mu.TryLock() {
			return sh
		}
		i++
	}
	sh := &t.shards[i&t.mask]
	sh.mu.Lock()
	return sh
}

func (sh *shard) add(o observation) {
	sh.requests++
	if o.isErr {
		sh.errors++
	}
	if o.bin < 0 {
		return
	}
	if sh.bins == nil {
		sh.bins = make([]uint32, numBins)
	}
	if sh.lo == sh.hi {
		sh.lo, sh.hi = o.bin, o.bin+1
	} else {
		sh.lo, sh.hi = min(sh.lo, o.bin), max(sh.hi, o.bin+1)
	}
	sh.bins[o.bin]++
}

// seal moves the shard's second into the ring and empties the shard. The
// caller holds sh.mu.
func (t *trackRec) seal(sh *shard) {
	if sh.requests == 0 {
		return
	}
	t.mu.Lock()
	if s := t.slotFor(sh.sec); s != nil {
		s.requests += sh.requests
		s.errors += sh.errors
		if sh.hi > sh.lo {
			s.addBins(sh.lo, sh.bins[sh.lo:sh.hi])
		}
	}
	t.mu.Unlock()
	if sh.hi > sh.lo {
		clear(sh.bins[sh.lo:sh.hi])
	}
	sh.requests, sh.errors, sh.lo, sh.hi = 0, 0, 0, 0
}

// addLate adds one request to a second its shard has already sealed.
func (t *trackRec) addLate(sec int64, o observation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slotFor(sec)
	if s == nil {
		return
	}
	s.requests++
	if o.isErr {
		s.errors++
	}
	if o.bin >= 0 {
		one := [1]uint32{1}
		s.addBins(o.bin, one[:])
	}
}

// slotFor returns the ring slot of second sec, claiming (and emptying) it
// if it holds an older second, or nil if sec is beyond the retention (the
// slot may already hold a newer second). The caller holds t.mu.
func (t *trackRec) slotFor(sec int64) *slot {
	s := t.ringSlot(sec)
	switch {
	case s.sec == sec:
		return s
	case s.sec > sec || t.expired(sec):
		return nil
	}
	s.sec, s.requests, s.errors, s.lo, s.bins = sec, 0, 0, 0, s.bins[:0]
	return s
}

// ringSlot returns the slot second sec maps to, whatever it holds.
func (t *trackRec) ringSlot(sec int64) *slot {
	n := int64(len(t.ring))
	return &t.ring[((sec%n)+n)%n]
}

// addBins adds src, the counts of bins lo..lo+len(src)-1, growing the
// slot's range as needed (reusing its capacity when it can).
func (s *slot) addBins(lo int, src []uint32) {
	if len(s.bins) == 0 {
		s.lo, s.bins = lo, append(s.bins[:0], src...)
		return
	}
	oldLo, oldLen := s.lo, len(s.bins)
	newLo := min(oldLo, lo)
	size := max(oldLo+oldLen, lo+len(src)) - newLo
	if newLo != oldLo || size != oldLen {
		nb := s.bins[:0]
		if size <= cap(s.bins) {
			nb = s.bins[:size]
		} else {
			nb = make([]uint32, size, size+size/4)
		}
		shift := oldLo - newLo
		copy(nb[shift:shift+oldLen], s.bins[:oldLen])
		clear(nb[:shift])
		clear(nb[shift+oldLen:])
		s.lo, s.bins = newLo, nb
	}
	off := lo - s.lo
	for i, c := range src {
		s.bins[off+i] += c
	}
}

// WindowStats is one track's traffic over a window.
type WindowStats struct {
	// Start and End bound the window (Start, End], after rounding End up
	// to a whole second and the length up to whole seconds.
	Start, End time.Time
	// Requests is the number of requests that finished in the window.
	Requests int64
	// Errors is how many of them answered 5xx (including the proxy's own
	// 502 when the upstream failed).
	Errors int64
	// LatencySamples is how many requests are in the latency histogram:
	// Requests minus protocol upgrades (WebSockets).
	LatencySamples int64
	bins           []uint64
}

// Quantile returns the latency at quantile q (0..1), within 0.5% of the
// exact value, or 0 when there are no latency samples.
func (s WindowStats) Quantile(q float64) time.Duration {
	return quantileOf(s.bins, s.LatencySamples, q)
}

// ErrorRate returns Errors/Requests, or 0 with no requests.
func (s WindowStats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

// RequestRate returns requests per second over the whole window.
func (s WindowStats) RequestRate() float64 {
	return float64(s.Requests) / s.End.Sub(s.Start).Seconds()
}

// Stats returns track's traffic over the window of complete seconds
// (⌊at⌋−window, ⌊at⌋]: window worth of data ending at or before at, never
// a partial current second, so a 1s window holds one whole second of
// traffic at whatever phase of the second it is read (bucket b holds
// (b−1s, b]). The window must be positive and at most the retention; a
// zero at means now.
func (r *Recorder) Stats(track canary.Track, window time.Duration, at time.Time) (WindowStats, error) {
	ti := trackIndex(track)
	if ti < 0 {
		return WindowStats{}, fmt.Errorf("stats of track %q: %w", track, ErrUnknownTrack)
	}
	if window <= 0 || window > r.retention {
		return WindowStats{}, fmt.Errorf("stats over %s: %w (want 1s to the retention, %s)", window, ErrWindow, r.retention)
	}
	if at.IsZero() {
		at = time.Now()
	}
	last := at.Unix() // the newest complete second ending at or before at
	n := int64((window + time.Second - 1) / time.Second)
	first := last - n + 1
	st := WindowStats{Start: time.Unix(first-1, 0), End: time.Unix(last, 0), bins: make([]uint64, numBins)}
	r.tracks[ti].collect(first, last, &st)
	for _, c := range st.bins {
		st.LatencySamples += int64(c)
	}
	return st, nil
}

// collect adds the seconds first..last to st. It holds every shard lock
// and the ring lock together for the moment it reads the shards, so no
// second is counted twice or missed while being sealed; it then reads the
// ring with only the ring lock held.
func (t *trackRec) collect(first, last int64, st *WindowStats) {
	for i := range t.shards {
		t.shards[i].mu.Lock()
	}
	t.mu.Lock()
	for i := range t.shards {
		sh := &t.shards[i]
		// A shard's second is expired once its ring slot holds a newer one.
		if sh.sec >= first && sh.sec <= last && !t.expired(sh.sec) {
			st.Requests += sh.requests
			st.Errors += sh.errors
			for b := sh.lo; b < sh.hi; b++ {
				st.bins[b] += uint64(sh.bins[b])
			}
		}
		sh.mu.Unlock()
	}
	defer t.mu.Unlock()
	for sec := first; sec <= last; sec++ {
		s := t.ringSlot(sec)
		if s.sec != sec || t.expired(sec) {
			continue
		}
		st.Requests += s.requests
		st.Errors += s.errors
		for i, c := range s.bins {
			st.bins[s.lo+i] += uint64(c)
		}
	}
}

// Measure implements canary.MetricSource over the recorded traffic:
// latencyPNN in seconds, errorRate as 5xx/requests, requestRate in
// requests per second over the whole window. Samples is the number of
// requests in the window of complete seconds ending at or before Q.At
// (see Stats); NoData is set when there
// were none (for a latency, when none had a latency). A latency also
// carries the window's distribution (Measurement.Latency): at most 64
// log-spaced buckets on a grid both tracks of the window share (see
// chooseGrid), counting every request with a latency. burnRate is not a
// base metric (the analysis derives it from errorRate of both tracks) and,
// like any other name, is ErrUnknownMetric.
func (r *Recorder) Measure(ctx context.Context, q canary.Query) (canary.Measurement, error) {
	if err := ctx.Err(); err != nil {
		return canary.Measurement{}, err
	}
	quant, isLatency := q.Metric.Quantile()
	if !isLatency && q.Metric != canary.MetricErrorRate && q.Metric != canary.MetricRequestRate {
		return canary.Measurement{}, fmt.Errorf("measure %q: %w", q.Metric, ErrUnknownMetric)
	}
	st, err := r.Stats(q.Track, q.Window, q.At)
	if err != nil {
		return canary.Measurement{}, fmt.Errorf("measure %s: %w", q.Metric, err)
	}
	m := canary.Measurement{Samples: st.Requests, NoData: st.Requests == 0}
	switch {
	case isLatency:
		m.NoData = st.LatencySamples == 0
		m.Value = st.Quantile(quant).Seconds()
		if !m.NoData {
			m.Latency = r.latencyBuckets(st, q)
		}
	case q.Metric == canary.MetricErrorRate:
		m.Value = st.ErrorRate()
	default:
		m.Value = st.RequestRate()
	}
	if m.NoData {
		m.Value = 0
	}
	return m, nil
}

// latencyBuckets returns st's latency distribution on the grid chosen
// from both tracks over q's window. The window holds only complete
// seconds, so the canary's and the stable's measurements of one
// evaluation, taken a moment apart, choose the same grid.
func (r *Recorder) latencyBuckets(st WindowStats, q canary.Query) []canary.LatencyBucket {
	g, ok := r.sharedGrid(q.Window, st.End)
	if !ok {
		return nil
	}
	return g.buckets(st.bins)
}

// sharedGrid chooses the grid of both tracks' latencies over the window
// (at−window, at].
func (r *Recorder) sharedGrid(window time.Duration, at time.Time) (latencyGrid, bool) {
	if window <= 0 {
		return latencyGrid{}, false
	}
	var union []uint64
	var total int64
	for _, tr := range []canary.Track{canary.TrackStable, canary.TrackCanary} {
		st, err := r.Stats(tr, window, at)
		if err != nil {
			return latencyGrid{}, false
		}
		if union == nil {
			union = st.bins
		} else {
			for i, c := range st.bins {
				union[i] += c
			}
		}
		total += st.LatencySamples
	}
	return chooseGrid(union, total)
}
