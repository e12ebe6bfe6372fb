package docgen

import (
	"fmt"
	"go/ast"
	"sort"
	"strings"
)

// Field is one documented plan field.
type Field struct {
	// Path names the field in a plan, e.g. spec.rules[].for.
	Path string
	// Type is human-readable: string, integer, duration, list of objects.
	Type string
	// Object is the Go type's doc when the field is an object.
	Object string
	// Required fields have no omitempty in their json tag.
	Required bool
	// Doc is the field's doc comment, naming the field by its plan name.
	Doc string
	// Values are the allowed values, when there is a fixed set.
	Values []string
}

// Unit is a scalar format used by plan fields (duration, percentage, ...).
type Unit struct {
	Name, Doc, Pattern string
}

// Model is the plan as documented: its fields in plan order, its units,
// and the JSON Schema definitions.
type Model struct {
	Fields []Field
	Units  []Unit
	// PlanDoc is the doc comment of canary.Plan.
	PlanDoc string
	defs    map[string]any
}

// Load reads the canary root package's source in dir and builds the model.
func Load(dir string) (*Model, error) {
	src, err := readSource(dir)
	if err != nil {
		return nil, err
	}
	g := &gen{src: src, defs: map[string]any{}, used: map[string]bool{}}
	g.unit = g.units()
	if g.field, err = g.fieldRules(); err != nil {
		return nil, err
	}
	if err := g.walkStruct("Plan", ""); err != nil {
		return nil, err
	}
	if err := g.checkUsed(); err != nil {
		return nil, err
	}
	m := &Model{Fields: g.fields, PlanDoc: src.types["Plan"].doc, defs: g.defs}
	for _, name := range sortedKeys(g.unitsUsed) {
		u := g.unit[name]
		m.Units = append(m.Units, Unit{Name: u.human, Doc: src.types[name].doc, Pattern: pattern(u.schema)})
	}
	return m, nil
}

// gen walks the types from Plan down, building fields and definitions.
type gen struct {
	src       *source
	unit      map[string]unit
	field     map[string]map[string]any
	defs      map[string]any
	fields    []Field
	used      map[string]bool // rule keys applied
	unitsUsed map[string]bool
}

func (g *gen) walkStruct(typeName, prefix string) error {
	td := g.src.types[typeName]
	st, ok := td.expr.(*ast.StructType)
	if !ok {
		return fmt.Errorf("%s is not a struct", typeName)
	}
	props := map[string]any{}
	var required []string
	for _, f := range st.Fields.List {
		name, omit := jsonTag(f)
		if len(f.Names) != 1 || !f.Names[0].IsExported() || name == "" || name == "-" {
			continue
		}
		goName := f.Names[0].Name
		idx := len(g.fields)
		g.fields = append(g.fields, Field{Path: join(prefix, name), Required: !omit, Doc: fieldDoc(text(f.Doc), goName, name)})
		s, human, err := g.typeSchema(typeName+"."+goName, f.Type, join(prefix, name))
		if err != nil {
			return fmt.Errorf("%s.%s: %w", typeName, goName, err)
		}
		fl := &g.fields[idx]
		fl.Type = human
		fl.Values = enumOf(s)
		if ref, ok := s["$ref"].(string); ok {
			fl.Object = g.src.types[strings.TrimPrefix(ref, "#/$defs/")].doc
		}
		s["description"] = fl.Doc
		props[name] = s
		if !omit {
			required = append(required, name)
		}
	}
	def := map[string]any{"type": "object", "description": td.doc, "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		def["required"] = required
	}
	if extra, ok := typeRules()[typeName]; ok {
		for _, n := range requiredNames(extra) {
			if props[n] == nil {
				return fmt.Errorf("type rule for %s names %q, which it lacks", typeName, n)
			}
		}
		merge(def, extra)
	}
	g.defs[typeName] = def
	return nil
}

// typeSchema returns the schema and human type of a field's type; key is
// Type.Field (with [] appended for list items).
func (g *gen) typeSchema(key string, expr ast.Expr, path string) (map[string]any, string, error) {
	var s map[string]any
	var human string
	switch e := expr.(type) {
	case *ast.StarExpr:
		return g.typeSchema(key, e.X, path)
	case *ast.ArrayType:
		items, h, err := g.typeSchema(key+"[]", e.Elt, path+"[]")
		if err != nil {
			return nil, "", err
		}
		s, human = map[string]any{"type": "array", "items": items}, "list of "+h+"s"
	case *ast.MapType:
		if k, ok := e.Key.(*ast.Ident); !ok || k.Name != "string" {
			return nil, "", fmt.Errorf("map keys must be strings")
		}
		val, h, err := g.typeSchema(key+"[*]", e.Value, path+"[*]")
		if err != nil {
			return nil, "", err
		}
		s, human = map[string]any{"type": "object", "additionalProperties": val}, "map of names to "+h+"s"
	case *ast.Ident:
		var err error
		if s, human, err = g.identSchema(e.Name, path); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", fmt.Errorf("unsupported type %T", expr)
	}
	if extra, ok := g.field[key]; ok {
		g.used[key] = true
		merge(s, extra)
	}
	if extra, ok := useRules[key]; ok {
		g.used[key] = true
		merge(s, extra)
	}
	return s, human, nil
}

func (g *gen) identSchema(name, path string) (map[string]any, string, error) {
	switch name {
	case "string":
		return map[string]any{"type": "string"}, "string", nil
	case "int":
		return map[string]any{"type": "integer"}, "integer", nil
	case "bool":
		return map[string]any{"type": "boolean"}, "boolean", nil
	}
	if u, ok := g.unit[name]; ok {
		if g.unitsUsed == nil {
			g.unitsUsed = map[string]bool{}
		}
		g.unitsUsed[name] = true
		return copyMap(u.schema), u.human, nil
	}
	td := g.src.types[name]
	switch {
	case td == nil:
		return nil, "", fmt.Errorf("unknown type %s", name)
	case g.src.text[name]:
		return nil, "", fmt.Errorf("%s is decoded from text but has no unit in docgen: add one", name)
	}
	if _, ok := td.expr.(*ast.StructType); ok {
		if err := g.walkStruct(name, path); err != nil {
			return nil, "", err
		}
		return map[string]any{"$ref": "#/$defs/" + name}, "object", nil
	}
	if id, ok := td.expr.(*ast.Ident); ok && id.Name == "string" {
		s := map[string]any{"type": "string"}
		if vals := g.src.constValues(name, ""); len(vals) > 0 {
			s["enum"] = vals
		}
		return s, "string", nil
	}
	return nil, "", fmt.Errorf("unsupported type %s", name)
}

// checkUsed fails when a rule names a field that no longer exists.
func (g *gen) checkUsed() error {
	for key := range g.field {
		if !g.used[key] {
			return fmt.Errorf("field rule %s: no such field in the plan", key)
		}
	}
	for key := range useRules {
		if !g.used[key] {
			return fmt.Errorf("use rule %s: no such field in the plan", key)
		}
	}
	return nil
}

// fieldDoc names the field by its plan name where its comment starts with
// the Go name: "For is how long" → "`for` is how long".
func fieldDoc(doc, goName, name string) string {
	if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
		return "`" + name + "` " + rest
	}
	return doc
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	merge(c, m)
	return c
}

func enumOf(s map[string]any) []string {
	if items, ok := s["items"].(map[string]any); ok {
		s = items
	}
	vals, _ := s["enum"].([]string)
	return vals
}

func pattern(s map[string]any) string {
	if p, ok := s["pattern"].(string); ok {
		return p
	}
	var ps []string
	alts, _ := s["anyOf"].([]any)
	for _, a := range alts {
		if p, ok := a.(map[string]any)["pattern"].(string); ok {
			ps = append(ps, p)
		}
	}
	return strings.Join(ps, " or ")
}

// requiredNames collects the property names under "required" keys.
func requiredNames(v any) []string {
	var names []string
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if r, ok := x.([]string); ok && k == "required" {
				names = append(names, r...)
			} else {
				names = append(names, requiredNames(x)...)
			}
		}
	case []any:
		for _, x := range t {
			names = append(names, requiredNames(x)...)
		}
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
