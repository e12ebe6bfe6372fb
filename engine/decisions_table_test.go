//go:build !race

package engine_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestThresholdDecisionsTable prints BENCHMARKS.md's table of threshold
// rules judged by point and with confidence (300 rollouts of the
// runbook's matrix with holds of 5m per cell; the "at 1%" rows judge only
// errorRate > 1% for 5m with the canary exactly at its threshold). Not a
// test: run it with CANARY_DECISIONS=1 go test -run
// TestThresholdDecisionsTable -v ./engine/.
func TestThresholdDecisionsTable(t *testing.T) {
	if os.Getenv("CANARY_DECISIONS") == "" {
		t.Skip("a benchmark table: set CANARY_DECISIONS=1")
	}
	for _, judge := range []string{"point", "confidence"} {
		for _, rps := range []float64{20, 50, 200, 1000} {
			for _, er := range []float64{0.001, 0.01} {
				rng := rand.New(rand.NewPCG(uint64(rps), 7))
				var steps, bsteps, rb, pr int
				for range 300 {
					p := propertyPlan()
					if judge == "point" {
						for i := range p.Spec.Rules {
							p.Spec.Rules[i].Judge = canary.JudgePoint
						}
					}
					if er == 0.01 {
						p.Spec.Rules = p.Spec.Rules[2:3]
					}
					s := newSim(t, p)
					s.measure = poissonTraffic(rand.New(rand.NewPCG(rng.Uint64(), 1)), rps, er).measure
					s.run(6 * time.Hour)
					br := map[int]bool{}
					for _, e := range s.Events {
						if e.Type == canary.EvRulePending {
							br[e.Step] = true
						}
					}
					steps += s.State.Step + 1
					bsteps += len(br)
					if s.has(canary.EvRollbackStarted) {
						rb++
					}
					if s.State.Phase == canary.PhaseSucceeded {
						pr++
					}
				}
				t.Logf("%s rps %g canary err %g: steps with a breach %.2f%%, rolled back %d/300, promoted %d/300", judge, rps, er, 100*float64(bsteps)/float64(steps), rb, pr)
			}
		}
	}
}
