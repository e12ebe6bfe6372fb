package loadgen

import (
	"context"
	"time"
)

// maxLag is how far behind schedule the generator may fall before the
// schedule restarts from now instead of bursting to catch up.
const maxLag = time.Second

// pacer schedules request i at start + i/rate with one reusable timer; no
// ticker, so no drift and no dropped ticks.
type pacer struct {
	start time.Time
	rate  float64
	timer *time.Timer
}

// newPacer returns a pacer for rate requests per second from start; a
// zero rate never waits.
func newPacer(start time.Time, rate float64) *pacer {
	p := &pacer{start: start, rate: rate}
	if rate > 0 {
		p.timer = time.NewTimer(time.Hour)
		p.timer.Stop()
	}
	return p
}

// due is when request i should start.
func (p *pacer) due(i int) time.Time {
	return p.start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))
}

// wait blocks until request i is due; false means ctx ended first.
func (p *pacer) wait(ctx context.Context, i int) bool {
	if p.rate <= 0 {
		return ctx.Err() == nil
	}
	d := time.Until(p.due(i))
	if d < -maxLag {
		p.start = p.start.Add(-d) // request i is due now
		d = 0
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	p.timer.Reset(d)
	select {
	case <-p.timer.C:
		return true
	case <-ctx.Done():
		p.timer.Stop()
		return false
	}
}

// stop releases the timer.
func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
