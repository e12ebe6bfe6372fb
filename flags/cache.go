package flags

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// DefaultCacheTTL is Cache's default TTL.
const DefaultCacheTTL = time.Second

// Cache is a Store that answers GetFlag and ListFlags from memory, for the
// OFREP hot path (server-side OpenFeature providers make one request per
// evaluation). Writes go through to the underlying Store and update the
// cache when they succeed; a failed write empties it, so the next read
// asks the Store. Everything is re-read from the Store at most TTL after
// the last load, which bounds how long a write made around the cache (by
// another process on the same database) stays unseen. Build it with
// NewCache; give the same Cache to the Handler and to Builtin, so a
// rollout's change is visible to the next evaluation.
type Cache struct {
	store Store
	ttl   time.Duration
	clock canary.Clock

	mu     sync.Mutex
	flags  map[string]Flag // every flag, when loaded is not zero
	loaded time.Time
	gen    uint64 // bumped by every write, so a load that raced one is not kept
}

// NewCache returns a Cache over s. ttl ≤ 0 means DefaultCacheTTL (1s); a
// nil clock means canary.SystemClock.
func NewCache(s Store, ttl time.Duration, clock canary.Clock) *Cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if clock == nil {
		clock = canary.SystemClock{}
	}
	return &Cache{store: s, ttl: ttl, clock: clock}
}

var _ Store = (*Cache)(nil)

// snapshot returns the cached flags, loading them when stale.
func (c *Cache) snapshot(ctx context.Context) (map[string]Flag, error) {
	c.mu.Lock()
	if !c.loaded.IsZero() && c.clock.Now().Sub(c.loaded) < c.ttl {
		m := c.flags
		c.mu.Unlock()
		return m, nil
	}
	gen := c.gen
	c.mu.Unlock()
	fl, err := c.store.ListFlags(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Flag, len(fl))
	for _, f := range fl {
		m[f.Name] = f
	}
	c.mu.Lock()
	if c.gen == gen { // no write since the load began: keep it
		c.flags, c.loaded = m, c.clock.Now()
	}
	c.mu.Unlock()
	return m, nil
}

// GetFlag returns a flag from the cache, or code not_found.
func (c *Cache) GetFlag(ctx context.Context, name string) (Flag, error) {
	m, err := c.snapshot(ctx)
	if err != nil {
		return Flag{}, err
	}
	if f, ok := m[name]; ok {
		return f, nil
	}
	// Not cached: the Store gives the authoritative answer (and error).
	return c.store.GetFlag(ctx, name)
}

// ListFlags returns every cached flag, by name.
func (c *Cache) ListFlags(ctx context.Context) ([]Flag, error) {
	m, err := c.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Flag, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Flag) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateFlag writes through to the Store and caches the result.
func (c *Cache) UpdateFlag(ctx context.Context, name string, u Update, actor, reason string) (Flag, bool, error) {
	f, changed, err := c.store.UpdateFlag(ctx, name, u, actor, reason)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch {
	case canary.ErrorCode(err) == canary.EINVALID:
		// Refused before anything was written.
	case err != nil:
		c.flags, c.loaded = nil, time.Time{} // the outcome is unknown: reload
	case c.flags != nil && c.flags[name].Version <= f.Version:
		// (A concurrent write of the same flag may have cached a newer
		// version already: versions only grow.)
		m := make(map[string]Flag, len(c.flags)+1) // readers may hold the old map
		for k, v := range c.flags {
			m[k] = v
		}
		m[name] = f
		c.flags = m
	}
	return f, changed, err
}

// FlagHistory reads the Store.
func (c *Cache) FlagHistory(ctx context.Context, name string, limit int) ([]Change, error) {
	return c.store.FlagHistory(ctx, name, limit)
}
