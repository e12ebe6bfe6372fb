package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envServeChild makes this test binary run `canary <args>` (the arguments,
// JSON-encoded, in the variable) instead of the tests: the disk fault and
// hostile input tests run `canary serve` as a real separate process.
const envServeChild = "CANARY_TEST_SERVE_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(envServeChild); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, "child args:", err)
			os.Exit(3)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := Main(ctx, argv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// serveProc is a `canary serve` child process and a client for its API.
type serveProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	token  string
	log    string // its stderr
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// startServe runs `canary serve --listen addr --state state` with args
// and the operator token, and waits for /healthz. The child is killed when
// the test ends (or dies with the test process).
func startServe(t *testing.T, state string, args ...string) *serveProc {
	t.Helper()
	dir := t.TempDir()
	const token = "0123456789abcdef0123456789abcdef"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("ops:operator:"+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// Polled hard by the tests: no rate limit unless args set one.
	argv := append([]string{"serve", "--listen", addr, "--state", state, "--tokens-file", tokens, "--rate-limit", "0"}, args...)
	enc, _ := json.Marshal(argv)
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServeChild+"="+string(enc))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{t: t, cmd: cmd, url: "http://" + addr, token: token, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	for i := 0; ; i++ {
		if st, _ := p.do("GET", "/healthz", nil); st == http.StatusOK {
			return p
		}
		if !p.alive() || i == 400 {
			t.Fatalf("canary serve did not come up: %v\n%s", p.err, p.logTail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// alive reports whether the process is still running.
func (p *serveProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to 20s for a clean exit, then kills.
func (p *serveProc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			p.t.Logf("canary serve exited: %v", p.err)
		}
	case <-time.After(20 * time.Second):
		p.t.Errorf("canary serve did not stop within 20s of SIGTERM; killing it")
		p.kill()
	}
}

// kill ends the process at once (no-op once it exited).
func (p *serveProc) kill() {
	if p.alive() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *serveProc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

var testClient = &http.Client{Timeout: 30 * time.Second}

// do sends a request with the operator token and returns the status and
// body (status 0 when the request failed).
func (p *serveProc) do(method, path string, body []byte) (int, string) {
	req, err := http.NewRequest(method, p.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getJSON GETs path into v; false unless 200 and decodable.
func (p *serveProc) getJSON(path string, v any) bool {
	st, body := p.do("GET", path, nil)
	return st == http.StatusOK && json.Unmarshal([]byte(body), v) == nil
}

// rssKiB is the resident set size of process pid, from /proc.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return -1
}

// mountFS mounts a file system (mount args before the target) on a new
// temporary directory, skipping the test when mounting is not allowed, and
// unmounts it when the test ends.
func mountFS(t *testing.T, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a file system needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", append(args, dir)...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount (%v): %v: %s", args, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
