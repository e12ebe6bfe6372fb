package view_test

import (
	"fmt"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/view"
)

func ExampleEventLine() {
	start := time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)
	ev := canary.Event{Type: canary.EvRollbackStarted, Time: start.Add(12*time.Minute + 30*time.Second),
		Phase: canary.PhaseRollingBack, Step: 1, Weight: 10,
		Message: "🚨 ROLLBACK INITIATED (gradual): latencyP95 742ms > 600ms for 5m"}
	if view.Filter(ev) {
		fmt.Println(view.EventLine(ev, start))
	}
	// Output:
	// +12m30s  ROLLBACK     step 2   10%  🚨 ROLLBACK INITIATED (gradual): latencyP95 742ms > 600ms for 5m
}
