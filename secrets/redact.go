package secrets

import (
	"sort"
	"strings"
	"sync"
)

// MinRedactLen is the shortest value a Redactor hides: shorter ones
// would blank out ordinary words and digits of every output.
const MinRedactLen = 4

// Redacted replaces a secret value in redacted text.
const Redacted = "[redacted]"

// Redactor remembers secret values and removes them from text. It is safe
// for concurrent use; the zero value is ready, and a nil *Redactor
// remembers and removes nothing.
type Redactor struct {
	mu     sync.RWMutex
	values map[string]struct{}
	r      *strings.Replacer
}

// Add remembers v (trimmed; values shorter than MinRedactLen are not).
func (r *Redactor) Add(v string) {
	v = strings.TrimSpace(v)
	if r == nil || len(v) < MinRedactLen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.values[v]; ok {
		return
	}
	if r.values == nil {
		r.values = map[string]struct{}{}
	}
	r.values[v] = struct{}{}
	all := make([]string, 0, len(r.values))
	for k := range r.values {
		all = append(all, k)
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) || len(all[i]) == len(all[j]) && all[i] < all[j] })
	pairs := make([]string, 0, 2*len(all))
	for _, k := range all {
		pairs = append(pairs, k, Redacted)
	}
	r.r = strings.NewReplacer(pairs...)
}

// Redact returns s with every remembered value replaced by Redacted.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}
