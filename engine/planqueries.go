package engine

import (
	"time"

	"github.com/canary-dev/canary"
)

// PlanQuery is one query an evaluation of a plan makes, and the display
// names of the rules judged on its answer.
type PlanQuery struct {
	canary.Query
	Rules []string
}

// PlanQueries are the queries Queries returns for an evaluation due at at
// during a step in progress with traffic moved, in the same order, each
// with the rules that use it: every rule's measured metric (burnRate is
// measured as errorRate) for the canary and the stable track over its
// window, a burn rule's shortWindow too, and a compare: baseline rule's
// per-interval queries. canary query runs exactly these, so it shows what
// a rollout of the plan would ask its metric source. The baseline burn
// taken before traffic moves (vs: baseline) is not among them.
func PlanQueries(p *canary.Plan, at time.Time) []PlanQuery {
	m := &machine{p: p, now: at, st: canary.State{Phase: canary.PhaseProgressing, NextEvalAt: at}}
	var out []PlanQuery
	index := map[canary.Query]int{}
	for _, r := range p.Spec.Rules {
		for _, q := range m.ruleQueries(r) {
			i, ok := index[q]
			if !ok {
				i = len(out)
				index[q] = i
				out = append(out, PlanQuery{Query: q})
			}
			if rules := out[i].Rules; len(rules) == 0 || rules[len(rules)-1] != r.DisplayName() {
				out[i].Rules = append(out[i].Rules, r.DisplayName())
			}
		}
	}
	return out
}
