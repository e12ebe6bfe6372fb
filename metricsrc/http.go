package metricsrc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/secrets"
)

// Defaults used when an HTTPConfig (or Retry) field is zero.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 2
	DefaultBackoff = 100 * time.Millisecond
	// MaxBody is the largest answer read; a larger one is an error.
	MaxBody = 8 << 20
)

// HTTPConfig configures the HTTP client of a source.
type HTTPConfig struct {
	// Source names the source kind in errors: web, influxdb, graphite.
	Source string
	// Address is the server's base URL, shown (without credentials) in
	// errors. Credentials in it are refused: use BasicAuth.
	Address string
	// Timeout bounds one query, retries included. Default: 10s.
	Timeout time.Duration
	// Retries after a transient failure (network error, 5xx, 408, 429)
	// while Timeout lasts. Default: 2. Negative: none.
	Retries int
	// Backoff is the base of notify.Backoff's doubling waits between
	// attempts (a 429's or 503's Retry-After is honoured when it fits in
	// the timeout). Default: 100ms.
	Backoff time.Duration
	// Headers are sent with every request as written (not secret).
	Headers map[string]string
	// SecretHeaders are sent with every request, each value read from its
	// reference once, by NewHTTP (e.g. Authorization: env:API_AUTH holding
	// "Bearer …").
	SecretHeaders map[string]canary.SecretRef
	// Keys are credentials sent as headers, each required and named in
	// errors by the plan field it comes from (Datadog's apiKey as
	// DD-API-KEY); a refusal (401, 403) says to check them.
	Keys []Key
	// BearerToken is a reference to a token sent as Authorization: Bearer.
	BearerToken canary.SecretRef
	// BearerScheme replaces "Bearer" before the token (InfluxDB: Token).
	BearerScheme string
	// BasicAuth sends HTTP basic auth; not together with BearerToken.
	BasicAuth *canary.BasicAuth
	// CAFile is a PEM file of the authorities trusted for https, instead
	// of the system's.
	CAFile string
	// Secrets reads the references. Default: canary.SecretRef.Resolve
	// (env: and file:); canary serve passes its policy, the operator one
	// that reads secret:NAME/KEY from the rollout's namespace.
	Secrets func(ref canary.SecretRef) (string, error)
	// Dial connects: canary serve and the operator pass their egress
	// policy's dialer (and the environment's HTTP proxy is then not
	// used). Default: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Transport replaces the whole transport (tests). CAFile and Dial
	// must then be unset.
	Transport http.RoundTripper
}

// Key is a credential sent as a header.
type Key struct {
	// Field is the plan field the reference is in: apiKey.
	Field string
	// Header carries the value read: DD-API-KEY.
	Header string
	// Ref is the reference (env:NAME, file:/path, secret:NAME/KEY).
	Ref canary.SecretRef
}

// HTTP sends a source's requests: headers and credentials added, the
// answer read whole, transient failures retried, errors redacted. It is
// safe for concurrent use.
type HTTP struct {
	client *http.Client
	source string
	addr   string
	base   *url.URL
	header http.Header
	retry  Retry
	redact *secrets.Redactor
	check  string // what a refusal says to check
}

// NewHTTP validates c, reads its secrets (once, now) and builds the
// client. Errors name the field, never a secret's value.
func NewHTTP(c HTTPConfig) (*HTTP, error) {
	u, err := checkHTTPConfig(c)
	if err != nil {
		return nil, err
	}
	h := &HTTP{source: c.Source, addr: u.Redacted(), base: u, header: http.Header{}, redact: &secrets.Redactor{},
		retry: Retry{Timeout: c.Timeout, Retries: c.Retries, Backoff: c.Backoff}.Defaults(), check: "the source's credentials"}
	if h.client, err = client(c); err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		h.header.Set(k, c.Headers[k])
	}
	if err := h.credentials(c); err != nil {
		return nil, err
	}
	return h, nil
}

// checkHTTPConfig refuses what c cannot mean and returns its address.
func checkHTTPConfig(c HTTPConfig) (*url.URL, error) {
	u, err := url.Parse(c.Address)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("address %q is not an http(s) URL", redactURL(c.Address))
	case u.User != nil:
		return nil, fmt.Errorf("address %s: credentials in the URL are not allowed (use basicAuth with a password reference)", u.Redacted())
	case c.Timeout < 0 || c.Backoff < 0:
		return nil, fmt.Errorf("timeout %s and backoff %s must not be negative", c.Timeout, c.Backoff)
	case c.BearerToken != "" && c.BasicAuth != nil:
		return nil, errors.New("bearerToken and basicAuth are both set: use one")
	case c.BasicAuth != nil && c.BasicAuth.Username == "":
		return nil, errors.New("basicAuth.username is required")
	case c.Transport != nil && (c.CAFile != "" || c.Dial != nil):
		return nil, errors.New("caFile and dial are ignored with a custom transport")
	}
	return u, nil
}

// credentials reads c's secret headers, bearer token or basic-auth
// password into h's headers, and teaches h's redactor every value read.
func (h *HTTP) credentials(c HTTPConfig) error {
	read := func(what string, ref canary.SecretRef) (string, error) {
		resolve := ref.Resolve
		if c.Secrets != nil {
			resolve = func() (string, error) { return c.Secrets(ref) }
		}
		v, err := resolve()
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		h.redact.Add(v)
		return v, nil
	}
	var fields []string
	for _, k := range c.Keys {
		if k.Ref == "" {
			return fmt.Errorf("%s: required (a reference such as env:NAME)", k.Field)
		}
		v, err := read(k.Field, k.Ref)
		if err != nil {
			return err
		}
		h.header.Set(k.Header, v)
		fields = append(fields, k.Field)
	}
	if len(fields) > 0 {
		h.check = strings.Join(fields, " and ")
	}
	for _, k := range slices.Sorted(maps.Keys(c.SecretHeaders)) {
		v, err := read("secretHeaders["+k+"]", c.SecretHeaders[k])
		if err != nil {
			return err
		}
		h.header.Set(k, v)
	}
	switch {
	case c.BearerToken != "":
		tok, err := read("bearerToken", c.BearerToken)
		if err != nil {
			return err
		}
		h.header.Set("Authorization", cmpStr(c.BearerScheme, "Bearer")+" "+tok)
	case c.BasicAuth != nil:
		pw, err := read("basicAuth.password", c.BasicAuth.Password)
		if err != nil {
			return err
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(c.BasicAuth.Username, pw)
		h.header.Set("Authorization", r.Header.Get("Authorization"))
		h.redact.Add(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
	}
	return nil
}

func client(c HTTPConfig) (*http.Client, error) {
	if c.Transport != nil {
		return &http.Client{Transport: c.Transport}, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s: no PEM certificate in it", c.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if c.Dial != nil {
		tr.DialContext, tr.Proxy = c.Dial, nil
	}
	return &http.Client{Transport: tr}, nil
}

// Address is the server's base URL without credentials.
func (h *HTTP) Address() string { return h.addr }

// Base returns a copy of the server's base URL.
func (h *HTTP) Base() *url.URL { u := *h.base; return &u }

// Timeout is the bound of one query, retries included.
func (h *HTTP) Timeout() time.Duration { return h.retry.Timeout }

// Retry is the client's retry policy.
func (h *HTTP) Retry() Retry { return h.retry }

// Redact removes the source's secret values from s.
func (h *HTTP) Redact(s string) string { return h.redact.Redact(s) }

// Request describes one request of a query; Do sends it, with the
// configured headers added (Header's own win).
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// Do sends r and returns the 2xx answer's body, retrying transient
// failures with notify.Backoff while the timeout lasts. A failure is a
// *Failure of kind ErrUnavailable (network, 5xx, 408, 429, 401, 403) or
// ErrBadQuery (other 4xx), its text redacted.
func (h *HTTP) Do(ctx context.Context, r Request) ([]byte, error) {
	var body []byte
	err := h.retry.Do(ctx, func(ctx context.Context) (time.Duration, error) {
		b, retryAfter, err := h.once(ctx, r)
		body = b
		return retryAfter, err
	})
	return body, err
}

// Query sends r as Do does and reads the answer's one number with read.
// A failure of read (not retried: Bad, Several) says how many attempts
// the answer took; an error of read that is not a *Failure is
// ErrBadQuery.
func (h *HTTP) Query(ctx context.Context, r Request, read func(body []byte) (Value, error)) (Value, error) {
	var v Value
	err := h.retry.Do(ctx, func(ctx context.Context) (time.Duration, error) {
		b, retryAfter, err := h.once(ctx, r)
		if err != nil {
			return retryAfter, err
		}
		if v, err = read(b); err != nil {
			var f *Failure
			if !errors.As(err, &f) {
				err = &Failure{Kind: ErrBadQuery, Err: err}
			}
		}
		return 0, err
	})
	return v, err
}

// once makes one attempt: the body of a 2xx answer, or a failure and the
// server's Retry-After.
func (h *HTTP) once(ctx context.Context, r Request) ([]byte, time.Duration, error) {
	var body io.Reader
	if r.Body != nil {
		body = strings.NewReader(string(r.Body))
	}
	req, err := http.NewRequestWithContext(ctx, cmpStr(r.Method, http.MethodGet), r.URL.String(), body)
	if err != nil {
		return nil, 0, &Failure{Kind: ErrBadQuery, Err: errors.New(h.Redact(err.Error())), permanent: true}
	}
	for k, vs := range h.header {
		req.Header[k] = vs
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	res, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the address is in the QueryError already
		}
		return nil, 0, &Failure{Kind: ErrUnavailable, Err: errors.New(h.Redact(err.Error()))}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	switch {
	case err != nil:
		return nil, 0, &Failure{Kind: ErrUnavailable, Err: fmt.Errorf("reading the answer: %s", h.Redact(err.Error()))}
	case len(b) > MaxBody:
		return nil, 0, &Failure{Kind: ErrBadQuery, Err: fmt.Errorf("the answer is larger than %d MiB (narrow the query)", MaxBody>>20), permanent: true}
	case res.StatusCode/100 == 2:
		return b, 0, nil
	}
	return nil, retryAfter(res), h.statusFailure(res.StatusCode, b)
}

func cmpStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// statusFailure describes a non-2xx answer: its status, a hint, and the
// start of its body (redacted).
func (h *HTTP) statusFailure(code int, body []byte) *Failure {
	msg := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	if d := strings.TrimSpace(string(body)); d != "" {
		msg += ": " + truncate(h.Redact(d), 300)
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &Failure{Kind: ErrUnavailable, Err: errors.New(msg + " (check " + h.check + ")"), permanent: true}
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return &Failure{Kind: ErrUnavailable, Err: errors.New(msg)}
	}
	return &Failure{Kind: ErrBadQuery, Err: errors.New(msg), permanent: true}
}

// retryAfter is a 429's or 503's Retry-After in seconds, or 0.
func retryAfter(res *http.Response) time.Duration {
	if res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	s, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// redactURL returns raw without its password, or a placeholder when it
// does not parse (it may hold a secret).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}
