package proxy

import (
	"bufio"
	"errors"
	"github.com/canary-dev/canary"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/valyala/fasthttp"
)

// clientCheckInterval is how often the proxy looks whether the client is
// still there while it waits for an upstream's response.
const clientCheckInterval = 250 * time.Millisecond

// errClientGone: the client closed its connection while the proxy waited
// for the upstream.
var errClientGone = errors.New("client went away")

// handle serves one request: it picks a track, forwards the request and
// passes the response on (or hands an upgraded connection to splice).
// The request is recorded when its response is complete: here for a
// response the proxy already holds whole, when the body stream closes for
// a streamed one, when the connection closes for an upgrade.
func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	rt := p.route.Load()
	up := rt.stable
	switch {
	case rt.matches != nil && matchAny(rt.matches, &ctx.Request.Header):
		up = rt.canary
	case p.toCanary(rt.weight, &ctx.Request.Header):
		up = rt.canary
	case rt.mirror > 0:
		if b := p.mirror.offer(ctx, rt); b != nil {
			// The body is sent to the stable by the time forward returns:
			// the copy is queued then or never.
			p.forward(ctx, up)
			b.finish()
			return
		}
	}
	p.forward(ctx, up)
}

// handlePreview serves the blue/green preview: every request goes to the
// canary's URL and none is recorded.
func (p *Proxy) handlePreview(ctx *fasthttp.RequestCtx) {
	p.forward(ctx, p.route.Load().preview)
}

// forward sends the request to up and passes the response on.
func (p *Proxy) forward(ctx *fasthttp.RequestCtx, up *upstream) {
	start := p.now()
	hop := scanRequestHeaders(ctx.Request.Header.RawHeaders())
	if hop&hopUpgrade != 0 && isUpgrade(&ctx.Request.Header) {
		p.upgrade(ctx, up, start, hop)
		return
	}
	p.prepare(ctx, up, hop, false)
	var cb *clientBody
	if body := ctx.Request.BodyStream(); body != nil {
		// The body may take long to arrive: only the header is timed.
		_ = ctx.Conn().SetReadDeadline(time.Time{})
		cb = &clientBody{r: body}
		ctx.Request.SetBodyStream(cb, ctx.Request.Header.ContentLength())
	}
	c, err := p.roundTrip(ctx, up, cb == nil)
	if err != nil {
		p.fail(ctx, up, start, err, cb)
		return
	}
	p.respond(ctx, up, c, start, false)
}

// toCanary picks the track: by sticky bucket when the request has a key,
// else by the smooth sequence.
func (p *Proxy) toCanary(weight int, h *fasthttp.RequestHeader) bool {
	switch {
	case weight <= 0:
		return false
	case weight >= 100:
		return true
	}
	if key := stickyKey(h, p.header, p.cookie); len(key) > 0 {
		return onCanary(canary.Bucket(key), weight)
	}
	return smoothCanary(p.seq.Add(1)-1, weight)
}

// roundTrip sends the request on a pooled connection (or a new one) and
// waits for the first byte of the response. A bodyless request that fails
// on a reused connection before any byte of the response (the upstream
// closed it while idle) is sent again once on a new connection.
func (p *Proxy) roundTrip(ctx *fasthttp.RequestCtx, up *upstream, retryable bool) (*upConn, error) {
	now := time.Now()
	c, reused, err := up.pool.get(now)
	for {
		if err != nil {
			return nil, err
		}
		err = c.send(&ctx.Request)
		if err == nil {
			err = awaitResponse(ctx, c)
		}
		if err == nil {
			return c, nil
		}
		c.Close()
		if !reused || !retryable || errors.Is(err, errClientGone) || isTimeout(err) {
			return nil, err
		}
		reused = false
		c, err = up.pool.dial()
	}
}

// send writes req to the upstream.
func (c *upConn) send(req *fasthttp.Request) error {
	if err := req.Write(c.bw); err != nil {
		return err
	}
	return c.bw.Flush()
}

// awaitResponse waits for the first byte of the upstream's response,
// looking every clientCheckInterval whether the client is still there.
func awaitResponse(ctx *fasthttp.RequestCtx, c *upConn) error {
	if c.br.Buffered() > 0 {
		return nil
	}
	_ = c.SetReadDeadline(time.Now().Add(clientCheckInterval))
	for {
		_, err := c.br.Peek(1)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if clientGone(ctx.Conn()) {
			return errClientGone
		}
		_ = c.SetReadDeadline(time.Now().Add(clientCheckInterval))
	}
	_ = c.SetReadDeadline(time.Time{})
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// respond reads the upstream's response header into ctx.Response and
// passes the body on: whole when it has already arrived, else streamed.
func (p *Proxy) respond(ctx *fasthttp.RequestCtx, up *upstream, c *upConn, start time.Time, upgrade bool) {
	resp := &ctx.Response
	if err := readResponseHeader(&resp.Header, c.br); err != nil {
		c.Close()
		p.fail(ctx, up, start, err, nil)
		return
	}
	reusable := !resp.Header.ConnectionClose() && !upgrade
	resp.Header.ResetConnectionClose()
	stripResponseHop(&resp.Header)
	resp.Header.SetBytesV(TrackHeader, up.name)
	status := resp.StatusCode()
	switch cl := resp.Header.ContentLength(); {
	case ctx.IsHead() || status < 200 || status == http.StatusNoContent || status == http.StatusNotModified:
		resp.SkipBody = true
		up.pool.release(c, reusable)
	case cl >= 0 && cl <= c.br.Buffered():
		if err := resp.ReadBody(c.br, 0); err != nil {
			c.Close()
			p.fail(ctx, up, start, err, nil)
			return
		}
		up.pool.release(c, reusable)
	default:
		// Flush the header now if no body byte is here yet (a server-
		// sent event stream may send its first event much later).
		resp.ImmediateHeaderFlush = c.br.Buffered() == 0
		s := newBodyStream(p, up, c, start, status, cl, reusable)
		size := cl
		if size < 0 {
			size = -1 // chunked to the client
		}
		resp.SetBodyStream(s, size)
		return
	}
	p.record(up.track, status, start)
}

// readResponseHeader reads a response header, skipping informational
// responses other than 101 Switching Protocols (100 Continue, 103 Early
// Hints: they are not passed on).
func readResponseHeader(h *fasthttp.ResponseHeader, br *bufio.Reader) error {
	for n := 0; ; n++ {
		if err := h.Read(br); err != nil {
			return err
		}
		if st := h.StatusCode(); st < 100 || st >= 200 || st == http.StatusSwitchingProtocols {
			return nil
		}
		if n >= 100 {
			return errors.New("more than 100 informational responses")
		}
	}
}

// fail answers 502 for a failed upstream, counted as an error of its
// track, or records 499 when the client went away first.
func (p *Proxy) fail(ctx *fasthttp.RequestCtx, up *upstream, start time.Time, err error, cb *clientBody) {
	ctx.Response.Reset()
	if errors.Is(err, errClientGone) || (cb != nil && cb.err != nil) {
		p.log.Debug("client went away", "track", up.track, "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
		ctx.SetConnectionClose()
		p.record(up.track, StatusClientClosed, start)
		return
	}
	p.logFailure(up, ctx.Method(), ctx.Path(), err)
	ctx.Response.SetStatusCode(http.StatusBadGateway)
	ctx.Response.Header.SetBytesV(TrackHeader, up.name)
	p.record(up.track, http.StatusBadGateway, start)
}

// release returns c to the pool when reusable, else closes it.
func (cp *connPool) release(c *upConn, reusable bool) {
	if reusable {
		cp.put(c, time.Now())
		return
	}
	c.Close()
}

// clientBody is a streamed request body that remembers a read error: the
// client failed, not the upstream.
type clientBody struct {
	r   io.Reader
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}
