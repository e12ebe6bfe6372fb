package checks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// Hook runs h within h.Timeout (default 30s) and returns what it said.
//
// An HTTP hook sends h.HTTP.Method (default POST) to h.HTTP.URL with
// h.HTTP.Body, or else payload (the rollout's state as JSON), as
// application/json; GET and HEAD send no payload. A non-2xx answer fails
// it. output is the response body truncated to MaxHTTPOutput bytes, or the
// status line when the body is empty.
//
// A command hook runs h.Command without a shell, with payload on its
// standard input: with the process environment plus r.Env, or under
// r.Exec only if its executable is allowed, with the policy's minimal
// environment plus r.Env, in a private HOME. A non-zero
// exit fails it with the exit code and the last line of output. output is
// the combined standard output and error, at most MaxCommandOutput bytes
// (the first and last halves, the middle elided). At the timeout the
// command's whole process group is killed, so its children die with it;
// background children that outlive a command that exited on its own are
// left alone.
func (r *Runner) Hook(ctx context.Context, h canary.Hook, payload []byte) (output string, err error) {
	return r.clean(r.hook(ctx, h, payload))
}

func (r *Runner) hook(ctx context.Context, h canary.Hook, payload []byte) (string, error) {
	timeout := orDefault(h.Timeout.D(), DefaultHookTimeout)
	switch {
	case h.HTTP != nil && len(h.Command) > 0:
		return "", fmt.Errorf("hook %q has both http and command; set one", h.Name)
	case h.HTTP != nil:
		return r.httpHook(ctx, *h.HTTP, timeout, payload)
	case len(h.Command) > 0:
		return r.command(ctx, h.Command, h.Env, timeout, payload)
	}
	return "", fmt.Errorf("hook %q has neither http nor command; set one", h.Name)
}

// httpHook makes the request of an HTTP hook.
func (r *Runner) httpHook(ctx context.Context, h canary.HTTPHook, timeout time.Duration, payload []byte) (string, error) {
	u, err := checkURL(h.URL)
	if err != nil {
		return "", err
	}
	method := strings.ToUpper(h.Method)
	if method == "" {
		method = http.MethodPost
	}
	body := payload
	switch {
	case h.Body != "":
		body = []byte(h.Body)
	case method == http.MethodGet || method == http.MethodHead:
		body = nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := r.post(ctx, method, u.String(), body)
	if err != nil {
		return "", timeoutHint(ctx, err, timeout)
	}
	defer resp.Body.Close()
	got, more, _ := readCapped(resp.Body, MaxHTTPOutput)
	if !is2xx(resp.StatusCode) {
		return "", statusError(method, u, resp, got)
	}
	out := strings.ToValidUTF8(string(got), "")
	if more {
		out = truncate(out+"…", MaxHTTPOutput)
	}
	if strings.TrimSpace(out) == "" {
		return resp.Status, nil
	}
	return out, nil
}

// post sends body as JSON with method; the caller closes the response.
func (r *Runner) post(ctx context.Context, method, url string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", userAgent)
	return r.client().Do(req)
}
