package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/web"
)

// TestServeInsecureOnlyOnLoopback: --insecure on an address other
// machines reach is refused before anything starts (exit 2, naming the
// flag and the address), whether or not tokens are given; on loopback
// it is accepted.
func TestServeInsecureOnlyOnLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "10.0.0.1:7070"} {
		var errw bytes.Buffer
		state := filepath.Join(t.TempDir(), "s.db")
		code := Main(t.Context(), []string{"serve", "--insecure", "--listen", listen, "--state", state}, io.Discard, &errw)
		if code != ExitInvalid || !strings.Contains(errw.String(), "--insecure is allowed only on a loopback address") ||
			!strings.Contains(errw.String(), listen) {
			t.Errorf("serve --insecure --listen %s: exit %d, %s; want %d naming --insecure and the address", listen, code, errw.String(), ExitInvalid)
		}
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Errorf("--listen %s: the refused server created its state (%v)", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:7070", "localhost:7070", "[::1]:7070", "127.1.2.3:7070"} {
		if err := checkListenSecurity(serveFlags{listen: listen, insecure: true}, nil, slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("--insecure --listen %s refused: %v", listen, err)
		}
	}
}

// TestServePlainHTTPWarning: tokens over plain HTTP on a non-loopback
// address log a warning at start; loopback or TLS do not.
func TestServePlainHTTPWarning(t *testing.T) {
	tokens, err := web.ParseTokens("ops:operator:" + rigOperator)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    serveFlags
		warn bool
	}{
		{"all interfaces", serveFlags{listen: "0.0.0.0:7070"}, true},
		{"empty host", serveFlags{listen: ":7070"}, true},
		{"a LAN address", serveFlags{listen: "192.168.1.10:7070"}, true},
		{"loopback", serveFlags{listen: "127.0.0.1:7070"}, false},
		{"TLS", serveFlags{listen: "0.0.0.0:7070", tlsCert: "c.pem", tlsKey: "k.pem"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			if err := checkListenSecurity(tt.f, tokens, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(log.String(), "level=WARN") && strings.Contains(log.String(), "plain HTTP on a non-loopback address")
			if warned != tt.warn {
				t.Errorf("--listen %s: warned %v, want %v: %s", tt.f.listen, warned, tt.warn, log.String())
			}
		})
	}
}

// TestServeTokensReloadOnHUP: a real `canary serve` process reloads its
// tokens file on SIGHUP: a new token works and a removed one is refused;
// a bad file (a 16-character secret) keeps the tokens in use and the log
// says why.
func TestServeTokensReloadOnHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a serve process")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	const ops = "0123456789abcdef0123456789abcdef" // startServe's operator token
	oldTok, newTok := web.NewSecret(), web.NewSecret()
	write := func(s string) {
		if err := os.WriteFile(file+".tmp", []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write("ops:operator:" + ops + "\nold:viewer:" + oldTok + "\n")
	p := startServe(t, filepath.Join(dir, "s.db"), "--tokens-file", file)
	whoami := func(token string) int {
		req, _ := http.NewRequest("GET", p.url+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := testClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if whoami(oldTok) != http.StatusOK || whoami(newTok) != http.StatusUnauthorized {
		t.Fatalf("before the reload: old %d, new %d", whoami(oldTok), whoami(newTok))
	}
	write("ops:operator:" + ops + "\nnew:viewer:" + newTok + "\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 10*time.Second, "the new token accepted", func() bool { return whoami(newTok) == http.StatusOK })
	if code := whoami(oldTok); code != http.StatusUnauthorized {
		t.Errorf("the removed token after the reload: %d, want 401", code)
	}
	write("ops:operator:" + ops + "\nshort:viewer:aaaaaaaaaaaaaaaa\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 10*time.Second, "the refused reload logged", func() bool {
		return strings.Contains(p.logTail(), "tokens not reloaded; the previous tokens stay in use")
	})
	if log := p.logTail(); !strings.Contains(log, "line 2 (short): the secret has 16 characters") || strings.Contains(log, "aaaaaaaaaaaaaaaa") {
		t.Errorf("the log does not say why (or shows the secret):\n%s", log)
	}
	if code := whoami(newTok); code != http.StatusOK {
		t.Errorf("after a bad file the tokens in use: %d, want 200", code)
	}
	if !p.alive() {
		t.Fatal("serve died on SIGHUP")
	}
}

// TestWatchTokensKeepsOldSetOnBadFile: each refusal (missing file, bad
// line, no token) leaves the tokens as they were.
func TestWatchTokensKeepsOldSetOnBadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	tokens, _ := web.ParseTokens("ops:operator:" + rigOperator)
	sig := make(chan os.Signal)
	var log canarytest.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchTokens(ctx, sig, file, tokens, slog.New(slog.NewTextHandler(&log, nil)))
	}()
	for _, content := range []string{"", "# nothing\n", "ops:operator:short\n", "ops:admin:" + rigOperator + "\n"} {
		if content != "" {
			os.WriteFile(file, []byte(content), 0o600)
		}
		sig <- syscall.SIGHUP
		sig <- syscall.SIGHUP // the first has been handled once the second is taken
		if tokens.String() != "1 tokens: ops (operator)" {
			t.Errorf("after reloading %q: %s", content, tokens)
		}
	}
	cancel()
	<-done
	if n := strings.Count(log.String(), "tokens not reloaded"); n != 8 {
		t.Errorf("%d refusals logged, want 8:\n%s", n, log.String())
	}
}

// TestServeFlagsRateLimited: the flag API and OFREP share the API's rate
// limit per token, and requests without a token are limited per client
// address there too.
func TestServeFlagsRateLimited(t *testing.T) {
	server := startLimitedServe(t, "--rate-limit", "0.001", "--rate-burst", "2")
	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, server+path, strings.NewReader(`{"context":{"targetingKey":"u1"}}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("GET", "/feature-flags", rigViewer); code != http.StatusOK {
		t.Fatalf("GET /feature-flags: %d", code)
	}
	do("POST", "/ofrep/v1/evaluate/flags/release_x", rigViewer)
	for _, r := range [][2]string{{"POST", "/ofrep/v1/evaluate/flags/release_x"}, {"GET", "/feature-flags"}, {"GET", "/api/v1/whoami"}} {
		if code := do(r[0], r[1], rigViewer); code != http.StatusTooManyRequests {
			t.Errorf("%s %s over the limit: %d, want 429", r[0], r[1], code)
		}
	}
	if code := do("GET", "/feature-flags", rigOperator); code != http.StatusOK {
		t.Errorf("another token: %d", code)
	}
	for range 2 {
		do("POST", "/ofrep/v1/evaluate/flags/release_x", "")
	}
	if code := do("POST", "/ofrep/v1/evaluate/flags/release_x", ""); code != http.StatusTooManyRequests {
		t.Errorf("OFREP without a token over the limit: %d, want 429", code)
	}
}

// TestTokenCreate: `canary token create` prints a secret serve accepts,
// a different one each time; with --name a tokens-file line.
func TestTokenCreate(t *testing.T) {
	run := func(args ...string) (int, string) {
		var out, errw bytes.Buffer
		code := Main(t.Context(), append([]string{"token", "create"}, args...), &out, &errw)
		return code, strings.TrimSpace(out.String() + errw.String())
	}
	code, a := run()
	_, b := run()
	if code != 0 || len(a) != 43 || a == b {
		t.Fatalf("token create: exit %d, %q then %q", code, a, b)
	}
	if _, err := web.ParseTokens("x:viewer:" + a); err != nil {
		t.Errorf("serve refuses a created secret: %v", err)
	}
	code, line := run("--name", "ci", "--role", "operator")
	if tk, err := web.ParseTokens(line); code != 0 || err != nil || tk.String() != "1 tokens: ci (operator)" {
		t.Errorf("token create --name ci --role operator: exit %d %q: %v", code, line, err)
	}
	if code, out := run("--name", "ci", "--role", "admin"); code != ExitInvalid || !strings.Contains(out, "admin") {
		t.Errorf("--role admin: exit %d %s", code, out)
	}
}
