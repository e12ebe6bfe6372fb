package proxy

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary"

	"github.com/valyala/fasthttp"
)

// Mirroring defaults.
const (
	// DefaultMirrorQueue is how many copies may wait to be sent; a copy
	// that finds the queue full is dropped and counted.
	DefaultMirrorQueue = 1024
	// DefaultMirrorWorkers is how many copies are sent at once: with a
	// canary answering in 40ms, 64 keep up with 1,600 copies a second.
	DefaultMirrorWorkers = 64
	// mirrorTimeout bounds one copy's round trip.
	mirrorTimeout = 30 * time.Second
	// mirrorMaxBody is read of a copy's response body before the
	// connection is closed instead of reused.
	mirrorMaxBody = 4 << 20
)

// mirrorer copies requests to the canary off the client's path: the
// handler only copies the request and offers it to a bounded queue (never
// waiting), and a few workers, started on demand and gone when the queue
// is empty, send the copies and discard the responses. Each copy is
// recorded on the canary track (its status and latency count for the
// canary's rules); the client's response never depends on it.
type mirrorer struct {
	p       *Proxy
	jobs    chan mirrorJob
	max     int32
	running atomic.Int32
	seq     atomic.Uint64 // stable requests seen, for the smooth share
	// bodies is the largest body mirrored (0: GET and HEAD without a body
	// only); held counts the bytes reserved for bodies being read, queued
	// or sent, at most memory.
	bodies, memory int64
	held           atomic.Int64
	// The counters exposed as metrics.
	sent, dropped, failed, tooLarge atomic.Uint64
}

type mirrorJob struct {
	req  *fasthttp.Request
	up   *upstream
	held int64 // bytes of body memory reserved for the copy
}

// MirrorStats counts mirrored copies since the proxy started.
type MirrorStats struct {
	// Sent copies got a response from the canary (whatever its status).
	Sent uint64
	// Failed copies got none (the canary could not be reached or broke
	// the connection): recorded as 502s of the canary.
	Failed uint64
	// Dropped copies found the queue (or the body memory) full and were
	// never sent.
	Dropped uint64
	// TooLarge requests were not mirrored: their body was larger than
	// Config.MirrorBodies.
	TooLarge uint64
}

func newMirrorer(p *Proxy, queue, workers int) *mirrorer {
	if queue <= 0 {
		queue = DefaultMirrorQueue
	}
	if workers <= 0 {
		workers = DefaultMirrorWorkers
	}
	return &mirrorer{p: p, jobs: make(chan mirrorJob, queue), max: int32(workers)}
}

// MirrorStats returns the mirroring counters.
func (p *Proxy) MirrorStats() MirrorStats {
	m := p.mirror
	return MirrorStats{Sent: m.sent.Load(), Failed: m.failed.Load(), Dropped: m.dropped.Load(), TooLarge: m.tooLarge.Load()}
}

// offer copies ctx's request for rt's canary when it falls in the
// mirrored share and is a bodyless GET or HEAD, or, with mirrorBodies, a
// request whose body fits (mirrorBody), and queues the copy, dropping it
// (counted) when the queue is full. A body still to be read comes back as
// a mirrorBody: the caller forwards the request, which tees the body into
// the copy, then calls finish.
func (m *mirrorer) offer(ctx *fasthttp.RequestCtx, rt *routing) *mirrorBody {
	h := &ctx.Request.Header
	cl := h.ContentLength()
	bodyless := cl == 0 || cl == -2 // -1 is chunked
	if !(m.bodies > 0 || ((h.IsGet() || h.IsHead()) && bodyless)) || !smoothCanary(m.seq.Add(1)-1, rt.mirror) {
		return nil
	}
	if m.bodies == 0 && (h.ContentLength() > 0 || ctx.Request.IsBodyStream()) {
		return nil
	}
	if len(m.jobs) == cap(m.jobs) {
		m.dropped.Add(1)
		return nil
	}
	if m.bodies > 0 && !bodyless {
		return m.teeBody(ctx, rt)
	}
	req := fasthttp.AcquireRequest()
	ctx.Request.Header.CopyTo(&req.Header)
	m.p.prepareCopy(ctx, req, rt.canary)
	m.queue(mirrorJob{req: req, up: rt.canary})
	return nil
}

// queue offers j to the workers, dropping it (counted) when the queue is
// full, and starts a worker when fewer than max run.
func (m *mirrorer) queue(j mirrorJob) {
	select {
	case m.jobs <- j:
	default:
		m.release(j)
		m.dropped.Add(1)
		return
	}
	if n := m.running.Load(); n < m.max && m.running.CompareAndSwap(n, n+1) {
		go m.work()
	}
}

// release frees a job's request and its body's share of the memory.
func (m *mirrorer) release(j mirrorJob) {
	m.held.Add(-j.held)
	fasthttp.ReleaseRequest(j.req)
}

// work sends queued copies until the queue is empty.
func (m *mirrorer) work() {
	for {
		select {
		case j := <-m.jobs:
			m.send(j)
			m.release(j)
			continue
		default:
		}
		m.running.Add(-1)
		// A copy queued while this worker was leaving would wait for the
		// next one: take it unless enough workers are left.
		if len(m.jobs) == 0 {
			return
		}
		if m.running.Add(1) > m.max {
			m.running.Add(-1)
			return
		}
	}
}

// send makes one copy's round trip and records it on the canary track.
// A copy that fails on a reused connection before any response byte (the
// canary closed it while idle) is sent once more on a new connection.
func (m *mirrorer) send(j mirrorJob) {
	p := m.p
	start := p.now()
	c, reused, err := j.up.pool.get(time.Now())
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for err == nil {
		resp.Reset()
		resp.SkipBody = j.req.Header.IsHead()
		_ = c.SetDeadline(time.Now().Add(mirrorTimeout))
		if err = c.send(j.req); err == nil {
			err = resp.ReadLimitBody(c.br, mirrorMaxBody)
		}
		if err == nil || errors.Is(err, fasthttp.ErrBodyTooLarge) {
			break
		}
		c.Close()
		if !reused || isTimeout(err) {
			break
		}
		reused = false
		c, err = j.up.pool.dial()
	}
	status := resp.StatusCode()
	switch {
	case err == nil:
		_ = c.SetDeadline(time.Time{})
		j.up.pool.release(c, !resp.ConnectionClose())
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		c.Close()
	default:
		m.failed.Add(1)
		p.logFailure(j.up, j.req.Header.Method(), j.req.URI().Path(), err)
		p.record(canary.TrackCanary, http.StatusBadGateway, start)
		return
	}
	m.sent.Add(1)
	p.record(canary.TrackCanary, status, start)
}

// prepareCopy readies a mirrored copy for up: hop-by-hop headers removed,
// X-Forwarded-* and Host set as for a forwarded request, the target path
// prefixed, and MirrorHeader set.
func (p *Proxy) prepareCopy(ctx *fasthttp.RequestCtx, req *fasthttp.Request, up *upstream) {
	h := &req.Header
	h.SetNoDefaultContentType(true)
	f := scanRequestHeaders(ctx.Request.Header.RawHeaders())
	if f&hopHeader != 0 {
		removeHopByHop(h)
	}
	h.ResetConnectionClose()
	p.setForwarded(ctx, h, f)
	h.SetHostBytes(up.host)
	setTargetURI(req, ctx.Request.Header.RequestURI(), ctx, up)
	h.Set(MirrorHeader, "1")
}
