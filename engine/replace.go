package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// SpecChanges says what differs between two plans' specs, one entry per
// changed section ("rules: −errorRate > 5% for 1s, +errorRate > 5% for
// 2s", "steps", "analysis"), in the spec's field order; empty when the
// specs are equal. Metadata is not compared.
func SpecChanges(old, p *canary.Plan) []string {
	var out []string
	ov, nv := reflect.ValueOf(old.Spec), reflect.ValueOf(p.Spec)
	t := ov.Type()
	for i := range t.NumField() {
		a, _ := json.Marshal(ov.Field(i).Interface())
		b, _ := json.Marshal(nv.Field(i).Interface())
		if string(a) == string(b) {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "rules" {
			name += ": " + ruleChanges(old, p)
		}
		out = append(out, name)
	}
	return out
}

// ruleChanges lists the rules removed (−) and added (+) by display name,
// or "thresholds or options changed" when the names stayed.
func ruleChanges(old, p *canary.Plan) string {
	had, has := map[string]int{}, map[string]int{}
	for _, r := range old.Spec.Rules {
		had[r.DisplayName()]++
	}
	for _, r := range p.Spec.Rules {
		has[r.DisplayName()]++
	}
	var parts []string
	for _, r := range old.Spec.Rules {
		if n := r.DisplayName(); has[n] == 0 {
			parts = append(parts, "−"+n)
		}
	}
	for _, r := range p.Spec.Rules {
		if n := r.DisplayName(); had[n] == 0 {
			parts = append(parts, "+"+n)
		}
	}
	if len(parts) == 0 {
		return "options changed"
	}
	return strings.Join(parts, ", ")
}

// ReplacePlan moves a running rollout's state from plan old to its changed
// spec p (apply --force, canary run --resume --force): each rule of p keeps
// the memory (streak, pooled windows, last verdict) of the rule of old with
// the same display name, and a rule that is new or changed starts afresh,
// so no state carries an old rule's name. A command event records who
// changed what, for the audit trail and the report. The version may not
// change, and the rollout may not stand at a step p does not have.
func ReplacePlan(old, p *canary.Plan, st canary.State, actor string, now time.Time) (Output, error) {
	if old.Spec.Version != p.Spec.Version {
		return Output{State: st}, canary.Errorf(canary.ECONFLICT,
			"the rollout runs version %s and the plan says %s: finish or abort it before starting another version",
			old.Spec.Version, p.Spec.Version)
	}
	if st.Step >= len(p.Spec.Steps) {
		return Output{State: st}, canary.Errorf(canary.ECONFLICT,
			"the rollout is at step %d and the changed plan has %d steps: keep at least %d",
			st.Step+1, len(p.Spec.Steps), st.Step+1)
	}
	m := &machine{p: p, st: cloneState(st), now: now}
	byName := map[string]canary.RuleState{}
	for _, rs := range st.Rules {
		byName[rs.Name] = rs
	}
	m.st.Rules = freshRules(p)
	for i := range m.st.Rules {
		if rs, ok := byName[m.st.Rules[i].Name]; ok {
			m.st.Rules[i] = rs
			delete(byName, rs.Name) // one state per rule, even for duplicates
		}
	}
	msg := "plan replaced"
	if actor != "" {
		msg += " by " + actor
	}
	if ch := SpecChanges(old, p); len(ch) > 0 {
		msg += ": " + strings.Join(ch, "; ")
	}
	m.emit(canary.Event{Type: canary.EvCommand, Actor: actor, Message: msg})
	m.st.UpdatedAt = now
	return m.output(), nil
}

// ErrSpecChanged is why --resume (or apply) without --force refuses a plan
// whose spec differs from the saved one.
func ErrSpecChanged(name string, changes []string, how string) error {
	return canary.Errorf(canary.ECONFLICT, "the spec of %s differs from the saved one (%s): %s",
		name, strings.Join(changes, "; "), how)
}

// Abandon ends an unfinished rollout on a person's decision (canary run
// --abandon): the rollout fails where it stands, with no rollback of its
// own, after the caller has put the traffic back on the stable; done says
// what the caller did ("traffic moved back to the stable: weight 0, flag
// off"). The command and the failure are recorded, so the audit trail
// keeps the abandoned rollout and the next run starts a new one.
func Abandon(p *canary.Plan, st canary.State, actor, done string, now time.Time) (Output, error) {
	if st.Phase.Terminal() {
		return Output{State: st}, canary.Errorf(canary.ECONFLICT, "rollout %s is %s already: nothing to abandon", st.Name, st.Phase)
	}
	m := &machine{p: p, st: cloneState(st), now: now}
	if len(m.st.Rules) != len(p.Spec.Rules) {
		m.st.Rules = freshRules(p)
	}
	m.emit(canary.Event{Type: canary.EvCommand, Actor: actor, Message: "abandon by " + actor})
	m.st.Outstanding = nil
	m.st.Weight, m.st.FlagEnabled, m.st.FlagPercent = 0, false, 0
	m.st.Phase, m.st.FinishedAt, m.st.UpdatedAt = canary.PhaseFailed, now, now
	m.st.PausedFrom, m.st.PauseReason, m.st.PausedAt = "", "", time.Time{}
	m.emitf(canary.EvFailed, canary.UrgencyLow, "abandoned by %s: %s", actor, done)
	return m.output(), nil
}
