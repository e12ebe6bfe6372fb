package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// request is what a test server saw.
type request struct {
	method, contentType, body string
}

// recorder answers status with answer and sends each request it sees.
func recorder(t *testing.T, status int, answer string) (string, <-chan request) {
	t.Helper()
	seen := make(chan request, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- request{r.Method, r.Header.Get("Content-Type"), string(b)}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	})
	return srv.URL, seen
}

func TestHookHTTP(t *testing.T) {
	payload := []byte(`{"phase":"Progressing"}`)
	tests := []struct {
		name    string
		hook    canary.HTTPHook
		status  int
		answer  string
		want    request
		wantOut string
		wantErr string
	}{
		{name: "default POST sends the payload", status: 200, answer: "ok",
			want:    request{"POST", "application/json", `{"phase":"Progressing"}`},
			wantOut: "ok"},
		{name: "body overrides the payload", hook: canary.HTTPHook{Body: `{"x":1}`}, status: 201,
			want: request{"POST", "application/json", `{"x":1}`}, wantOut: "201 Created"},
		{name: "GET sends no payload", hook: canary.HTTPHook{Method: "get"}, status: 200, answer: "fine",
			want: request{method: "GET"}, wantOut: "fine"},
		{name: "PUT", hook: canary.HTTPHook{Method: "PUT"}, status: 204,
			want: request{"PUT", "application/json", `{"phase":"Progressing"}`}, wantOut: "204 No Content"},
		{name: "500 fails with the answer", status: 500, answer: "migration failed",
			want:    request{"POST", "application/json", `{"phase":"Progressing"}`},
			wantErr: "500 Internal Server Error: migration failed"},
		{name: "404 fails", status: 404,
			want:    request{"POST", "application/json", `{"phase":"Progressing"}`},
			wantErr: "404 Not Found"},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, seen := recorder(t, tt.status, tt.answer)
			h := tt.hook
			h.URL = url + "/hook"
			out, err := r.Hook(context.Background(), canary.Hook{Name: "h", HTTP: &h}, payload)
			checkErr(t, err, tt.wantErr)
			if out != tt.wantOut {
				t.Errorf("output = %q, want %q", out, tt.wantOut)
			}
			if got := <-seen; got != tt.want {
				t.Errorf("server saw %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHookHTTPTruncatesAnswer(t *testing.T) {
	url, _ := recorder(t, 200, strings.Repeat("é", 3000)) // 6000 bytes, 2-byte runes
	var r Runner
	out, err := r.Hook(context.Background(), canary.Hook{HTTP: &canary.HTTPHook{URL: url}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > MaxHTTPOutput || !strings.HasSuffix(out, "…") || !strings.HasPrefix(out, "éé") {
		t.Errorf("output has %d bytes, ends %q; want at most %d ending in …", len(out), out[len(out)-8:], MaxHTTPOutput)
	}
	if strings.ContainsRune(out, '\uFFFD') {
		t.Errorf("output has a broken rune")
	}
}

func TestHookHTTPTimeout(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	var r Runner
	h := canary.Hook{HTTP: &canary.HTTPHook{URL: srv.URL}, Timeout: canary.Duration(100 * time.Millisecond)}
	_, err := r.Hook(context.Background(), h, nil)
	checkErr(t, err, "timed out after 100ms")
}

func TestHookInvalid(t *testing.T) {
	tests := []struct {
		name    string
		hook    canary.Hook
		wantErr string
	}{
		{"neither", canary.Hook{Name: "x"}, `hook "x" has neither http nor command`},
		{"both", canary.Hook{Name: "x", HTTP: &canary.HTTPHook{URL: "http://127.0.0.1:1"}, Command: []string{"true"}},
			`hook "x" has both http and command`},
		{"bad URL", canary.Hook{HTTP: &canary.HTTPHook{URL: "127.0.0.1:8080/x"}}, "not an absolute http(s) URL"},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Hook(context.Background(), tt.hook, nil)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestHookCommand(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		env     []string
		want    string
		wantErr string
	}{
		{name: "output", argv: []string{"echo", "hello"}, want: "hello\n"},
		{name: "no shell: arguments are literal", argv: []string{"echo", "$HOME", "a;b"}, want: "$HOME a;b\n"},
		{name: "non-zero exit shows code and last line",
			argv: []string{"sh", "-c", "echo starting; echo 'disk full' >&2; exit 3"},
			want: "starting\ndisk full\n", wantErr: `command sh -c "echo starting; echo 'disk full' >&2; exit 3" exited with code 3: disk full`},
		{name: "env appended", argv: []string{"sh", "-c", `echo "$CANARY_STEP $PATH_SET"`},
			env: []string{"CANARY_STEP=2", "PATH_SET=" + strconv.FormatBool(os.Getenv("PATH") != "")}, want: "2 true\n"},
		{name: "payload on stdin", argv: []string{"cat"}, want: `{"phase":"Progressing"}`},
		{name: "not found", argv: []string{"/nonexistent/hook"}, wantErr: "/nonexistent/hook: fork/exec /nonexistent/hook: no such file or directory"},
		{name: "killed by a signal", argv: []string{"sh", "-c", "kill -9 $$"}, wantErr: "was killed (signal: killed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Runner{Env: tt.env}
			out, err := r.Hook(context.Background(), canary.Hook{Command: tt.argv}, []byte(`{"phase":"Progressing"}`))
			checkErr(t, err, tt.wantErr)
			if out != tt.want {
				t.Errorf("output = %q, want %q", out, tt.want)
			}
		})
	}
}

func TestHookCommandTruncatesOutput(t *testing.T) {
	var r Runner
	out, err := r.Hook(context.Background(), canary.Hook{Command: []string{"seq", "1", "20000"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > MaxCommandOutput+64 {
		t.Errorf("output has %d bytes, want about %d", len(out), MaxCommandOutput)
	}
	for _, want := range []string{"1\n2\n3\n", "bytes omitted", "19999\n20000\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.HasPrefix(out, "1\n") || !strings.HasSuffix(out, "\n20000\n") {
		t.Errorf("output = %q…%q, want the first and last lines kept", out[:10], out[len(out)-10:])
	}
}

// TestHookCommandTimeoutKillsGroup runs a shell that starts a `sleep 30`
// child and waits for it; at the 200ms timeout both must be dead.
func TestHookCommandTimeoutKillsGroup(t *testing.T) {
	var r Runner
	h := canary.Hook{
		Command: []string{"sh", "-c", "sleep 30 & echo $!; wait"},
		Timeout: canary.Duration(200 * time.Millisecond),
	}
	start := time.Now()
	out, err := r.Hook(context.Background(), h, nil)
	elapsed := time.Since(start)
	checkErr(t, err, "timed out after 200ms (process group killed)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %s, want about 200ms", elapsed)
	}
	pid, convErr := strconv.Atoi(strings.TrimSpace(out))
	if convErr != nil {
		t.Fatalf("output %q is not the child's pid", out)
	}
	// The kill is sent to the group before Hook returns, but the kernel
	// finishes a killed process's exit asynchronously, and the process
	// stays a zombie until its new parent reaps it: poll briefly for that.
	if state := waitDead(pid, 5*time.Second); state != "" && state != "Z" {
		t.Errorf("child sleep (pid %d) is in state %q 5s after the kill, want it dead", pid, state)
	}
}

// waitDead polls until pid is a zombie or gone, for at most limit, and
// returns its last state ("" when gone).
func waitDead(pid int, limit time.Duration) string {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		state := procState(pid)
		if state == "" || state == "Z" {
			return state
		}
		select {
		case <-tick.C:
		case <-deadline:
			return state
		}
	}
}

// procState returns the state letter of pid from /proc, or "" when gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the name may contain spaces
	if i < 0 || i+3 > len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

func TestHookCommandParentCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var r Runner
	_, err := r.Hook(ctx, canary.Hook{Command: []string{"sleep", "30"}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
