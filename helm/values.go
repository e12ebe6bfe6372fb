package helm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/strvals"
)

// parseSet turns plan `set` entries into values exactly as `helm --set
// key=value` would, in key order.
func parseSet(set map[string]string) (map[string]any, error) {
	vals := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if err := strvals.ParseInto(k+"="+set[k], vals); err != nil {
			return nil, fmt.Errorf("set %s=%q: %w", k, set[k], err)
		}
	}
	return vals, nil
}

// setPath sets a dotted path (canary.weight) in vals, creating maps.
func setPath(vals map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	m := vals
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// deletePath removes a dotted path from vals, if present.
func deletePath(vals map[string]any, path string) {
	parts := strings.Split(path, ".")
	m := vals
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// lookup returns the value at a dotted path.
func lookup(vals map[string]any, path string) (any, bool) {
	var cur any = vals
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// intValue reads a number stored as int, int64 or float64 (after a JSON
// round trip through Helm's storage).
func intValue(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), n == float64(int(n))
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// normalize gives values the shape they have after Helm stores them (JSON
// numbers as float64), so stored and computed values compare equal.
func normalize(vals map[string]any) map[string]any {
	if vals == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return vals
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil || out == nil {
		return map[string]any{}
	}
	return out
}

// clone deep-copies values.
func clone(vals map[string]any) map[string]any { return normalize(vals) }

// merge overlays src onto a copy of base (src wins; tables merge).
func merge(base, src map[string]any) map[string]any {
	out := clone(base)
	mergeInto(out, normalize(src))
	return out
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func sameValues(a, b map[string]any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// chartDigest identifies a chart's content: metadata, default values and
// templates. Two loads of the same chart directory give the same digest,
// and so does the copy Helm stores with each revision.
func chartDigest(c *chart.Chart) string {
	if c == nil {
		return ""
	}
	h := sha256.New()
	if c.Metadata != nil {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.Metadata.Name, c.Metadata.Version, c.Metadata.AppVersion)
	}
	b, _ := json.Marshal(normalize(c.Values))
	h.Write(b)
	ts := append([]*chart.File(nil), c.Templates...)
	slices.SortFunc(ts, func(a, b *chart.File) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range ts {
		fmt.Fprintf(h, "\x00%s\x00%d\x00", t.Name, len(t.Data))
		h.Write(t.Data)
	}
	for _, d := range c.Dependencies() {
		h.Write([]byte(chartDigest(d)))
	}
	return hex.EncodeToString(h.Sum(nil))
}
