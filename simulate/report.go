package simulate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// WriteTimeline prints a run's decisions, one event a line, and how it
// ended.
func WriteTimeline(w io.Writer, res Result) error {
	for _, e := range res.Events {
		if _, err := fmt.Fprintf(w, "%8s  %-4s %-16s %s\n", canary.FormatDuration(e.Time.Sub(Start)),
			fmt.Sprintf("%d%%", e.Weight), e.Type, e.Message); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, outcomeText(res))
	return err
}

// outcomeText is "rolled back at 47m30s by <rule> (immediate)".
func outcomeText(res Result) string {
	switch {
	case res.RolledBack:
		return fmt.Sprintf("=> rolled back %s after the start by %q", canary.FormatDuration(res.RollbackAt), res.Rule)
	case res.Phase == canary.PhaseSucceeded:
		return fmt.Sprintf("=> promoted after %s", canary.FormatDuration(res.End))
	case res.Paused:
		return fmt.Sprintf("=> %s at %s (paused at %s)", res.Phase, canary.FormatDuration(res.End), canary.FormatDuration(res.PausedAt))
	}
	return fmt.Sprintf("=> %s when the simulation stopped at %s", res.Phase, canary.FormatDuration(res.End))
}

// WriteSummary prints the statistics of many runs.
func WriteSummary(w io.Writer, name string, s Summary) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s: %d runs (seed %d)\n", name, s.Runs, s.Seed)
	p("  promoted %d, rolled back %d, paused at some point %d\n", s.Promoted, s.RolledBack, s.Paused)
	if s.Expect.Rollback {
		p("  regression from %s: missed %d (%.1f%%; %d promoted), rolled back before it began %d\n", s.Expect.From,
			s.Missed, pct(s.Missed, s.Runs), s.MissedPromoted, s.FalseRollbacks)
		if len(s.Detections) > 0 {
			p("  detection time: median %s, p95 %s, min %s, max %s\n", dur(Quantile(s.Detections, 0.5)),
				dur(Quantile(s.Detections, 0.95)), dur(s.Detections[0]), dur(s.Detections[len(s.Detections)-1]))
		}
	} else {
		p("  no regression: false rollbacks %d (%.2f per 1,000 rollouts)\n", s.FalseRollbacks, s.FalsePerThousand())
	}
	if len(s.Durations) > 0 {
		p("  promotion took: median %s, p95 %s\n", dur(Quantile(s.Durations, 0.5)), dur(Quantile(s.Durations, 0.95)))
	}
	names := make([]string, 0, len(s.Rules))
	for n := range s.Rules {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { // most first; ties by name, so runs print alike
		if d := s.Rules[b] - s.Rules[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		p("  %5d rollbacks by %s\n", s.Rules[n], n)
	}
	return nil
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func dur(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	return canary.FormatDuration(d)
}
