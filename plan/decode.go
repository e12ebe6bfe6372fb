package plan

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// maxValues bounds the values decoded from one file, counting every alias
// expansion, so a small file cannot expand into an enormous plan.
const maxValues = 100_000

// integerRE matches integers too large for YAML's !!int.
var integerRE = regexp.MustCompile(`^[-+]?[0-9]+$`)

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// decoder walks a YAML node tree and a Go value side by side, using the
// Go types' json tags as field names. It never stops at the first problem:
// every error is collected with the node it is about.
type decoder struct {
	file string
	errs ErrorList
	// nodes maps the path of every decoded value to its (alias-resolved)
	// node, so validation errors found later can be given a position.
	nodes map[string]*yaml.Node
	// bad holds the paths that had a decoding error.
	bad map[string]bool
	// meant holds the paths of known fields an unknown one was probably
	// meant to be (spec.steps[0].hold for a "hodl" there) and that are not
	// written: what validation says about them follows from the typo.
	meant map[string]bool
	count int
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, nodes: map[string]*yaml.Node{}, bad: map[string]bool{}, meant: map[string]bool{}}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.bad[path] = true
}

// value decodes n into v, which must be settable.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	n = d.resolve(n, path)
	if n == nil {
		return
	}
	d.nodes[path] = n
	if isNull(n) {
		return // like an absent field
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		d.text(n, path, v)
		return
	}
	switch t.Kind() {
	case reflect.String:
		if d.wantScalar(n, path, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(n, path, v)
	case reflect.Bool:
		d.boolean(n, path, v)
	case reflect.Struct:
		d.structure(n, path, v)
	case reflect.Pointer:
		if t.Elem().Kind() != reflect.Struct {
			d.errorf(n, path, "internal error: cannot decode into %s", t)
			return
		}
		p := reflect.New(t.Elem())
		if d.structure(n, path, p.Elem()) {
			v.Set(p)
		}
	case reflect.Slice:
		d.sequence(n, path, v)
	case reflect.Map:
		d.mapping(n, path, v)
	default:
		d.errorf(n, path, "internal error: cannot decode into %s", t)
	}
}

// resolve follows aliases and counts values against maxValues; it returns
// nil once the budget is spent.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	d.count++
	if d.count == maxValues+1 {
		d.errorf(n, path, "the plan expands to more than %d values (through aliases): write it out with fewer aliases", maxValues)
	}
	if d.count > maxValues {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// wantScalar reports whether n is a scalar, and records an error if not.
func (d *decoder) wantScalar(n *yaml.Node, path, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	d.errorf(n, path, "got %s, want %s: write a single value (quote it if it contains \": \", \"{\" or \"[\")", describe(n), want)
	return false
}

func (d *decoder) text(n *yaml.Node, path string, v reflect.Value) {
	if !d.wantScalar(n, path, textHint(v.Type())) {
		return
	}
	u := v.Addr().Interface().(encoding.TextUnmarshaler)
	if err := u.UnmarshalText([]byte(n.Value)); err != nil {
		d.errorf(n, path, "%s", err.Error())
	}
}

func (d *decoder) integer(n *yaml.Node, path string, v reflect.Value) {
	if !d.wantScalar(n, path, "a whole number") {
		return
	}
	if n.ShortTag() != "!!int" {
		if n.ShortTag() == "!!float" && integerRE.MatchString(n.Value) {
			d.errorf(n, path, "%s is out of range: write a smaller whole number", n.Value)
			return
		}
		d.errorf(n, path, "%q is not a whole number: write an integer without quotes or units, e.g. 5", n.Value)
		return
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || v.OverflowInt(i) {
		d.errorf(n, path, "%s is out of range: write a smaller whole number", n.Value)
		return
	}
	v.SetInt(i)
}

func (d *decoder) boolean(n *yaml.Node, path string, v reflect.Value) {
	if !d.wantScalar(n, path, "true or false") {
		return
	}
	b, err := strconv.ParseBool(n.Value)
	if n.ShortTag() != "!!bool" || err != nil {
		d.errorf(n, path, "%q is not a boolean: write true or false, without quotes", n.Value)
		return
	}
	v.SetBool(b)
}

// structure decodes a mapping into the struct v, rejecting unknown and
// duplicate keys. It reports whether n was a mapping.
func (d *decoder) structure(n *yaml.Node, path string, v reflect.Value) bool {
	fields := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		want := "a mapping with the fields " + strings.Join(fields.names, ", ")
		if len(fields.names) == 0 {
			want = "a mapping ({} for no settings)"
		}
		fix := "write the fields on the following lines, indented under the key"
		if n.Kind == yaml.SequenceNode {
			fix = "remove the \"- \" in front of the fields"
		}
		d.errorf(n, path, "got %s, want %s: %s", describe(n), want, fix)
		return false
	}
	seen := map[string]*yaml.Node{}
	var typos []string
	defer func() {
		for _, known := range typos {
			if seen[known] == nil {
				d.meant[join(path, known)] = true
			}
		}
	}()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.key(n.Content[i], path)
		if k == nil {
			continue
		}
		fpath := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, fpath, "duplicate key %q (first at line %d): remove one of them", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		f, ok := fields.byName[k.Value]
		if !ok {
			fix, known := fields.suggest(k.Value)
			d.errorf(k, fpath, "unknown field %q: %s", k.Value, fix)
			if known != "" {
				typos = append(typos, known)
			}
			continue
		}
		fv := v.Field(f.index)
		d.value(n.Content[i+1], fpath, fv)
		d.explicitZero(v.Type(), k.Value, fpath, fv)
	}
	return true
}

// key resolves and checks a mapping key; it returns nil (after recording
// an error, if any) for keys that cannot name a field.
func (d *decoder) key(k *yaml.Node, path string) *yaml.Node {
	for i := 0; k != nil && k.Kind == yaml.AliasNode && i < 100; i++ {
		k = k.Alias
	}
	switch {
	case k == nil || k.Kind == yaml.AliasNode:
		return nil
	case k.Kind != yaml.ScalarNode:
		d.errorf(k, path, "got %s as a key, want a name: keys are plain names such as %q", describe(k), "metric")
		return nil
	case k.ShortTag() == "!!merge":
		d.errorf(k, join(path, k.Value), "merge keys (<<) are not supported: write the fields out (aliases such as *name work for whole values)")
		return nil
	}
	return k
}

func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		fix := "put each item on its own line starting with \"- \""
		if n.Kind == yaml.ScalarNode {
			fix = fmt.Sprintf("write [%s], or %s", n.Value, fix)
		}
		d.errorf(n, path, "got %s, want a list: %s", describe(n), fix)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.errorf(n, path, "internal error: cannot decode into %s", t)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "got %s, want a mapping of names to values: write one \"name: value\" per line, indented under the key", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	var typos []string
	defer func() {
		for _, known := range typos {
			if seen[known] == nil {
				d.meant[join(path, known)] = true
			}
		}
	}()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.key(n.Content[i], path)
		if k == nil {
			continue
		}
		kpath := path + "[" + k.Value + "]"
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, kpath, "duplicate key %q (first at line %d): remove one of them", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		elem := reflect.New(t.Elem()).Elem()
		d.value(n.Content[i+1], kpath, elem)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
	}
	v.Set(m)
}

// describe names what a node is, for "got X, want Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	return strconv.Quote(n.Value)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// field is one decodable struct field.
type field struct {
	index     int
	omitempty bool
}

// fieldSet is the decodable fields of a struct type, by json name.
type fieldSet struct {
	byName map[string]field
	names  []string // in declaration order
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// fieldsOf returns the json-named fields of struct type t.
func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]field{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fs.byName[name] = field{index: i, omitempty: strings.Contains(opts, "omitempty")}
		fs.names = append(fs.names, name)
	}
	fieldCache.Store(t, fs)
	return fs
}

// suggest says how to fix an unknown field name: the closest known name
// (returned too), or the list of known names.
func (fs *fieldSet) suggest(name string) (fix, known string) {
	best, bestDist := "", 3
	for _, known := range fs.names {
		if strings.EqualFold(known, name) {
			return fmt.Sprintf("did you mean %q? (names are case-sensitive)", known), known
		}
		if dist := editDistance(strings.ToLower(name), strings.ToLower(known)); dist < bestDist {
			best, bestDist = known, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best), best
	}
	if len(fs.names) == 0 {
		return "this mapping takes no fields: remove it", ""
	}
	return "remove it; the fields here are " + strings.Join(fs.names, ", "), ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
