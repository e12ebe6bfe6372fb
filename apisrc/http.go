package apisrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/canary-dev/canary"
)

// HTTPClient is a client for a source's API: the standard transport's
// settings, dialing with dial when it is set (canary serve's and the
// operator's egress policy; the environment's proxy is then not used).
func HTTPClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if dial != nil {
		tr.DialContext, tr.Proxy = dial, nil
	}
	return &http.Client{Transport: tr}
}

// Secret reads ref with resolve (default: ref.Resolve, env:NAME and
// file:/path). what names the field in errors; the secret never appears
// in one.
func Secret(resolve func(canary.SecretRef) (string, error), what string, ref canary.SecretRef) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%s: required (a reference such as env:NAME)", what)
	}
	if resolve == nil {
		resolve = canary.SecretRef.Resolve
	}
	v, err := resolve(ref)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// BaseURL checks that addr is an http(s) URL without credentials or a
// query, and returns it without a trailing slash.
func BaseURL(what, addr string) (string, error) {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s %q is not an http(s) URL", what, redact(addr))
	}
	if u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("%s %s: no user info or query string (credentials are secret references)", what, u.Redacted())
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func redact(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// Do sends req with c and returns the body of a 2xx answer (at most 8
// MiB). A network failure, a 5xx or a 429 is Transient; a 401/403 says to
// check the credentials (what names them); another status is
// ErrBadQuery, with the start of the body. Errors name neither the
// request's headers nor its URL's query.
func Do(c *http.Client, req *http.Request, what string) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which the caller names
		}
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, Transient(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, Transient(fmt.Errorf("read the answer: %w", err))
	}
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	msg := fmt.Errorf("HTTP %s: %s", resp.Status, truncate(strings.TrimSpace(string(body)), 200))
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, Transient(msg)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w (check %s)", msg, what)
	}
	return nil, fmt.Errorf("%w: %w", ErrBadQuery, msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
