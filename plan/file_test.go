package plan

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.yaml", []byte(basePlan))
	if data, err := ReadFile(ok); err != nil || string(data) != basePlan {
		t.Errorf("ReadFile(ok) = %q, %v", data, err)
	}
	atMax := write("max.yaml", bytes.Repeat([]byte("#"), MaxSize))
	if _, err := ReadFile(atMax); err != nil {
		t.Errorf("ReadFile(%d bytes): %v, want accepted", MaxSize, err)
	}
	tests := []struct {
		name, path, want string
		is               error
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), "nope.yaml: cannot read the file: no such file or directory: check the path", fs.ErrNotExist},
		{"too large", write("big.yaml", bytes.Repeat([]byte("#"), MaxSize+1)), "big.yaml: the file is larger than 1048576 bytes (1 MiB)", nil},
		{"a directory", dir, "cannot read the file: is a directory", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFile(tt.path)
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("got %v, want one plan error", err)
			}
			if !strings.Contains(list[0].Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", list[0], tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// TestNotTextAndSyntaxColumns: a binary file is named at its first
// non-text byte, and YAML syntax errors carry a column.
func TestNotTextAndSyntaxColumns(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"binary", "apiVersion: canary.dev/v1alpha1\nki\x00nd: Rollout\n",
			"plan.yaml:2:3: byte 0x00 is not text: a plan is a YAML text file (UTF-8); is this the right file?"},
		{"invalid UTF-8", "apiVersion: \xff\n", "plan.yaml:1:13: byte 0xff is not text"},
		{"ELF", "\x7fELF\x02\x01", "plan.yaml:1:1: byte 0x7f is not text"},
		{"unclosed bracket", "apiVersion: x\nkind: [a, b\n",
			"plan.yaml:2:7: invalid YAML: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("plan.yaml", []byte(tt.data))
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("got %v, want one error", err)
			}
			if !strings.HasPrefix(list[0].Error(), tt.want) {
				t.Errorf("got  %q\nwant %q...", list[0], tt.want)
			}
		})
	}
}
