//go:build !race

// The race detector allows 8,128 goroutines, fewer than the connections
// this test holds.

package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIdleKeepAliveMemory holds 10,000 keep-alive connections to a proxy
// running in a child process, each idle after one request, and checks
// the child's peak resident memory stays under 256 MiB.
func TestIdleKeepAliveMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	const conns, limitMiB = 10000, 256
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from the backend\n")
	}))
	t.Cleanup(up.Close)
	addr, pid := startChildProxy(t, up.URL)

	held := make([]net.Conn, conns)
	t.Cleanup(func() {
		for _, c := range held {
			if c != nil {
				c.Close()
			}
		}
	})
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			held[i] = c
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(req); err != nil {
				errs <- err
				return
			}
			if err := readRawResponse(bufio.NewReader(c)); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every connection is now idle, kept alive by the proxy.
	rss, hwm := procMemMiB(t, pid, "VmRSS"), procMemMiB(t, pid, "VmHWM")
	t.Logf("%d idle keep-alive connections: proxy RSS %.1f MiB, peak %.1f MiB", conns, rss, hwm)
	if hwm >= limitMiB {
		t.Errorf("proxy peak RSS %.1f MiB with %d idle connections, want under %d MiB", hwm, conns, limitMiB)
	}
	// And they are still open: a second request on the last one works.
	c := held[conns-1]
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if err := readRawResponse(bufio.NewReader(c)); err != nil {
		t.Errorf("second request on a held connection: %v", err)
	}
}

// startChildProxy runs the proxy (stable and canary both upstream) in a
// child process, this test binary in TestChildProxy, and returns its
// address and process id.
func startChildProxy(t *testing.T, upstream string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProxy$")
	cmd.Env = append(os.Environ(), "CANARY_CHILD_PROXY_UPSTREAM="+upstream)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the child exits when its stdin closes
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child proxy: %v", err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening ")), cmd.Process.Pid
}

// TestChildProxy is the child of startChildProxy; it does nothing in a
// normal test run.
func TestChildProxy(t *testing.T) {
	upstream := os.Getenv("CANARY_CHILD_PROXY_UPSTREAM")
	if upstream == "" {
		t.Skip("run by startChildProxy")
	}
	p, err := New(Config{Stable: upstream, Canary: upstream, Weight: 5, Recorder: newRecorder(t, 0), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer("", p)
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

// procMemMiB reads a memory field (VmRSS, VmHWM) of process pid in MiB.
func procMemMiB(t *testing.T, pid int, field string) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
