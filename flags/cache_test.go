package flags

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// countingStore counts the reads that reach a Store and can fail writes.
type countingStore struct {
	Store
	gets, lists atomic.Int64
	failWrites  atomic.Bool
}

func (c *countingStore) GetFlag(ctx context.Context, name string) (Flag, error) {
	c.gets.Add(1)
	return c.Store.GetFlag(ctx, name)
}

func (c *countingStore) ListFlags(ctx context.Context) ([]Flag, error) {
	c.lists.Add(1)
	return c.Store.ListFlags(ctx)
}

func (c *countingStore) UpdateFlag(ctx context.Context, name string, u Update, actor, reason string) (Flag, bool, error) {
	if c.failWrites.Load() {
		return Flag{}, false, canary.Errorf(canary.EUNAVAILABLE, "disk full")
	}
	return c.Store.UpdateFlag(ctx, name, u, actor, reason)
}

func TestCache(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		under := &countingStore{Store: s}
		clock := canarytest.NewClock(t0)
		c := NewCache(under, time.Second, clock)
		b := &Builtin{Store: c, Actor: "rollout shop/checkout"}

		if err := b.SetFlag(ctx, "f", true, 5); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if f, err := c.GetFlag(ctx, "f"); err != nil || f.RolloutPercentage != 5 {
				t.Fatalf("get: %+v, %v", f, err)
			}
		}
		if n := under.lists.Load() + under.gets.Load(); n != 1 {
			t.Errorf("100 reads within the TTL reached the store %d times, want 1 (the load)", n)
		}
		// A write through the cache is seen at once.
		if err := b.SetFlag(ctx, "f", true, 10); err != nil {
			t.Fatal(err)
		}
		if f, _ := c.GetFlag(ctx, "f"); f.RolloutPercentage != 10 || f.Version != 2 {
			t.Errorf("after a write through the cache: %+v", f)
		}
		// A write around the cache is seen after the TTL.
		mustSet(t, s, "f", true, 25)
		if f, _ := c.GetFlag(ctx, "f"); f.RolloutPercentage != 10 {
			t.Errorf("within the TTL: %d%%, want the cached 10%%", f.RolloutPercentage)
		}
		clock.Advance(time.Second)
		if f, _ := c.GetFlag(ctx, "f"); f.RolloutPercentage != 25 {
			t.Errorf("after the TTL: %d%%, want 25%%", f.RolloutPercentage)
		}
		// A flag not cached is asked of the store: not found stays not found.
		_, err := c.GetFlag(ctx, "nope")
		wantCode(t, err, canary.ENOTFOUND)
		// A failed write empties the cache: the next read asks the store.
		under.failWrites.Store(true)
		if err := b.SetFlag(ctx, "f", true, 50); canary.ErrorCode(err) != canary.EUNAVAILABLE {
			t.Fatalf("failed write: %v", err)
		}
		under.failWrites.Store(false)
		lists := under.lists.Load()
		if _, err := c.ListFlags(ctx); err != nil || under.lists.Load() != lists+1 {
			t.Errorf("after a failed write the cache was kept (%v)", err)
		}
		// History is the store's.
		if h, err := c.FlagHistory(ctx, "f", 0); err != nil || len(h) != 3 {
			t.Errorf("history %d, %v", len(h), err)
		}
	})
}

// TestCacheConcurrent: readers and writers race (run with -race); at the
// end the cache holds the store's last version.
func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	s := &Memory{}
	c := NewCache(s, time.Hour, nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 50 {
				p := (w*50 + i) % 101
				if _, _, err := c.UpdateFlag(ctx, "f", Update{RolloutPercentage: &p}, "token t", ""); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := c.GetFlag(ctx, "f"); err != nil && canary.ErrorCode(err) != canary.ENOTFOUND {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := c.GetFlag(ctx, "f")
	want, _ := s.GetFlag(ctx, "f")
	if err != nil || got != want {
		t.Errorf("cache %+v (%v), store %+v", got, err, want)
	}
}

func TestCacheLoadError(t *testing.T) {
	c := NewCache(failingStore{errors.New("boom")}, 0, nil)
	if _, err := c.GetFlag(context.Background(), "f"); err == nil {
		t.Error("no error")
	}
}
