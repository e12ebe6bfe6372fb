package engine

import (
	"fmt"
	"time"

	"github.com/canary-dev/canary"
)

// Routes and blue/green. A plan that routes by request (a step with a
// match or a mirror, or the blue/green strategy) has every weight set as
// a whole canary.Route, absolutely: a later plain step, a rollback's 0%
// and the promotion's 100% clear the matches and mirror, and a resumed
// runner replays the same route. Blue/green holds its last step (the
// switch to 100%) for scaleDownDelay with the rules judging, then
// promotes; a rollback before or during it switches back to 0% at once.

// weightAction sets route r (its weight alone for a plan that only
// weighs traffic).
func (m *machine) weightAction(r canary.Route) canary.Action {
	a := canary.Action{Kind: canary.ActSetWeight, Weight: r.Weight}
	if m.p.UsesRoutes() {
		a.Route = &r
	}
	return a
}

// blueGreen reports whether the plan uses the blue/green strategy.
func (m *machine) blueGreen() bool { return m.p.Spec.Strategy.BlueGreen != nil }

// switchStep reports whether step i is blue/green's switch: the last
// step, held for scaleDownDelay before the promotion.
func (m *machine) switchStep(i int) bool { return m.blueGreen() && i == len(m.p.Spec.Steps)-1 }

// holdOf is step i's hold: as written, or scaleDownDelay for blue/green's
// switch.
func (m *machine) holdOf(i int) time.Duration {
	if i < 0 || i >= len(m.p.Spec.Steps) {
		return 0
	}
	if m.switchStep(i) {
		if d := m.p.Spec.Strategy.BlueGreen.ScaleDownDelay.D(); d > 0 {
			return d
		}
		return canary.DefaultScaleDownDelay
	}
	return m.p.Spec.Steps[i].Hold.D()
}

// mirroredOnly reports whether the canary's traffic is all mirrored copies
// (a step with a mirror and no weight or match): the service's burn is
// then the stable's alone. Validation refuses burnRate rules with steps
// that mix copies with users' requests.
func (m *machine) mirroredOnly() bool {
	i := m.st.Step
	if m.st.Phase != canary.PhaseProgressing && m.st.Phase != canary.PhasePaused || i < 0 || i >= len(m.p.Spec.Steps) {
		return false
	}
	s := m.p.Spec.Steps[i]
	return s.Mirror > 0 && s.Weight == 0 && len(s.Match) == 0 && m.st.Weight == 0
}

// stepStartedText says what step i does to traffic.
func (m *machine) stepStartedText(i int) string {
	s := m.p.Spec.Steps[i]
	hold := canary.Duration(m.holdOf(i))
	switch {
	case m.switchStep(i):
		return fmt.Sprintf("%s: switched all traffic to %s at once; the old version is kept for %s (a rollback switches back at once)",
			m.stepLabel(i), m.p.Spec.Version, hold)
	case len(s.Match) > 0 || s.Mirror > 0:
		return fmt.Sprintf("%s started: route %s to %s, hold %s", m.stepLabel(i), canary.StepRoute(s), m.p.Spec.Version, hold)
	}
	return fmt.Sprintf("%s started: %d%% of traffic to %s, hold %s", m.stepLabel(i), s.Weight, m.p.Spec.Version, hold)
}
