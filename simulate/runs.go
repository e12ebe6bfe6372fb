package simulate

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// Summary is what many sampled runs of one plan over one scenario did.
type Summary struct {
	// Runs is the number of runs; Seed the seed of the first (run i uses
	// stream i).
	Runs int
	Seed uint64
	// Expect is the scenario's expectation the counts are judged by.
	Expect Expect
	// RolledBack, Promoted and Paused count runs that rolled back, were
	// promoted, or paused at some point.
	RolledBack, Promoted, Paused int
	// FalseRollbacks are rollbacks where none should be: any, in a
	// scenario without a regression; before the regression began, in one
	// with.
	FalseRollbacks int
	// Missed counts runs of a regression that ended without rolling back
	// after it began; MissedPromoted those of them that were promoted (the
	// others stopped, e.g. paused for lack of evidence).
	Missed, MissedPromoted int
	// Detections are the times from the regression's start to the
	// rollback, in increasing order.
	Detections []time.Duration
	// Durations are how long the promoted runs took, in increasing order.
	Durations []time.Duration
	// Rules counts the rules that started rollbacks.
	Rules map[string]int
}

// Many runs a plan over a scenario runs times, sampled with seed (run i on
// stream i), on workers goroutines (0: one per processor). The summary is
// the same for the same arguments, whatever the number of workers.
func Many(p *canary.Plan, sc *Scenario, runs int, seed uint64, workers int, limit time.Duration) (Summary, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]Result, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(runs, 1)) {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = Run(p, sc, Options{Sampled: true, Seed: seed, Stream: uint64(i), Limit: limit})
			}
		})
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Summary{}, err
		}
	}
	return Summarize(sc.Expect, seed, results), nil
}

// Summarize counts results against the scenario's expectation.
func Summarize(exp Expect, seed uint64, results []Result) Summary {
	s := Summary{Runs: len(results), Seed: seed, Expect: exp, Rules: map[string]int{}}
	from := exp.From.D()
	for _, r := range results {
		if r.Paused {
			s.Paused++
		}
		if r.Phase == canary.PhaseSucceeded {
			s.Promoted++
			s.Durations = append(s.Durations, r.End)
		}
		if !r.RolledBack {
			if exp.Rollback {
				s.Missed++
				if r.Phase == canary.PhaseSucceeded {
					s.MissedPromoted++
				}
			}
			continue
		}
		s.RolledBack++
		s.Rules[r.Rule]++
		switch {
		case !exp.Rollback || r.RollbackAt < from:
			s.FalseRollbacks++
		default:
			s.Detections = append(s.Detections, r.RollbackAt-from)
		}
	}
	slices.Sort(s.Detections)
	slices.Sort(s.Durations)
	return s
}

// Quantile returns the q-quantile (0..1) of sorted durations by the
// nearest rank, or -1 when there are none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return -1
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// FalsePerThousand is the false rollbacks per 1,000 runs.
func (s Summary) FalsePerThousand() float64 {
	if s.Runs == 0 {
		return 0
	}
	return 1000 * float64(s.FalseRollbacks) / float64(s.Runs)
}
