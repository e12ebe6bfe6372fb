package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// leaves lists the dotted paths of values' leaves (a non-empty map is not a
// leaf; everything else, empty maps and lists included, is).
func leaves(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		out[prefix] = v
		return
	}
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		leaves(p, x, out)
	}
}

// lookup returns the value at the dotted path in values.
func lookup(values map[string]any, path string) (any, bool) {
	var v any = values
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestChartReadmeValues: the chart README's values table names every key
// of values.yaml exactly once (a row covers a key or a whole object of
// keys), with the default values.yaml gives, and no key that is not there.
func TestChartReadmeValues(t *testing.T) {
	readme, err := os.ReadFile(chartDir + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	all := map[string]any{}
	leaves("", values, all)
	covered := map[string]int{}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([^`]*)` \\| .+ \\|$")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	if len(rows) < 10 {
		t.Fatalf("found %d value rows in the README's table", len(rows))
	}
	for _, r := range rows {
		key, def := r[1], r[2]
		v, ok := lookup(values, key)
		if !ok {
			t.Errorf("README documents %s, which values.yaml does not have", key)
			continue
		}
		got, _ := json.Marshal(v)
		if string(got) != def {
			t.Errorf("README: %s defaults to %s; values.yaml says %s", key, def, got)
		}
		for leaf := range all {
			if leaf == key || strings.HasPrefix(leaf, key+".") {
				covered[leaf]++
			}
		}
	}
	for _, leaf := range slices.Sorted(func(yield func(string) bool) {
		for k := range all {
			if !yield(k) {
				return
			}
		}
	}) {
		if covered[leaf] != 1 {
			t.Errorf("values.yaml's %s is in the README's table %d times, want once", leaf, covered[leaf])
		}
	}
}
