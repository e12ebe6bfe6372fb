package web

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/canary-dev/canary"
)

// Role is what a token may do.
type Role string

// The roles. An operator can do everything a viewer can.
const (
	// RoleViewer reads: list, get, events, the event stream and reports.
	RoleViewer Role = "viewer"
	// RoleOperator also applies plans, controls and deletes rollouts.
	RoleOperator Role = "operator"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	}
	return 0
}

// allows reports whether a token with role r may do what needs role need.
func (r Role) allows(need Role) bool { return r.rank() >= need.rank() }

// EnvTokens is the environment variable `canary serve` reads tokens from,
// in the token file's format (lines or comma-separated entries).
const EnvTokens = "CANARY_TOKENS"

// MinTokenLength is the shortest secret accepted: 16 characters (e.g.
// `openssl rand -hex 16` gives 32).
const MinTokenLength = 16

// Tokens are the bearer tokens the API accepts, each with a name (the
// actor recorded in the audit trail) and a role. Only a SHA-256 of each
// secret is kept, and String, GoString and LogValue show the names and
// roles only, so a Tokens never leaks a secret into a log.
type Tokens struct {
	list []token
}

type token struct {
	name string
	role Role
	hash [sha256.Size]byte
}

// LoadTokens reads tokens, one `name:role:secret` per line. Blank lines
// and lines starting with # are ignored. Names are 1 to 64 letters,
// digits and ._@-; roles are viewer or operator; secrets are at least
// MinTokenLength characters of A-Z a-z 0-9 and ._~+/=- (hex, base64, UUIDs).
// Names and secrets must be unique. Errors name the line, never the secret.
func LoadTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	n := 0
	for sc.Scan() {
		n++
		if err := t.addLine(sc.Text(), fmt.Sprintf("line %d", n)); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, canary.Errorf(canary.EINVALID, "read tokens: line %d: %v", n+1, err)
	}
	return t, nil
}

// ParseTokens reads tokens from a string in LoadTokens' format where
// entries may also be separated by commas, as in the CANARY_TOKENS
// environment variable: "ci:viewer:SECRET1,alice:operator:SECRET2".
func ParseTokens(s string) (*Tokens, error) {
	t := &Tokens{}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' })
	for i, f := range fields {
		if err := t.addLine(f, fmt.Sprintf("entry %d", i+1)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Merge returns the tokens of t and o together; a name or secret in both
// is an error.
func (t *Tokens) Merge(o *Tokens) (*Tokens, error) {
	m := &Tokens{}
	for _, src := range []*Tokens{t, o} {
		if src == nil {
			continue
		}
		for _, tk := range src.list {
			if err := m.add(tk, "token "+tk.name); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (t *Tokens) addLine(line, where string) error {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	parts := strings.SplitN(line, ":", 3)
	if len(parts) != 3 {
		return canary.Errorf(canary.EINVALID, "tokens %s: want name:role:secret", where)
	}
	name, role, secret := strings.TrimSpace(parts[0]), Role(strings.TrimSpace(parts[1])), strings.TrimSpace(parts[2])
	if !validTokenName(name) {
		return canary.Errorf(canary.EINVALID, "tokens %s: the name must be 1 to 64 letters, digits and ._@-", where)
	}
	if role.rank() == 0 {
		return canary.Errorf(canary.EINVALID, "tokens %s (%s): role %q is not viewer or operator", where, name, truncate(string(role), 20))
	}
	if len(secret) < MinTokenLength || !validSecret(secret) {
		return canary.Errorf(canary.EINVALID,
			"tokens %s (%s): the secret must be at least %d characters of A-Z a-z 0-9 ._~+/=- (e.g. openssl rand -hex 16)",
			where, name, MinTokenLength)
	}
	return t.add(token{name: name, role: role, hash: sha256.Sum256([]byte(secret))}, where)
}

func (t *Tokens) add(tk token, where string) error {
	for _, o := range t.list {
		if o.name == tk.name {
			return canary.Errorf(canary.EINVALID, "tokens %s: the name %s is used twice", where, tk.name)
		}
		if o.hash == tk.hash {
			return canary.Errorf(canary.EINVALID, "tokens %s: %s has the same secret as %s", where, tk.name, o.name)
		}
	}
	t.list = append(t.list, tk)
	return nil
}

func validTokenName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlnum(c) && !strings.ContainsRune("._@-", rune(c)) {
			return false
		}
	}
	return true
}

func validSecret(s string) bool {
	for _, c := range []byte(s) {
		if !isAlnum(c) && !strings.ContainsRune("._~+/=-", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Len is the number of tokens.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.list)
}

// String lists the tokens' names and roles, never their secrets.
func (t *Tokens) String() string {
	if t.Len() == 0 {
		return "no tokens"
	}
	s := make([]string, len(t.list))
	for i, tk := range t.list {
		s[i] = tk.name + " (" + string(tk.role) + ")"
	}
	return fmt.Sprintf("%d tokens: %s", len(t.list), strings.Join(s, ", "))
}

// GoString is String, so %#v shows no hashes either.
func (t *Tokens) GoString() string { return t.String() }

// LogValue implements slog.LogValuer with String.
func (t *Tokens) LogValue() slog.Value { return slog.StringValue(t.String()) }

// lookup finds the token whose secret is given. It compares the SHA-256
// of the given secret with every token's, in constant time and without
// stopping at a match, so neither the time taken nor the length of the
// given secret tells which token (or how much of one) matched.
func (t *Tokens) lookup(secret string) (name string, role Role, ok bool) {
	if t == nil {
		return "", "", false
	}
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range t.list {
		if subtle.ConstantTimeCompare(h[:], t.list[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", "", false
	}
	return t.list[found].name, t.list[found].role, true
}

// truncate cuts s to at most n bytes, adding "…" when it did.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
