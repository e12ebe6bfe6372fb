package web

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

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

// MinTokenLength is the shortest secret accepted: 32 characters of the
// base64url alphabet (A-Z a-z 0-9 - _), at least 192 bits when random.
// `canary token create` prints a 43-character one (NewSecret); `openssl
// rand -hex 16` gives 32 hex characters, which qualify too.
const MinTokenLength = 32

// maxTokenLength bounds a secret: longer adds nothing.
const maxTokenLength = 512

// Tokens are the bearer tokens the API accepts, each with a name (the
// actor recorded in the audit trail) and a role. Only a SHA-256 of each
// secret is kept, and String, GoString and LogValue show the names and
// roles only, so a Tokens never leaks a secret into a log.
//
// A Tokens may be replaced while it is in use (Replace: a reloaded tokens
// file); every request sees either the old set or the new one.
type Tokens struct {
	mu   sync.RWMutex
	list []token
}

type token struct {
	name string
	role Role
	hash [sha256.Size]byte
}

// LoadTokens reads tokens, one `name:role:secret` per line. Blank lines
// and lines starting with # are ignored. Names are 1 to 64 letters,
// digits and ._@-; roles are viewer or operator; secrets are
// MinTokenLength to 512 characters of the base64url alphabet A-Z a-z 0-9
// - _ (NewSecret; hex qualifies; padding '=' does not). Names and secrets
// must be unique. Errors name the line, never the secret.
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
		for _, tk := range src.tokens() {
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
	if err := checkSecret(secret); err != nil {
		return canary.Errorf(canary.EINVALID, "tokens %s (%s): %v", where, name, err)
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

// checkSecret says what is wrong with a secret, never showing it.
func checkSecret(s string) error {
	const how = "make one with `canary token create`"
	if len(s) < MinTokenLength || len(s) > maxTokenLength {
		return fmt.Errorf("the secret has %d characters; it must have %d to %d of the base64url alphabet A-Z a-z 0-9 - _ (%s)",
			len(s), MinTokenLength, maxTokenLength, how)
	}
	for i, c := range []byte(s) {
		if !isAlnum(c) && c != '-' && c != '_' {
			return fmt.Errorf("the secret's character %d is not in the base64url alphabet A-Z a-z 0-9 - _ (%s)", i+1, how)
		}
	}
	return nil
}

// NewSecret returns a new random token secret: 32 bytes from crypto/rand
// in base64url without padding (43 characters).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokens is the current list (never modified in place: Replace swaps it).
func (t *Tokens) tokens() []token {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.list
}

// Replace makes t accept the tokens of o (and only those) from now on:
// what a reloaded tokens file does. Requests being served finish with the
// tokens they were checked against.
func (t *Tokens) Replace(o *Tokens) {
	list := o.tokens()
	t.mu.Lock()
	t.list = list
	t.mu.Unlock()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.tokens()) }

// String lists the tokens' names and roles, never their secrets.
func (t *Tokens) String() string {
	list := t.tokens()
	if len(list) == 0 {
		return "no tokens"
	}
	s := make([]string, len(list))
	for i, tk := range list {
		s[i] = tk.name + " (" + string(tk.role) + ")"
	}
	return fmt.Sprintf("%d tokens: %s", len(list), strings.Join(s, ", "))
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
	list := t.tokens()
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range list {
		if subtle.ConstantTimeCompare(h[:], list[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", "", false
	}
	return list[found].name, list[found].role, true
}

// truncate cuts s to at most n bytes, adding "…" when it did.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
