// Package srvtest starts the real metric servers the source tests talk
// to, from Debian's packages: InfluxDB 1.6 (influxd) and Graphite
// (carbon-cache and graphite-web), each on 127.0.0.1 ports with its
// configuration and data in a temporary directory. For the cloud APIs it
// has stand-ins that serve a Traffic function's counts in each API's
// format for whole rollouts (cloud.go: Datadog, New Relic, CloudWatch)
// and a server of recorded responses that keeps every request for the
// sources' tests to check (record.go: Record, Failures).
//
// When a binary is missing the test is skipped with a message saying how
// to install it, except under CI (CI=true), where it fails: CI must not
// silently skip.
package srvtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the path of name, or skips t (fails it under CI) with
// how to install pkg.
func Binary(t testing.TB, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("%s not found: apt-get install -y --no-install-recommends %s (hack/test.sh installs it)", name, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// process is a server process that can be stopped and restarted with the
// same arguments.
type process struct {
	t     testing.TB
	name  string
	args  []string
	env   []string
	ready string // URL answering 2xx when ready
	// readyFunc, when set, replaces ready: nil when the server is ready.
	readyFunc func() error
	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	log       *lockedBuffer
}

func (p *process) start() error {
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = append(os.Environ(), p.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited: %s", p.name, cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if p.isReady() == nil {
			return nil
		}
	}
	err := p.isReady()
	p.stop()
	return fmt.Errorf("%s not ready after 30s: %v", p.name, err)
}

// isReady checks readyFunc, or that ready answers 2xx.
func (p *process) isReady() error {
	if p.readyFunc != nil {
		return p.readyFunc()
	}
	resp, err := http.Get(p.ready)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", p.ready, resp.Status)
	}
	return nil
}

// stop sends SIGTERM to the process group (SIGKILL after 10s) and waits.
func (p *process) stop() {
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

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
