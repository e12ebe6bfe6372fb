package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/itchyny/gojq"
)

// jqCode is a compiled pre-check expression and the parse tree it came
// from, kept to explain a false result.
type jqCode struct {
	src   string
	query *gojq.Query
	code  *gojq.Code
}

// gojqMarshal encodes a jq value as compact JSON, as `jq -c` prints it.
var gojqMarshal = gojq.Marshal

// compileJQ parses and compiles src; an empty src is no expression (nil).
// The expression sees no environment variables ($ENV is empty), so a plan
// cannot read the runner's secrets through a pre-check.
func compileJQ(src string) (*jqCode, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("jq expression %q: %w", src, err)
	}
	code, err := gojq.Compile(q, noEnv)
	if err != nil {
		return nil, fmt.Errorf("jq expression %q: %w", src, err)
	}
	return &jqCode{src: src, query: q, code: code}, nil
}

// noEnv hides the process environment from expressions.
var noEnv = gojq.WithEnvironLoader(func() []string { return nil })

// maxExplained bounds how many sub-expressions an explanation shows.
const maxExplained = 4

// explain shows the values a false comparison compared, e.g.
// " (.avg_success_rate is 0.97)". Each non-literal operand of the
// comparisons at the top of the expression (through and/or) is run on the
// input and its first result shown. It returns "" when there is nothing
// cheap to show.
func (c *jqCode) explain(ctx context.Context, input any) string {
	var parts []string
	for _, side := range operands(c.query, nil) {
		if len(parts) == maxExplained {
			break
		}
		if v, ok := firstResult(ctx, side, input); ok {
			parts = append(parts, side.String()+" is "+gojq.Preview(v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// operands collects the non-literal operands of the comparisons reachable
// from q through and, or and parentheses.
func operands(q *gojq.Query, acc []*gojq.Query) []*gojq.Query {
	if q == nil {
		return acc
	}
	switch q.Op {
	case gojq.OpAnd, gojq.OpOr:
		return operands(q.Right, operands(q.Left, acc))
	case gojq.OpEq, gojq.OpNe, gojq.OpGt, gojq.OpLt, gojq.OpGe, gojq.OpLe:
		for _, side := range []*gojq.Query{q.Left, q.Right} {
			if !isLiteral(side) {
				acc = append(acc, side)
			}
		}
		return acc
	}
	if t := q.Term; q.Op == 0 && t != nil && t.Type == gojq.TermTypeQuery && len(t.SuffixList) == 0 {
		return operands(t.Query, acc)
	}
	return acc
}

// isLiteral reports whether q is a constant whose value its text shows.
func isLiteral(q *gojq.Query) bool {
	if q == nil {
		return true // nothing to show
	}
	if q.Op != 0 || q.Term == nil || len(q.Term.SuffixList) != 0 {
		return false
	}
	t := q.Term
	switch t.Type {
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
		return true
	case gojq.TermTypeString:
		return t.Str != nil && len(t.Str.Queries) == 0
	case gojq.TermTypeUnary:
		return t.Unary.Term != nil && t.Unary.Term.Type == gojq.TermTypeNumber
	}
	return false
}

// firstResult runs q on input and returns its first value; ok is false
// when q does not compile on its own (it uses a definition from elsewhere
// in the expression), fails, or yields nothing.
func firstResult(ctx context.Context, q *gojq.Query, input any) (any, bool) {
	code, err := gojq.Compile(q, noEnv)
	if err != nil {
		return nil, false
	}
	v, ok := code.RunWithContext(ctx, input).Next()
	if _, isErr := v.(error); !ok || isErr {
		return nil, false
	}
	return v, true
}
