package notify

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/canary-dev/canary"
)

// SecretResolver returns the value a secret reference names.
type SecretResolver func(ref canary.SecretRef) (string, error)

// ResolveSecret reads a secret reference: "env:NAME" is the environment
// variable NAME, "file:/path" the file's contents without trailing
// whitespace. An empty or unset secret is an error. Errors name the
// reference, never the value.
func ResolveSecret(ref canary.SecretRef) (string, error) {
	if ref != "" && ref.Validate() != nil {
		return "", fmt.Errorf("%q is not a secret reference (write env:NAME or file:/path)", redactRef(string(ref)))
	}
	return ref.Resolve()
}

// redactRef shows the kind of a malformed reference, not its text, which
// may be a secret pasted in by mistake.
func redactRef(s string) string {
	if i := strings.IndexByte(s, ':'); i > 0 && i < 8 {
		return s[:i+1] + "…"
	}
	return "…"
}

// RedactURL returns u with its user's password and every query value
// replaced by "redacted", for error messages and logs. A URL that does not
// parse is shown as its scheme and host only, or not at all.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(unparsable URL)"
	}
	if p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User = url.UserPassword(p.User.Username(), "redacted")
		}
	}
	if p.RawQuery != "" {
		q := p.Query()
		for k := range q {
			q[k] = []string{"redacted"}
		}
		p.RawQuery = q.Encode()
	}
	p.Fragment = ""
	return p.String()
}

// urlSecrets are the parts of a secret URL that could show up in an
// error or an answer: the URL, its path, every path segment and query
// value long enough to be a token.
func urlSecrets(u string) []string {
	out := []string{u}
	p, err := url.Parse(u)
	if err != nil {
		return out
	}
	out = append(out, p.RawQuery)
	segs := strings.Split(p.Path, "/")
	for i := range segs { // "/services/T0/B0/token", "services/T0/B0/token", …, "token"
		if tail := strings.Join(segs[i:], "/"); len(tail) >= 8 {
			out = append(out, tail)
		}
	}
	for _, vs := range p.Query() {
		out = append(out, vs...)
	}
	if pw, ok := p.User.Password(); ok {
		out = append(out, pw)
	}
	return out
}

// scrub removes every secret from text: each value, and its URL-escaped
// forms, becomes "[redacted]". It is the last line of defence behind
// errors that are built without secrets in the first place.
func scrub(text string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) < 4 { // too short to find without mangling the text
			continue
		}
		for _, form := range []string{s, url.PathEscape(s), url.QueryEscape(s)} {
			text = strings.ReplaceAll(text, form, "[redacted]")
		}
	}
	return text
}
