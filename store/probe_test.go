package store

import (
	"context"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestCheckWrite: a writable store takes the probe and is unchanged; a
// read-only one refuses it as code unavailable, saying read-only.
func TestCheckWrite(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	r := create(t, s, "shop/checkout")
	if err := s.CheckWrite(ctx); err != nil {
		t.Fatalf("writable store: %v", err)
	}
	if got, err := s.Get(ctx, r.ID); err != nil || got.State.EventSeq != 1 {
		t.Fatalf("after the probe: seq %d, %v; want 1", got.State.EventSeq, err)
	}
	s.Close()
	ro, err := OpenConfig(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.CheckWrite(ctx)
	wantCode(t, err, canary.EUNAVAILABLE)
	if !strings.Contains(err.Error(), "read-only") {
		t.Errorf("got %q, want it to say read-only", err)
	}
	rw, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after the probes: %v", err)
	}
	rw.Close()
}
