// Package proctest runs a server binary for tests (Debian's prometheus,
// influxd, carbon-cache, graphite-web): started in its own process group
// on 127.0.0.1 ports picked free, waited for until it answers, stopped on
// the test's cleanup, its output kept for the test's failure message.
// promql/promqltest and metricsrc/srvtest start their servers with it.
package proctest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary/canarytest"
)

// Process is a server process that can be stopped and started again with
// the same arguments.
type Process struct {
	// Name names the server in errors: "prometheus".
	Name string
	// Args are the binary and its arguments.
	Args []string
	// Env is added to the test's environment.
	Env []string
	// Ready returns nil once the server serves (HTTPReady, DialReady).
	Ready func() error
	// Timeout bounds the wait for Ready. Default: 30s.
	Timeout time.Duration

	log  canarytest.Buffer
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs the binary and waits until Ready: an error if it exits or is
// not ready in time (then it is stopped).
func (p *Process) Start() error {
	cmd := exec.Command(p.Args[0], p.Args[1:]...)
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited: %s", p.Name, cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if p.Ready() == nil {
			return nil
		}
	}
	err := p.Ready()
	p.Stop()
	return fmt.Errorf("%s not ready after %s: %v", p.Name, timeout, err)
}

// Stop sends SIGTERM to the process group (SIGKILL after 10s) and waits
// for the process to exit. Stopping a stopped process does nothing.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Log is the last n bytes of what the process wrote (… before a cut).
func (p *Process) Log(n int) string {
	s := p.log.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// Start starts the process that build returns, for t: a port picked free
// can be taken before the server binds it, so it tries three times,
// calling build again for fresh ports (and configuration). It stops the
// process when t ends, logging its output if t failed, and fails t if no
// try started.
func Start(t testing.TB, build func() (*Process, error)) *Process {
	t.Helper()
	var p *Process
	var err error
	for range 3 {
		if p, err = build(); err != nil {
			t.Fatal(err)
		}
		if err = p.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start %s: %v\n%s", p.Name, err, p.Log(4000))
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", p.Name, p.Log(4000))
		}
	})
	return p
}

// HTTPReady is a Ready that GETs url and wants a 2xx answer.
func HTTPReady(url string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// DialReady is a Ready that wants addr to accept a TCP connection.
func DialReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FreePort returns a 127.0.0.1 port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
