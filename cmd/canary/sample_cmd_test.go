package main

import (
	"bytes"
	"context"
	"github.com/canary-dev/canary/canarytest"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSampleLoadgenRefusals: bad flags and addresses off this machine
// are refused with exit code 2 and a message naming the flag, before
// anything listens or sends.
func TestSampleLoadgenRefusals(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sample", "--canary-errors", "5"}, `--canary-errors: "5" is not a percentage`},
		{[]string{"sample", "--stable-latency", "100ms", "--stable-p95", "50ms"}, "latency p95 50ms is below the median 100ms"},
		{[]string{"sample", "--canary", "0.0.0.0:9002"}, "is not a loopback address"},
		{[]string{"sample", "--stable", "", "--canary", ""}, "nothing to serve"},
		{[]string{"sample", "--duration", "-1s"}, "--duration -1s"},
		{[]string{"loadgen", "http://10.0.0.1/"}, "not on this machine"},
		{[]string{"loadgen", "--rate", "0", "http://127.0.0.1:1/"}, "--rate 0"},
		{[]string{"loadgen", "--duration", "2h", "http://127.0.0.1:1/"}, "at most 1h"},
		{[]string{"loadgen", "--connections", "0", "http://127.0.0.1:1/"}, "--connections 0"},
		{[]string{"loadgen", "-o", "yaml", "http://127.0.0.1:1/"}, `--output "yaml"`},
		{[]string{"loadgen"}, "accepts 1 arg"},
	}
	for _, tt := range tests {
		var out, errw bytes.Buffer
		code := Main(context.Background(), tt.args, &out, &errw)
		if code != ExitInvalid || !strings.Contains(errw.String(), tt.want) {
			t.Errorf("canary %q: exit %d %q; want %d and %q", tt.args, code, errw.String(), ExitInvalid, tt.want)
		}
	}
}

// TestSampleAndLoadgen: canary sample serves a canary answering 30% 5xx;
// canary loadgen sends it a bounded load and its summary counts them; it
// exits 5 against a port where nothing listens.
func TestSampleAndLoadgen(t *testing.T) {
	stable, can := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	var sampOut syncBuffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"sample", "--stable", stable, "--canary", can, "--canary-errors", "30%",
			"--canary-latency", "1ms", "--canary-p95", "0s"}, &sampOut, &sampOut)
	}()
	canarytest.WaitFor(t, 30*time.Second, "canary sample listening on "+can, func() (bool, string) {
		c, err := net.DialTimeout("tcp", can, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	var out, errw bytes.Buffer
	code := Main(t.Context(), []string{"loadgen", "--rate", "400", "--duration", "1s", "--progress", "200ms", "http://" + can + "/"}, &out, &errw)
	if code != 0 {
		t.Fatalf("loadgen: exit %d: %s", code, errw.String())
	}
	for _, want := range []string{"sent ", "answers: 2xx ", ", 5xx ", "latency: p50 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("loadgen's summary lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errw.String(), "sending 400 requests/s to http://"+can+"/ for 1s\n  ") {
		t.Errorf("loadgen printed no progress:\n%s", errw.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("sample: exit %d", code)
	}
	s := sampOut.String()
	if !strings.Contains(s, "canary v2 on http://"+can+" (latency median 1ms, p95 0s; 30% errors)") ||
		!strings.Contains(s, "stable: 0 requests answered") || strings.Contains(s, "canary: 0 requests") {
		t.Errorf("sample's output:\n%s", s)
	}
	start := time.Now()
	code = Main(t.Context(), []string{"loadgen", "--rate", "20", "--duration", "200ms", "http://" + freeAddr(t) + "/"}, &out, &errw)
	if code != ExitUnavailable || !strings.Contains(errw.String(), "no request was answered") {
		t.Errorf("loadgen to nothing: exit %d after %s: %s", code, time.Since(start), errw.String())
	}
}
