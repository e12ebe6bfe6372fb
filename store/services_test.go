package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestServices: a claim creates a service once, a second name is refused
// naming the holder, the routing survives a reopen, delete removes it.
func TestServices(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	now := time.Unix(1000, 0)
	web := Service{Address: "127.0.0.1:8080", Holder: "default/web", Config: []byte(`{}`),
		Routing: Routing{Stable: "http://127.0.0.1:9001", Canary: "http://127.0.0.1:9002"}}
	got, created, err := s.ClaimService(ctx, web, now)
	if err != nil || !created || got.Stable != web.Stable {
		t.Fatalf("first claim: %+v created %v err %v", got, created, err)
	}
	if _, created, err = s.ClaimService(ctx, web, now); err != nil || created {
		t.Fatalf("claim by the holder again: created %v err %v, want the existing service", created, err)
	}
	other := web
	other.Holder = "default/api"
	_, _, err = s.ClaimService(ctx, other, now)
	wantCode(t, err, canary.ECONFLICT)
	if err == nil || !strings.Contains(err.Error(), "default/web") {
		t.Errorf("conflict does not name the holder: %v", err)
	}
	promoted := Routing{Stable: "http://127.0.0.1:9002", Canary: "http://127.0.0.1:9002", Weight: 0}
	if err := s.SaveRouting(ctx, web.Address, promoted, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.SaveRouting(ctx, "127.0.0.1:1", promoted, now), canary.ENOTFOUND)
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	all, err := s2.Services(ctx)
	if err != nil || len(all) != 1 || all[0].Routing != promoted || all[0].Holder != "default/web" {
		t.Fatalf("after reopen: %+v %v, want the promoted routing", all, err)
	}
	if err := s2.DeleteService(ctx, web.Address); err != nil {
		t.Fatal(err)
	}
	_, err = s2.Service(ctx, web.Address)
	wantCode(t, err, canary.ENOTFOUND)
}
