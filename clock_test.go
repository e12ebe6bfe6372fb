package canary_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneClockStyle: outside cmd/ and the benchmark programs, a seam for
// the time is a canary.Clock, never an exported `func() time.Time` field
// or parameter (the style the engine's hosts use; tests step a
// canarytest.Clock).
func TestOneClockStyle(t *testing.T) {
	fset := token.NewFileSet()
	var bad []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "cmd", "bench", "hack", "testdata", "node_modules", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		bad = append(bad, nowFuncs(fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("%s: a func() time.Time seam; take a canary.Clock instead", b)
	}
}

// nowFuncs lists the exported struct fields and the parameters of exported
// functions of type func() time.Time in f.
func nowFuncs(fset *token.FileSet, f *ast.File) []string {
	var out []string
	check := func(fields *ast.FieldList, exportedOnly bool) {
		if fields == nil {
			return
		}
		for _, fd := range fields.List {
			if !isNowFunc(fd.Type) {
				continue
			}
			for _, n := range fd.Names {
				if !exportedOnly || n.IsExported() {
					out = append(out, fset.Position(n.Pos()).String()+": "+n.Name)
				}
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.StructType:
			check(n.Fields, true)
		case *ast.FuncDecl:
			if n.Name.IsExported() {
				check(n.Type.Params, false)
			}
		}
		return true
	})
	return out
}

// isNowFunc reports whether e is the type func() time.Time.
func isNowFunc(e ast.Expr) bool {
	ft, ok := e.(*ast.FuncType)
	if !ok || (ft.Params != nil && len(ft.Params.List) > 0) || ft.Results == nil || len(ft.Results.List) != 1 {
		return false
	}
	sel, ok := ft.Results.List[0].Type.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "time" && sel.Sel.Name == "Time"
}
