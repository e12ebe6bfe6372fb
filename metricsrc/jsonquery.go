package metricsrc

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"text/template"
)

// renderer is one parsed query template.
type renderer interface {
	render(v Vars) (string, error)
}

// textQuery is a query template rendered as text.
type textQuery struct{ t *template.Template }

func (q textQuery) render(v Vars) (string, error) { return execute(q.t, v) }

// jsonQuery is a JSON document whose strings are templates: rendered, it
// is the document with each string rendered, encoded again (keys sorted).
type jsonQuery struct{ doc any }

// parseQuery parses the query template what: text, or a JSON document of
// templates when isJSON.
func parseQuery(what, text string, isJSON bool) (renderer, error) {
	if !isJSON {
		t, err := parse(what, text)
		return textQuery{t}, err
	}
	var doc any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %w", what, err)
	}
	parsed, err := parseJSON(what, doc)
	if err != nil {
		return nil, err
	}
	return jsonQuery{parsed}, nil
}

// parseJSON replaces each string of doc by its parsed template; what
// names the string in errors (queries[latency].dimensions.TargetGroup).
func parseJSON(what string, doc any) (any, error) {
	return mapLeaves(what, doc, func(path string, leaf any) (any, error) {
		if s, ok := leaf.(string); ok {
			return parse(path, s)
		}
		return leaf, nil
	})
}

func (q jsonQuery) render(v Vars) (string, error) {
	doc, err := mapLeaves("", q.doc, func(_ string, leaf any) (any, error) {
		if t, ok := leaf.(*template.Template); ok {
			return execute(t, v)
		}
		return leaf, nil
	})
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

// mapLeaves is doc with each leaf (what is not an object or an array)
// replaced by f's result; path is the leaf's place, from path.
func mapLeaves(path string, doc any, f func(path string, leaf any) (any, error)) (any, error) {
	switch d := doc.(type) {
	case map[string]any:
		out := make(map[string]any, len(d))
		for _, k := range slices.Sorted(maps.Keys(d)) {
			v, err := mapLeaves(path+"."+k, d[k], f)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case []any:
		out := make([]any, len(d))
		for i, x := range d {
			v, err := mapLeaves(fmt.Sprintf("%s[%d]", path, i), x, f)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return f(path, doc)
}
