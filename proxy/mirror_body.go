package proxy

import (
	"fmt"
	"io"
	"sync"

	"github.com/valyala/fasthttp"
)

// Mirrored bodies' bounds.
const (
	// MaxMirrorBodies is the largest Config.MirrorBodies.
	MaxMirrorBodies = 1 << 20
	// DefaultMirrorBodyMemory caps the bytes of mirrored bodies held at
	// once: without it the queue could hold DefaultMirrorQueue ×
	// MaxMirrorBodies (1 GiB).
	DefaultMirrorBodyMemory = 64 << 20
)

// setBodies sets the largest mirrored body and the memory cap.
func (m *mirrorer) setBodies(size, memory int64) error {
	if size < 0 || size > MaxMirrorBodies {
		return fmt.Errorf("mirror bodies %d bytes: want 0 to %d", size, MaxMirrorBodies)
	}
	if memory <= 0 {
		memory = DefaultMirrorBodyMemory
	}
	m.bodies, m.memory = size, max(memory, size)
	return nil
}

// reserve takes n bytes of the body memory; false when it is full.
func (m *mirrorer) reserve(n int64) bool {
	if m.held.Add(n) > m.memory {
		m.held.Add(-n)
		return false
	}
	return true
}

// mirrorBody tees a request body on its way to the stable into the
// copy's body, up to the mirrored size: the stable gets every byte as it
// is read (the tee only appends what it passes on), and the copy is queued
// once the whole body has gone through and fits.
type mirrorBody struct {
	m    *mirrorer
	r    io.Reader
	job  mirrorJob
	cl   int   // the body's Content-Length, -1 when chunked
	n    int64 // bytes passed on
	once sync.Once
	eof  bool
}

// teeBody readies the copy of ctx's request and puts the tee between the
// client's body and the stable. A Content-Length above the size is not
// mirrored (counted), nor a body while the body memory is full (dropped).
func (m *mirrorer) teeBody(ctx *fasthttp.RequestCtx, rt *routing) *mirrorBody {
	cl := ctx.Request.Header.ContentLength()
	if int64(cl) > m.bodies {
		m.tooLarge.Add(1)
		return nil
	}
	hold := m.bodies
	if cl >= 0 {
		hold = int64(cl)
	}
	if !m.reserve(hold) {
		m.dropped.Add(1)
		return nil
	}
	req := fasthttp.AcquireRequest()
	ctx.Request.Header.CopyTo(&req.Header)
	m.p.prepareCopy(ctx, req, rt.canary)
	req.Header.Del(fasthttp.HeaderExpect) // the body is sent whole
	b := &mirrorBody{m: m, job: mirrorJob{req: req, up: rt.canary, held: hold}, cl: cl}
	if body := ctx.Request.BodyStream(); body != nil {
		b.r = body
		ctx.Request.SetBodyStream(b, cl)
	} else {
		// The body is already in memory (not streamed): copy it now.
		req.AppendBody(ctx.Request.Body())
		b.n, b.eof = int64(len(ctx.Request.Body())), true
	}
	return b
}

// Read passes the client's body on, appending it to the copy while it
// fits.
func (b *mirrorBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		if b.n+int64(n) <= b.m.bodies {
			b.job.req.AppendBody(p[:n])
		}
		b.n += int64(n)
	}
	if err == io.EOF || (b.cl >= 0 && b.n >= int64(b.cl)) {
		b.eof = true
	}
	return n, err
}

// finish queues the copy when the whole body was read and fits; a body
// over the size is counted, one not read to its end (the stable failed)
// forgotten.
func (b *mirrorBody) finish() {
	b.once.Do(func() {
		m, j := b.m, b.job
		switch {
		case b.n > m.bodies:
			m.tooLarge.Add(1)
		case !b.eof:
		default:
			j.req.Header.SetContentLength(int(b.n))
			m.held.Add(b.n - j.held)
			j.held = b.n
			m.queue(j)
			return
		}
		m.release(j)
	})
}
