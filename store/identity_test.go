package store

import (
	"path/filepath"
	"regexp"
	"testing"
)

// TestUUID: every database has its own random version-4 UUID, kept in the
// file: the same after reopening, different in another database.
func TestUUID(t *testing.T) {
	dir := t.TempDir()
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	open := func(name string) string {
		s, err := Open(t.Context(), filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.UUID()
	}
	a := open("a.db")
	if !uuidV4.MatchString(a) {
		t.Fatalf("UUID %q is not a version-4 UUID", a)
	}
	if again := open("a.db"); again != a {
		t.Errorf("reopened: UUID %q, want %q", again, a)
	}
	if b := open("b.db"); b == a || !uuidV4.MatchString(b) {
		t.Errorf("a second database: UUID %q (first %q); want another UUID", b, a)
	}
}
