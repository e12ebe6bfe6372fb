package checks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canary-dev/canary"
)

// Defaults used when the plan leaves a timeout at zero.
const (
	// DefaultPreCheckTimeout bounds one pre-check request.
	DefaultPreCheckTimeout = 10 * time.Second
	// DefaultHookTimeout bounds one hook (request or command).
	DefaultHookTimeout = 30 * time.Second
	// DefaultApprovalTimeout bounds one poll of an approval webhook.
	DefaultApprovalTimeout = 10 * time.Second
)

// Limits on what is read and reported.
const (
	// MaxBody is the largest pre-check response body decoded (1 MiB).
	MaxBody = 1 << 20
	// MaxResultOutput caps a pre-check's reported jq result (1 KiB).
	MaxResultOutput = 1 << 10
	// MaxHTTPOutput caps the response body a hook reports (1 KiB).
	MaxHTTPOutput = 1 << 10
	// MaxCommandOutput caps the combined output a command hook reports
	// (4 KiB): its first and last 2 KiB, with the middle elided.
	MaxCommandOutput = 4 << 10
)

// Runner executes pre-checks, hooks and approval polls. The zero value is
// ready to use.
type Runner struct {
	// HTTPClient makes the requests. Default: a client with no overall
	// timeout; every call sets its own deadline from the plan.
	HTTPClient *http.Client
	// Env is appended to the environment of command hooks ("NAME=value"
	// entries; a later entry wins over an earlier one): to the process
	// environment, or under Exec to the policy's minimal one.
	Env []string
	// Exec, when set, is the owner's command policy (canary serve and
	// canary operator): only allowed executables run, with a minimal
	// environment. Nil: any command, with the process environment
	// (canary run).
	Exec *ExecPolicy
	// Secrets resolves a command hook's env references. Default:
	// canary.SecretRef.Resolve (canary run: env: and file: anything);
	// serve and the operator pass their secret policy's. ctx is the
	// hook's, so a read from the API server ends with the rollout's call.
	Secrets func(ctx context.Context, ref canary.SecretRef) (string, error)
	// Redact, when set, is applied to every output and error message
	// returned (secrets.Redactor.Redact: the resolved secret values),
	// since both end up in events that viewers read.
	Redact func(string) string
}

// defaultClient has no global timeout: each call's context carries one.
var defaultClient = &http.Client{}

func (r *Runner) client() *http.Client {
	if r != nil && r.HTTPClient != nil {
		return r.HTTPClient
	}
	return defaultClient
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// checkURL accepts absolute http and https URLs only.
func checkURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("no URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("URL %q is not an absolute http(s) URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %q is not an absolute http(s) URL", u.Redacted())
	}
	return u, nil
}

// readCapped reads at most max bytes of r and reports whether more
// followed.
func readCapped(r io.Reader, max int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if int64(len(b)) > max {
		return b[:max], true, err
	}
	return b, false, err
}

// truncate shortens s to at most max bytes on a rune boundary, marking the
// cut with "…".
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// statusError describes a non-2xx answer, with the start of its body.
func statusError(method string, u *url.URL, resp *http.Response, body []byte) error {
	msg := fmt.Sprintf("%s %s: %s", method, u.Redacted(), resp.Status)
	if snippet := oneLine(string(body), 200); snippet != "" {
		msg += ": " + snippet
	}
	return fmt.Errorf("%s", msg)
}

// oneLine collapses whitespace runs so a body snippet fits in an error.
func oneLine(s string, max int) string {
	return truncate(strings.Join(strings.Fields(s), " "), max)
}

// is2xx reports whether code is a success status.
func is2xx(code int) bool { return code >= 200 && code < 300 }

// WithSecrets returns a copy of r resolving env references with resolve
// (the operator's, per namespace).
func (r *Runner) WithSecrets(resolve func(context.Context, canary.SecretRef) (string, error)) *Runner {
	c := *r
	c.Secrets = resolve
	return &c
}
