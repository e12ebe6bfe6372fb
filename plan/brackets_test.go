package plan

import (
	"errors"
	"strings"
	"testing"
)

// TestUnclosedBracket: the bracket an author left open is found past
// brackets that only look like flow collections: in a plain value (a
// query), a quoted one, a comment or a block scalar.
func TestUnclosedBracket(t *testing.T) {
	tests := []struct {
		name, data string
		open       byte
		until      int
		want       bracket
		found      bool
	}{
		{"mapping on its key's line", "a: 1\nmetadata: {name: x\nspec:\n", '{', 2, bracket{'{', 2, 11}, true},
		{"list item", "steps:\n  - {weight: 5\n  - {weight: 10}\n", '{', 0, bracket{'{', 2, 5}, true},
		{"inner of two", "a: [1, [2, 3\n", '[', 1, bracket{'[', 1, 8}, true},
		{"outer when the inner closed", "a: [1, [2, 3]\n", '[', 1, bracket{'[', 1, 4}, true},
		{"spans lines", "a: {b: 1,\n  c: [x, y],\n  d: 2\n", '{', 3, bracket{'{', 1, 4}, true},
		{"closed across lines", "a: {b: 1,\n  c: 2}\nd: [\n", '{', 0, bracket{}, false},
		{"plain value with braces", "query: sum(rate(x{job=\"a\"}[5m]))\nb: [1\n", '[', 0, bracket{'[', 2, 4}, true},
		{"plain value only", "query: x{job=\"a\"\n", '{', 0, bracket{}, false},
		{"quoted", "a: \"{[\"\nb: '[''{'\nc: {d: \"}\"\n", '{', 0, bracket{'{', 3, 4}, true},
		{"comment", "a: 1 # [ not this\nb: [2 # ] nor this\n", '[', 0, bracket{'[', 2, 4}, true},
		{"block scalar", "q: |\n  {[ not yaml\n  more [\nr: {s: 1\n", '{', 0, bracket{'{', 4, 4}, true},
		{"until stops the scan", "a: 1\nb: [2\n", '[', 1, bracket{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := unclosedBracket([]byte(tt.data), tt.open, tt.until)
			if got != tt.want || found != tt.found {
				t.Errorf("got %+v %v, want %+v %v", got, found, tt.want, tt.found)
			}
		})
	}
}

// TestUnclosedBracketError: the plan error points at the bracket left
// open, with a column, though the parser gives up on a later line.
func TestUnclosedBracketError(t *testing.T) {
	data := "apiVersion: canary.dev/v1alpha1\nkind: Rollout\nmetadata: {name: demo\nspec:\n  version: v2\n"
	_, err := Parse("plan.yaml", []byte(data))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("got %v, want one error", err)
	}
	want := "plan.yaml:3:11: invalid YAML: did not find expected ',' or '}': the '{' here is not closed: close it with '}', or write the fields as an indented block"
	if got := list[0].Error(); !strings.HasPrefix(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
