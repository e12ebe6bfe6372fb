package plan

import (
	"fmt"
	"sort"
	"strings"

	canary "github.com/canary-dev/canary"
)

// Error is one problem in a plan, written like a compiler error:
// "plan.yaml:14:7: spec.rules[2].for: "5 min" is not a duration (use a
// number and a unit, e.g. 30s, 5m, 1h30m)".
//
// File, Line and Col are set when the plan came from a file (Parse, Load);
// they are empty for plans checked with Validate. Line and Col are 1-based;
// Col is 0 when only the line is known (YAML syntax errors).
type Error struct {
	// File is the name the plan was parsed under.
	File string
	// Line and Col locate the offending YAML node.
	Line, Col int
	// Path is the field's path in the plan, e.g. spec.rules[2].for; empty
	// for problems with the file as a whole.
	Path string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error formats e as "file:line:col: path: msg", leaving out what is
// unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" || e.Line > 0 {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a plan, in file order. Parse and Load
// return one (as an error) when anything is wrong, so a caller can print
// all problems at once:
//
//	var list plan.ErrorList
//	if errors.As(err, &list) {
//		for _, e := range list {
//			fmt.Fprintln(os.Stderr, e)
//		}
//	}
type ErrorList []*Error

// Error joins the errors with newlines.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap exposes the errors to errors.Is and errors.As, preceded by a
// *canary.Error with code canary.EINVALID, so canary.ErrorCode reports an
// invalid plan as invalid input.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, 0, len(l)+1)
	errs = append(errs, &canary.Error{Code: canary.EINVALID, Message: l.Error()})
	for _, e := range l {
		errs = append(errs, e)
	}
	return errs
}

// Sort orders the list by line, then column, keeping the order of errors
// at the same position (and of errors without one).
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Col < l[j].Col
	})
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
