package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	secretA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaa-secret-A"
	secretB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbb-secret-B"
)

func TestLoadTokens(t *testing.T) {
	tk, err := LoadTokens(strings.NewReader("# the team\n\nalice:operator:" + secretA + "\n  ci : viewer : " + secretB + "  \n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		secret, name string
		role         Role
		ok           bool
	}{
		{secretA, "alice", RoleOperator, true},
		{secretB, "ci", RoleViewer, true},
		{secretA + "x", "", "", false},
		{secretA[:20], "", "", false},
		{"", "", "", false},
	} {
		name, role, ok := tk.lookup(c.secret)
		if name != c.name || role != c.role || ok != c.ok {
			t.Errorf("lookup(%q) = %q %q %v, want %q %q %v", c.secret, name, role, ok, c.name, c.role, c.ok)
		}
	}
	if !RoleOperator.allows(RoleViewer) || RoleViewer.allows(RoleOperator) || Role("admin").allows(RoleViewer) {
		t.Error("role order")
	}
}

// TestTokenErrorsHideSecrets: bad lines are refused, naming the line and
// never the secret.
func TestTokenErrorsHideSecrets(t *testing.T) {
	tests := map[string]string{
		"no role":        "alice:" + secretA,
		"bad role":       "alice:admin:" + secretA,
		"short":          "alice:operator:short-" + "x",
		"bad characters": "alice:operator:" + secretA + " with space",
		"bad name":       "al ice:operator:" + secretA,
		"dup name":       "alice:operator:" + secretA + "\nalice:viewer:" + secretB,
		"dup secret":     "alice:operator:" + secretA + "\nbob:viewer:" + secretA,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := LoadTokens(strings.NewReader(in))
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "secret-A") || strings.Contains(err.Error(), "secret-B") || strings.Contains(err.Error(), "short-x") {
				t.Errorf("error shows a secret: %v", err)
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error names no line: %v", err)
			}
		})
	}
}

func TestParseTokensAndMerge(t *testing.T) {
	env, err := ParseTokens("alice:operator:" + secretA + ", ci:viewer:" + secretB)
	if err != nil || env.Len() != 2 {
		t.Fatalf("%v %v", env, err)
	}
	file, _ := LoadTokens(strings.NewReader("bob:viewer:cccccccccccccccccccccccccccccccccccc"))
	all, err := env.Merge(file)
	if err != nil || all.Len() != 3 {
		t.Fatalf("merge: %v %v", all, err)
	}
	if _, err := all.Merge(env); err == nil {
		t.Error("merge with duplicates accepted")
	}
	if _, err := ParseTokens("alice:operator:" + secretA + ",oops"); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("bad entry: %v", err)
	}
}

// TestTokensNeverPrinted: no way of printing or logging Tokens shows a
// secret or its hash.
func TestTokensNeverPrinted(t *testing.T) {
	tk, _ := ParseTokens("alice:operator:" + secretA)
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("loaded", "tokens", tk)
	out := fmt.Sprintf("%v %+v %#v %s", tk, tk, tk, tk) + log.String()
	if strings.Contains(out, "secret") || strings.Contains(out, "[") {
		t.Errorf("printed tokens show too much: %s", out)
	}
	if !strings.Contains(out, "1 tokens: alice (operator)") {
		t.Errorf("printed tokens: %s", out)
	}
}

// TestTokenSecretFormat: secrets are at least 32 characters of the
// base64url alphabet. The 16-character secret today's probe used
// ("aaaaaaaaaaaaaaaa"), a 31-character one, padding, '+', '/' and '.' are
// refused with an error that says how long, what alphabet and how to
// make one; NewSecret's are accepted.
func TestTokenSecretFormat(t *testing.T) {
	tests := []struct {
		name, secret string
		ok           bool
		want         string // in the error
	}{
		{"16 characters", strings.Repeat("a", 16), false, "has 16 characters; it must have 32 to 512"},
		{"31 characters", strings.Repeat("a", 31), false, "has 31 characters"},
		{"32 hex characters", "0123456789abcdef0123456789abcdef", true, ""},
		{"base64url", "Ab_-" + strings.Repeat("9", 28), true, ""},
		{"padding", strings.Repeat("a", 32) + "==", false, "character 33 is not in the base64url alphabet"},
		{"plus", strings.Repeat("a", 31) + "+", false, "character 32 is not in the base64url alphabet"},
		{"slash", "/" + strings.Repeat("a", 31), false, "character 1 is not"},
		{"dot", strings.Repeat("a", 20) + "." + strings.Repeat("a", 20), false, "character 21"},
		{"513 characters", strings.Repeat("a", 513), false, "has 513 characters"},
		{"NewSecret", NewSecret(), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadTokens(strings.NewReader("alice:viewer:" + tt.secret))
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "canary token create") {
				t.Errorf("error %q; want it to contain %q and say how to make one", err, tt.want)
			}
			if len(tt.secret) > 8 && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// TestNewSecret: 43 characters of base64url (256 random bits), a
// different one every time.
func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewSecret()
		if len(s) != 43 || checkSecret(s) != nil {
			t.Fatalf("NewSecret() = %q (%d characters): %v", s, len(s), checkSecret(s))
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
}

// TestTokensReplace: after Replace the old secrets are refused and the
// new ones accepted, through the same *Tokens the server holds.
func TestTokensReplace(t *testing.T) {
	tk, _ := ParseTokens("alice:operator:" + secretA)
	next, _ := ParseTokens("ci:viewer:" + secretB)
	tk.Replace(next)
	if _, _, ok := tk.lookup(secretA); ok {
		t.Error("the replaced secret is still accepted")
	}
	if name, role, ok := tk.lookup(secretB); !ok || name != "ci" || role != RoleViewer {
		t.Errorf("lookup(new secret) = %q %q %v; want ci viewer", name, role, ok)
	}
	if tk.Len() != 1 {
		t.Errorf("Len() = %d after Replace; want 1", tk.Len())
	}
}
