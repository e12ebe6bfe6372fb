package proxy

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// statusWriter remembers the status of the response it passes through. It
// forwards Flush and Hijack, and Unwrap lets http.ResponseController reach
// the server's writer for everything else.
type statusWriter struct {
	w        http.ResponseWriter
	status   int  // final status; 0 until written
	hijacked bool // the connection was taken over (protocol upgrade)
	done     bool // ReverseProxy.ServeHTTP returned normally
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func getStatusWriter(w http.ResponseWriter) *statusWriter {
	sw := statusWriters.Get().(*statusWriter)
	sw.w = w
	return sw
}

func putStatusWriter(sw *statusWriter) {
	*sw = statusWriter{}
	statusWriters.Put(sw)
}

// Header returns the server's response header map.
func (sw *statusWriter) Header() http.Header { return sw.w.Header() }

// WriteHeader records the first final (≥200) status and passes every code
// on, including informational ones (103 Early Hints).
func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 && code >= 200 {
		sw.status = code
	}
	sw.w.WriteHeader(code)
}

// Write passes b on; writing before WriteHeader means 200.
func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.w.Write(b)
}

// Flush sends buffered data to the client now.
func (sw *statusWriter) Flush() { _ = sw.FlushError() }

// FlushError is Flush returning the error, for http.ResponseController.
func (sw *statusWriter) FlushError() error {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return http.NewResponseController(sw.w).Flush()
}

// Hijack takes over the client connection for a protocol upgrade; the
// request is then recorded as 101 Switching Protocols.
func (sw *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(sw.w).Hijack()
	if err == nil {
		sw.hijacked = true
		sw.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// Unwrap returns the server's writer, for http.ResponseController.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.w }
