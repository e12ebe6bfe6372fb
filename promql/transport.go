package promql

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
)

// authTransport adds an Authorization header to every request.
type authTransport struct {
	base   http.RoundTripper
	bearer string
	user   string
	pass   string
	basic  bool
}

// RoundTrip implements http.RoundTripper. It clones the request, as the
// interface requires of a transport that changes headers.
func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	switch {
	case t.bearer != "":
		r.Header.Set("Authorization", "Bearer "+t.bearer)
	case t.basic:
		r.SetBasicAuth(t.user, t.pass)
	}
	return t.base.RoundTrip(r)
}

// httpClient builds the client for c: CAFile's trust and the credentials
// (bearer token, basic auth, or user info in the address, which is then
// removed from it).
func httpClient(c Config, u *url.URL) (*http.Client, error) {
	base := c.HTTPClient
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if c.CAFile != "" {
			pool, err := loadCA(c.CAFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		if c.Dial != nil {
			tr.DialContext, tr.Proxy = c.Dial, nil
		}
		base = &http.Client{Transport: tr}
	}
	at := &authTransport{base: base.Transport}
	if at.base == nil {
		at.base = http.DefaultTransport
	}
	switch {
	case c.BearerToken != "":
		tok, err := c.resolveSecret("bearerToken", c.BearerToken)
		if err != nil {
			return nil, err
		}
		at.bearer = tok
	case c.BasicAuth != nil:
		at.basic, at.user = true, c.BasicAuth.Username
		if c.BasicAuth.Password != "" {
			pw, err := c.resolveSecret("basicAuth.password", c.BasicAuth.Password)
			if err != nil {
				return nil, err
			}
			at.pass = pw
		}
	case u.User != nil:
		at.basic, at.user = true, u.User.Username()
		at.pass, _ = u.User.Password()
		u.User = nil
	default:
		return base, nil
	}
	cl := *base
	cl.Transport = at
	return &cl, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caFile %s: no PEM certificate in it", path)
	}
	return pool, nil
}
