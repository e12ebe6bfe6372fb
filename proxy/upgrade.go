package proxy

import (
	"io"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// upgrade forwards a protocol upgrade request (a WebSocket handshake) on
// a new upstream connection. When the upstream answers 101 Switching
// Protocols, the answer goes to the client and the two connections are
// spliced until either side closes; the request is recorded then, as a
// 101 (a request, not a latency). Any other answer is passed on as a
// normal response and the upstream connection is not reused.
func (p *Proxy) upgrade(ctx *fasthttp.RequestCtx, up *upstream, start time.Time, hop hopFlags) {
	p.prepare(ctx, up, hop, true)
	c, err := up.pool.dial()
	if err == nil {
		err = c.send(&ctx.Request)
		if err == nil {
			err = awaitResponse(ctx, c)
		}
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		p.fail(ctx, up, start, err, nil)
		return
	}
	if b, err := c.br.Peek(12); err != nil || string(b[9:12]) != "101" {
		p.respond(ctx, up, c, start, true)
		return
	}
	if err := readResponseHeader(&ctx.Response.Header, c.br); err != nil {
		c.Close()
		p.fail(ctx, up, start, err, nil)
		return
	}
	ctx.Response.Header.SetBytesV(TrackHeader, up.name)
	ctx.Hijack(func(client net.Conn) {
		splice(client, c)
		p.record(up.track, http.StatusSwitchingProtocols, start)
	})
}

// splice copies between the client and the upstream (starting with what
// is buffered from each) until either side ends, then closes both.
func splice(client net.Conn, c *upConn) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(c.Conn, client)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, c.br)
		done <- struct{}{}
	}()
	<-done
	client.Close()
	c.Close()
	<-done
}
