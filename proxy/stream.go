package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// maxTrailerBytes bounds the trailer section of a chunked upstream body
// (trailers are read and dropped: they are not passed on).
const maxTrailerBytes = 64 << 10

// bodyStream is an upstream response body passed to the client as it
// arrives. The server reads it into the client connection and closes it
// when done; closing records the request: the upstream's status when the
// body was passed on whole, 502 when the upstream failed mid-body (the
// client connection is then aborted, so the client sees a truncated
// response, never a complete one), 499 when the client went away.
type bodyStream struct {
	p        *Proxy
	up       *upstream
	c        *upConn
	start    time.Time
	status   int
	reusable bool

	r       io.Reader // the framed body: fixed, chunked or until EOF
	fixed   fixedReader
	chunked bool
	eof     bool
	err     error // the upstream's read error, if any
}

var bodyStreams = sync.Pool{New: func() any { return new(bodyStream) }}

// newBodyStream frames c's body by cl: a Content-Length (≥ 0), chunked
// (-1) or until the upstream closes (-2, never reusable).
func newBodyStream(p *Proxy, up *upstream, c *upConn, start time.Time, status, cl int, reusable bool) *bodyStream {
	s := bodyStreams.Get().(*bodyStream)
	*s = bodyStream{p: p, up: up, c: c, start: start, status: status, reusable: reusable}
	switch {
	case cl >= 0:
		s.fixed = fixedReader{r: c.br, left: int64(cl)}
		s.r = &s.fixed
	case cl == -1:
		s.chunked = true
		s.r = httputil.NewChunkedReader(c.br)
	default:
		s.reusable = false
		s.r = c.br
	}
	return s
}

// Read reads the body from the upstream.
func (s *bodyStream) Read(b []byte) (int, error) {
	if s.eof {
		return 0, io.EOF
	}
	n, err := s.r.Read(b)
	if err == io.EOF && s.chunked {
		err = discardTrailer(s.c.br)
		if err == nil {
			err = io.EOF
		}
	}
	switch {
	case err == io.EOF:
		s.eof = true
	case err != nil:
		s.err = err
	}
	return n, err
}

// CloseWithError is called by the server when it is done with the body:
// wErr is why it stopped early, nil when it wrote the whole body.
func (s *bodyStream) CloseWithError(wErr error) error {
	status := s.status
	switch {
	case s.err != nil:
		status = http.StatusBadGateway
		s.c.Close()
		s.p.logFailure(s.up, nil, nil, s.err)
	case wErr != nil || !s.eof:
		status = StatusClientClosed
		s.c.Close()
	default:
		s.up.pool.release(s.c, s.reusable)
	}
	p, track, start := s.p, s.up.track, s.start
	*s = bodyStream{}
	bodyStreams.Put(s)
	p.record(track, status, start)
	return nil
}

// fixedReader reads exactly left bytes: an end of input before them is
// io.ErrUnexpectedEOF.
type fixedReader struct {
	r    io.Reader
	left int64
}

func (f *fixedReader) Read(b []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > f.left {
		b = b[:f.left]
	}
	n, err := f.r.Read(b)
	f.left -= int64(n)
	switch {
	case f.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// discardTrailer reads the trailer section after a chunked body's last
// chunk, up to and including the empty line.
func discardTrailer(br *bufio.Reader) error {
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		total += len(line)
		if total > maxTrailerBytes {
			return errors.New("chunked body trailer too long")
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return nil
		}
	}
}
