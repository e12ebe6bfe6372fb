package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// waitDelay bounds how long a killed command's output pipes are read
// after the kill, in case a process escaped its group and holds them.
const waitDelay = 2 * time.Second

// command runs argv within timeout; see Hook.
func (r *Runner) command(ctx context.Context, argv []string, hookEnv map[string]canary.SecretRef, timeout time.Duration, payload []byte) (string, error) {
	name := quoteArgs(argv)
	exe, env, cleanup, err := r.prepare(ctx, argv[0], hookEnv)
	if err != nil {
		return "", err
	}
	defer cleanup()
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, exe, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env.vars
	if r.Exec != nil {
		cmd.Dir = env.home
	}
	cmd.Stdin = bytes.NewReader(payload)
	out := &headTail{headMax: MaxCommandOutput / 2, tailMax: MaxCommandOutput / 2}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	killGroupOnCancel(cmd)

	err = cmd.Run()
	text := out.String()
	if err == nil {
		return text, nil
	}
	last := lastLine(text)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return text, fmt.Errorf("command %s: %w", name, ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return text, fmt.Errorf("command %s timed out after %s (process group killed)%s: %w",
			name, timeout, last, context.DeadlineExceeded)
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return text, fmt.Errorf("command %s exited with code %d%s", name, exitErr.ExitCode(), last)
	case errors.As(err, &exitErr):
		return text, fmt.Errorf("command %s was killed (%s)%s", name, exitErr.ProcessState, last)
	}
	return text, fmt.Errorf("command %s: %w", name, err)
}

// prepare resolves name under r.Exec and builds the environment: the
// process's own plus r.Env without a policy; the policy's minimal one plus
// r.Env with one, in a fresh HOME that cleanup removes; then the hook's
// own env, resolved with r.Secrets.
func (r *Runner) prepare(ctx context.Context, name string, hookEnv map[string]canary.SecretRef) (exe string, env envList, cleanup func(), err error) {
	own, err := r.resolveEnv(ctx, name, hookEnv)
	if err != nil {
		return "", envList{}, nil, err
	}
	if r.Exec == nil {
		return name, envList{vars: append(append(os.Environ(), r.Env...), own...)}, func() {}, nil
	}
	if exe, err = r.Exec.Resolve(name); err != nil {
		return "", envList{}, nil, err
	}
	home, err := os.MkdirTemp("", "canary-hook-")
	if err != nil {
		return "", envList{}, nil, fmt.Errorf("command %s: private home: %w", name, err)
	}
	vars := append(append(r.Exec.Env(home), r.Env...), own...)
	return exe, envList{vars: vars, home: home}, func() { _ = os.RemoveAll(home) }, nil
}

// resolveEnv reads a hook's env references, sorted by name.
func (r *Runner) resolveEnv(ctx context.Context, name string, hookEnv map[string]canary.SecretRef) ([]string, error) {
	resolve := r.Secrets
	if resolve == nil {
		resolve = func(_ context.Context, ref canary.SecretRef) (string, error) { return ref.Resolve() }
	}
	names := make([]string, 0, len(hookEnv))
	for k := range hookEnv {
		names = append(names, k)
	}
	sort.Strings(names)
	vars := make([]string, 0, len(names))
	for _, k := range names {
		v, err := resolve(ctx, hookEnv[k])
		if err != nil {
			return nil, fmt.Errorf("command %s: env %s: %w", name, k, err)
		}
		vars = append(vars, k+"="+v)
	}
	return vars, nil
}

// envList is a command's environment ("NAME=value") and its private HOME
// ("" when it inherits the process environment).
type envList struct {
	vars []string
	home string
}

// lastLine returns ": " and the last non-blank line of out, or "".
func lastLine(out string) string {
	out = strings.TrimRight(out, " \t\r\n")
	if out == "" {
		return ""
	}
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return ": " + truncate(strings.TrimSpace(out), 200)
}

// quoteArgs writes argv as a shell reader would expect, quoting arguments
// that are empty or contain spaces or quotes.
func quoteArgs(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>*?") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// headTail keeps the first headMax and the last tailMax bytes written to
// it and counts the bytes in between, so a chatty command costs bounded
// memory while its first and last words are kept.
type headTail struct {
	mu      sync.Mutex
	headMax int
	tailMax int
	head    []byte
	tail    []byte
	dropped int64
}

// Write implements io.Writer; it never fails.
func (w *headTail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if room := w.headMax - len(w.head); room > 0 {
		k := min(room, len(p))
		w.head = append(w.head, p[:k]...)
		p = p[k:]
	}
	if len(p) >= w.tailMax {
		w.dropped += int64(len(w.tail) + len(p) - w.tailMax)
		w.tail = append(w.tail[:0], p[len(p)-w.tailMax:]...)
		return n, nil
	}
	w.tail = append(w.tail, p...)
	if over := len(w.tail) - w.tailMax; over > 0 {
		w.dropped += int64(over)
		w.tail = append(w.tail[:0], w.tail[over:]...)
	}
	return n, nil
}

// String returns the kept output, marking an elided middle.
func (w *headTail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	b.WriteString(strings.ToValidUTF8(string(w.head), ""))
	if w.dropped > 0 {
		fmt.Fprintf(&b, "\n… %d bytes omitted …\n", w.dropped)
	}
	b.WriteString(strings.ToValidUTF8(string(w.tail), ""))
	return b.String()
}
