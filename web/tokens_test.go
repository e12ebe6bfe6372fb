package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	secretA = "aaaaaaaaaaaaaaaaaaaa-secret-A"
	secretB = "bbbbbbbbbbbbbbbbbbbb-secret-B"
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
	file, _ := LoadTokens(strings.NewReader("bob:viewer:cccccccccccccccccccccccc"))
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
