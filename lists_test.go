package canary_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/canary-dev/canary"
)

// constsOf returns the names' values of the constants of type typ
// declared in file.
func constsOf(t *testing.T, file, typ string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == typ {
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok {
						vals = append(vals, lit.Value[1:len(lit.Value)-1])
					}
				}
			}
		}
	}
	return vals
}

// TestListsAreComplete: canary.EventTypes and canary.Phases list every
// constant of their type, once, so the packages that range over them
// (plan's notify validation, the API's phase filter, the operator's
// gauges, the views' tests) see every one.
func TestListsAreComplete(t *testing.T) {
	check := func(name string, consts []string, list []string) {
		t.Helper()
		if len(consts) == 0 {
			t.Fatalf("no %s constants found", name)
		}
		sorted := slices.Sorted(slices.Values(list))
		if !slices.Equal(slices.Compact(slices.Clone(sorted)), sorted) {
			t.Errorf("%s lists a value twice: %v", name, list)
		}
		slices.Sort(consts)
		if !slices.Equal(consts, sorted) {
			t.Errorf("%s = %v; the constants are %v", name, sorted, consts)
		}
	}
	var evs, phases []string
	for _, e := range canary.EventTypes {
		evs = append(evs, string(e))
	}
	for _, p := range canary.Phases {
		phases = append(phases, string(p))
	}
	check("EventTypes", constsOf(t, "rollout.go", "EventType"), evs)
	check("Phases", constsOf(t, "rollout.go", "Phase"), phases)
}

// TestSeverity: the event types that report something gone wrong are
// warnings (the operator's Warning Events).
func TestSeverity(t *testing.T) {
	var warn []canary.EventType
	for _, e := range canary.EventTypes {
		if e.Severity() == canary.SeverityWarning {
			warn = append(warn, e)
		}
	}
	want := []canary.EventType{canary.EvPreChecksFailed, canary.EvRuleFiring, canary.EvPaused, canary.EvRollbackStarted,
		canary.EvRolledBack, canary.EvActionFailed, canary.EvHookFailed, canary.EvFailed}
	if !slices.Equal(warn, want) {
		t.Errorf("warnings %v, want %v", warn, want)
	}
}
