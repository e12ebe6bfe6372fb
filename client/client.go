// Package client is a Go client of the canary API (package web, served
// by `canary serve`). Its methods mirror api.API, plus Report,
// Whoami and Watch, which follows a rollout's events over server-sent
// events.
//
// Every error is a *canary.Error (errors.As finds it, canary.ErrorCode
// reads its code): the server's code and message for an error response,
// wrapped in an *Error that also holds the HTTP status and, for an
// invalid plan, the problems one per line; unavailable when the server
// cannot be reached. So a command line maps them to exit codes as it maps
// local errors.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/canary-dev/canary/api"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// DefaultTimeout bounds each request but Watch.
const DefaultTimeout = 30 * time.Second

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Client talks to one canary server with one token.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	// Timeout bounds each request but Watch's stream. Default:
	// DefaultTimeout.
	Timeout time.Duration
	// RetryDelay is how long Watch waits before reconnecting a stream that
	// broke. Default: 1s.
	RetryDelay time.Duration
}

// New returns a client of the server at base URL server (e.g.
// http://127.0.0.1:7070 or https://canary.example.com) sending token as a
// bearer token ("" sends none). A nil httpClient uses a new http.Client
// (no overall timeout, so Watch can stream; see Timeout).
func New(server, token string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, canary.Errorf(canary.EINVALID, "server %q is not an http:// or https:// URL (e.g. http://127.0.0.1:7070)", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Client{base: u, token: token, hc: httpClient, Timeout: DefaultTimeout, RetryDelay: time.Second}, nil
}

// Server is the base URL the client talks to.
func (c *Client) Server() string { return c.base.String() }

// SplitName splits "namespace/name" at its first slash; a name without
// one is in canary.DefaultNamespace.
func SplitName(name string) (namespace, rollout string) {
	if ns, n, ok := strings.Cut(name, "/"); ok {
		return ns, n
	}
	return canary.DefaultNamespace, name
}

// rolloutPath is the escaped path of a rollout and sub ("", "/events", ...).
func rolloutPath(name, sub string) string {
	ns, n := SplitName(name)
	return "/api/v1/rollouts/" + url.PathEscape(ns) + "/" + url.PathEscape(n) + sub
}

// Apply sends a plan (YAML or JSON). The server validates it; an invalid
// plan is an *Error with code invalid and one Details line per problem.
func (c *Client) Apply(ctx context.Context, plan []byte, force bool) (api.ApplyResult, error) {
	var res api.ApplyResult
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	err := c.call(ctx, "POST", "/api/v1/rollouts", q, "application/yaml", plan, &res)
	return res, err
}

// List returns the rollouts, filtered by opt.
func (c *Client) List(ctx context.Context, opt api.ListOptions) ([]api.Rollout, error) {
	q := url.Values{}
	if opt.Phase != "" {
		q.Set("phase", string(opt.Phase))
	}
	if opt.Limit > 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	var l struct {
		Items []api.Rollout `json:"items"`
	}
	err := c.call(ctx, "GET", "/api/v1/rollouts", q, "", nil, &l)
	return l.Items, err
}

// Get returns rollout name ("namespace/name", or "name" in the default
// namespace).
func (c *Client) Get(ctx context.Context, name string) (api.Rollout, error) {
	var r api.Rollout
	err := c.call(ctx, "GET", rolloutPath(name, ""), nil, "", nil, &r)
	return r, err
}

// Events returns the rollout's events with Seq > after, at most limit
// (0: the server's maximum, 1000).
func (c *Client) Events(ctx context.Context, name string, after int64, limit int) ([]canary.Event, error) {
	q := url.Values{}
	q.Set("after", strconv.FormatInt(after, 10))
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page struct {
		Items []canary.Event `json:"items"`
	}
	err := c.call(ctx, "GET", rolloutPath(name, "/events"), q, "", nil, &page)
	return page.Items, err
}

// AllEvents returns every event after after, page by page.
func (c *Client) AllEvents(ctx context.Context, name string, after int64) ([]canary.Event, error) {
	var all []canary.Event
	for {
		evs, err := c.Events(ctx, name, after, 0)
		if err != nil || len(evs) == 0 {
			return all, err
		}
		all = append(all, evs...)
		after = evs[len(evs)-1].Seq
	}
}

// Control sends a manual command; the server records the token's name as
// its actor (cmd.Actor is not sent).
func (c *Client) Control(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error) {
	body, err := json.Marshal(struct {
		Full      bool   `json:"full,omitempty"`
		Immediate bool   `json:"immediate,omitempty"`
		Reason    string `json:"reason,omitempty"`
	}{cmd.Full, cmd.Immediate, cmd.Reason})
	if err != nil {
		return api.Rollout{}, canary.Errorf(canary.EINTERNAL, "encode command: %v", err)
	}
	var r api.Rollout
	err = c.call(ctx, "POST", rolloutPath(name, "/"+url.PathEscape(string(cmd.Kind))), nil, "application/json", body, &r)
	return r, err
}

// Delete removes every generation of a finished rollout, or with
// "name@GEN" that generation only, and says which went.
func (c *Client) Delete(ctx context.Context, name string) (api.DeleteResult, error) {
	var res api.DeleteResult
	err := c.call(ctx, "DELETE", rolloutPath(name, ""), nil, "", nil, &res)
	return res, err
}

// Ready returns nil when the server is ready.
func (c *Client) Ready(ctx context.Context) error {
	return c.call(ctx, "GET", "/readyz", nil, "", nil, nil)
}

// Report returns the rollout's post-deployment report in Markdown.
func (c *Client) Report(ctx context.Context, name string) (string, error) {
	var b bytes.Buffer
	err := c.call(ctx, "GET", rolloutPath(name, "/report"), nil, "", nil, &b)
	return b.String(), err
}

// ReportJSON returns the rollout's post-deployment report as data: the
// JSON of the server's report.Data.
func (c *Client) ReportJSON(ctx context.Context, name string) (json.RawMessage, error) {
	var b bytes.Buffer
	err := c.call(ctx, "GET", rolloutPath(name, "/report"), url.Values{"format": {"json"}}, "", nil, &b)
	return json.RawMessage(b.Bytes()), err
}

// Notifications returns the rollout's notifications, newest first, with
// counts by status (see api.NotificationOptions for the filter and
// the limit: 0 is the server's default, 100; at most 1000).
func (c *Client) Notifications(ctx context.Context, name string, opt api.NotificationOptions) (api.NotificationPage, error) {
	q := url.Values{}
	if opt.Status != api.FilterAll {
		q.Set("status", string(opt.Status))
	}
	if opt.Limit > 0 {
		q.Set("limit", strconv.Itoa(min(opt.Limit, api.MaxNotificationLimit)))
	}
	var p api.NotificationPage
	err := c.call(ctx, "GET", rolloutPath(name, "/notifications"), q, "", nil, &p)
	return p, err
}

// Identity is who the server takes the client's token for (web.Whoami).
type Identity struct {
	// Name is the token's name, the actor of its commands.
	Name string `json:"name"`
	// Role is viewer or operator.
	Role string `json:"role"`
	// Insecure is true when the server accepts every request (--insecure).
	Insecure bool `json:"insecure,omitempty"`
}

// Whoami returns the token's name and role; a token the server does not
// accept is an *Error with status 401.
func (c *Client) Whoami(ctx context.Context) (Identity, error) {
	var id Identity
	err := c.call(ctx, "GET", "/api/v1/whoami", nil, "", nil, &id)
	return id, err
}

// call makes one request and decodes a 2xx answer into out (a
// *bytes.Buffer takes the raw body; nil discards it).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, out any) error {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	resp, err := c.do(ctx, method, path, q, ctype, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if buf, ok := out.(*bytes.Buffer); ok {
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			return c.netError(err)
		}
		return nil
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return canary.Errorf(canary.EINTERNAL, "%s %s: the server's answer is not the JSON expected: %v", method, path, err)
	}
	return nil
}

// do sends a request and returns a 2xx response; any other status is an
// *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, ctype string, body []byte, hdr http.Header) (*http.Response, error) {
	u := *c.base
	raw := c.base.EscapedPath() + path
	p, err := url.PathUnescape(raw)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "bad path %q: %v", raw, err)
	}
	u.Path, u.RawPath, u.RawQuery = p, raw, q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "build request: %v", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", "canary-client")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.netError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// netError says the server could not be reached, without the token.
func (c *Client) netError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return canary.Errorf(canary.EUNAVAILABLE, "cannot reach the canary server at %s: %v (is `canary serve` running? see --server or CANARY_SERVER)",
		c.base.Redacted(), err)
}

// Compile-time check that Error unwraps to a *canary.Error.
var _ interface{ Unwrap() error } = (*Error)(nil)

// Error is an error response of the API.
type Error struct {
	// Err is the server's code and message.
	Err *canary.Error
	// Status is the HTTP status (0 for an error sent inside an event stream).
	Status int
	// Details are an invalid plan's problems, one per line as `canary
	// validate` prints them: "file:line:col: path: what is wrong".
	Details []string
	// RetryAfter is how long the server asked the client to wait before
	// trying again (the Retry-After header of a 429 or 503, in whole
	// seconds); 0 when it did not say.
	RetryAfter time.Duration
}

// CodeRateLimited is the code of a request refused by the server's rate
// limit (web.CodeRateLimited; HTTP 429, with RetryAfter): not a mistake
// in the request, so a command line treats it as unavailable, retry
// later.
const CodeRateLimited = "rate_limited"

// Error is the message, then each detail on a line of its own.
func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Err.Message
	}
	return e.Err.Message + "\n" + strings.Join(e.Details, "\n")
}

// Unwrap returns the *canary.Error.
func (e *Error) Unwrap() error { return e.Err }

// errorBody is web.ErrorBody.
type errorBody struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []string `json:"details"`
	} `json:"error"`
}

// decodeError turns an error response into an *Error: the API's JSON, or
// for anything else (a proxy's page) a code guessed from the status.
func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	retry := retryAfter(resp.Header.Get("Retry-After"))
	var b errorBody
	if err := json.Unmarshal(data, &b); err == nil && b.Error.Code != "" {
		return &Error{Err: &canary.Error{Code: b.Error.Code, Message: b.Error.Message}, Status: resp.StatusCode,
			Details: b.Error.Details, RetryAfter: retry}
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	msg := fmt.Sprintf("the server answered %s", resp.Status)
	if text != "" {
		msg += ": " + text
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		msg += "; too many requests: retry later"
		if retry > 0 {
			msg += fmt.Sprintf(" (in %s)", retry)
		}
	}
	return &Error{Err: &canary.Error{Code: statusCode(resp.StatusCode), Message: msg}, Status: resp.StatusCode, RetryAfter: retry}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date (0 when
// absent, past or unreadable).
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t).Round(time.Second))
	}
	return 0
}

// statusCode is the canary code of an HTTP status without an API body.
func statusCode(status int) string {
	switch {
	case status == http.StatusNotFound:
		return canary.ENOTFOUND
	case status == http.StatusConflict:
		return canary.ECONFLICT
	case status == http.StatusUnauthorized:
		return "unauthenticated"
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusTooManyRequests:
		return CodeRateLimited
	case status >= 400 && status < 500:
		return canary.EINVALID
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return canary.EUNAVAILABLE
	}
	return canary.EINTERNAL
}
