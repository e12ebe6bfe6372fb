// Package docgen generates the plan reference (docs/plan.md) and its JSON
// Schema (docs/plan.schema.json) from the Go source of the canary root
// package, so neither can drift from the types and their doc comments.
package docgen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// source is what the generator reads from the root package: its type
// declarations, string constants and text-decoded types.
type source struct {
	types  map[string]*typeDecl
	consts []constDecl
	// text holds the types with an UnmarshalText method: they are written
	// as scalars in a plan, whatever their Go kind.
	text map[string]bool
}

type typeDecl struct {
	name string
	doc  string
	expr ast.Expr
}

type constDecl struct {
	name, typ, value string
}

// readSource parses the non-test Go files of the package in dir.
func readSource(dir string) (*source, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	src := &source{types: map[string]*typeDecl{}, text: map[string]bool{}}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, p, data, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		src.add(f)
	}
	if src.types["Plan"] == nil {
		return nil, fmt.Errorf("no type Plan in %s: -root must be the canary module's root", dir)
	}
	return src, nil
}

func (s *source) add(f *ast.File) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			s.addGen(d)
		case *ast.FuncDecl:
			if d.Name.Name == "UnmarshalText" && d.Recv != nil && len(d.Recv.List) == 1 {
				if star, ok := d.Recv.List[0].Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok {
						s.text[id.Name] = true
					}
				}
			}
		}
	}
}

func (s *source) addGen(d *ast.GenDecl) {
	for _, spec := range d.Specs {
		switch sp := spec.(type) {
		case *ast.TypeSpec:
			doc := sp.Doc
			if doc == nil && len(d.Specs) == 1 {
				doc = d.Doc
			}
			s.types[sp.Name.Name] = &typeDecl{name: sp.Name.Name, doc: text(doc), expr: sp.Type}
		case *ast.ValueSpec:
			if d.Tok != token.CONST {
				continue
			}
			typ := ""
			if id, ok := sp.Type.(*ast.Ident); ok {
				typ = id.Name
			}
			for i, name := range sp.Names {
				if i >= len(sp.Values) {
					break
				}
				if lit, ok := sp.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, err := strconv.Unquote(lit.Value)
					if err == nil {
						s.consts = append(s.consts, constDecl{name: name.Name, typ: typ, value: v})
					}
				}
			}
		}
	}
}

// constValues returns the values of the string constants of type typ, or,
// with typ "", of the untyped ones whose name starts with prefix.
func (s *source) constValues(typ, prefix string) []string {
	var vals []string
	for _, c := range s.consts {
		if c.typ == typ && strings.HasPrefix(c.name, prefix) {
			vals = append(vals, c.value)
		}
	}
	return vals
}

// constValue returns the value of the string constant name.
func (s *source) constValue(name string) string {
	for _, c := range s.consts {
		if c.name == name {
			return c.value
		}
	}
	return ""
}

// text returns a comment's text as one paragraph per blank-line-separated
// block, lines joined with spaces. Marker lines (+kubebuilder:..., +optional)
// are for controller-gen, which generates the Rollout CRD from the same
// types, not documentation: they are left out.
func text(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	var paras []string
	for p := range strings.SplitSeq(strings.TrimSpace(g.Text()), "\n\n") {
		var words []string
		for line := range strings.SplitSeq(p, "\n") {
			if !markerRE.MatchString(line) {
				words = append(words, strings.Fields(line)...)
			}
		}
		if len(words) > 0 {
			paras = append(paras, strings.Join(words, " "))
		}
	}
	return strings.Join(paras, "\n\n")
}

// markerRE matches a marker comment line: +name, +name:args or +name=value.
var markerRE = regexp.MustCompile(`^\s*\+[a-zA-Z][\w.-]*([:=]|\s*$)`)

// jsonTag returns a field's json name and whether it is omitempty.
func jsonTag(f *ast.Field) (name string, omitempty bool) {
	if f.Tag == nil {
		return "", false
	}
	raw, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return "", false
	}
	name, opts, _ := strings.Cut(reflect.StructTag(raw).Get("json"), ",")
	return name, strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
}
