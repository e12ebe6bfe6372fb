package plan

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	canary "github.com/canary-dev/canary"
)

// opt is one of a set of mutually exclusive fields.
type opt struct {
	name string
	set  bool
}

// present returns the names of the options that are set, in order.
func present(opts ...opt) []string {
	var names []string
	for _, o := range opts {
		if o.set {
			names = append(names, o.name)
		}
	}
	return names
}

// required records an error when a required string is empty; how says
// what to write.
func (v *validator) required(path, s, how string) bool {
	if s == "" {
		v.add(path, "required: %s", how)
		return false
	}
	return true
}

// url checks an absolute http(s) URL. A non-empty how makes it required.
func (v *validator) url(path, s, how string) {
	if s == "" {
		if how != "" {
			v.add(path, "required: write %s", how)
		}
		return
	}
	if !isHTTPURL(s) {
		v.add(path, "%q is not an http(s) URL: write an absolute URL starting with http:// or https://, e.g. http://127.0.0.1:9001", s)
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

// hostPort checks an optional listen address.
func (v *validator) hostPort(path, s string) {
	if s == "" {
		return
	}
	_, port, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 {
		v.add(path, "%q is not host:port: write e.g. 127.0.0.1:8080 (or :8080 for every interface)", s)
	}
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel checks a Kubernetes object name (RFC 1123 label).
func (v *validator) dnsLabel(path, s string) {
	if len(s) > 63 || !dnsLabelRE.MatchString(s) {
		v.add(path, "%q is not a DNS label: use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. recoveryos-elite)", s)
	}
}

// secret checks a secret reference with SecretRef.Validate. The message
// does not repeat the value: it may be the secret itself, and validation
// errors of API requests end up in logs.
func (v *validator) secret(path string, s canary.SecretRef) {
	if err := s.Validate(); err != nil {
		if strings.HasPrefix(string(s), "secret:") {
			v.add(path, "%v", err) // names the form, not the value
			return
		}
		v.add(path, "not a secret reference (the value is not shown, in case it is a secret): write env:NAME, file:/path or secret:NAME/KEY (a Kubernetes Secret, read by canary operator); secrets are never written in a plan")
	}
}

func (v *validator) nonNegative(path string, d canary.Duration) {
	if d < 0 {
		v.add(path, "%s is negative: write 0 or more, e.g. 30s", d)
	}
}

// names finds duplicate names in a list. what names the kind of entry in
// the message ("rule", "pre-check").
type names struct {
	v    *validator
	what string
	seen map[string]string // name → path of its first entry
}

func (v *validator) names(what string) *names {
	return &names{v: v, what: what, seen: map[string]string{}}
}

// check records name, found at path (the entry's path is entry).
func (n *names) check(entry, path, name string) {
	if name == "" {
		return
	}
	if first, dup := n.seen[name]; dup {
		n.v.add(path, "duplicate %s name %q (also %s): give each %s its own name", n.what, name, first, n.what)
		return
	}
	n.seen[name] = entry
}

func isOneOf(s string, list []string) bool { return slices.Contains(list, s) }

// orList writes "a, b or c".
func orList(list []string) string {
	if len(list) < 2 {
		return strings.Join(list, "")
	}
	return strings.Join(list[:len(list)-1], ", ") + " or " + list[len(list)-1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
