package simulate

import (
	"math"
	"slices"
	"time"
)

// field is one value of a profile.
type field int

const (
	fieldP50 field = iota
	fieldP95
	fieldErrorRate
)

// segment is one part of a track's traffic: the track's own profile
// (endpoint "") or an endpoint's.
type segment struct {
	endpoint string
	share    float64
	base     [2]Profile // by track index: stable, canary
}

// model evaluates the scenario's values at a time.
type model struct {
	sc       *Scenario
	changes  []Change // by At, stable
	segments []segment
}

func newModel(sc *Scenario) *model {
	m := &model{sc: sc, changes: slices.Clone(sc.Changes)}
	slices.SortStableFunc(m.changes, func(a, b Change) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
	rest := 1.0
	for _, e := range sc.Endpoints {
		rest -= float64(e.Share)
		m.segments = append(m.segments, segment{endpoint: e.Name, share: float64(e.Share), base: [2]Profile{e.Profile, e.Profile}})
	}
	if rest > 1e-9 {
		m.segments = append([]segment{{share: rest, base: [2]Profile{sc.Stable, sc.Canary}}}, m.segments...)
	}
	return m
}

// trackName is the scenario's name of track index ti.
func trackName(ti int) string {
	if ti == 1 {
		return trackCanary
	}
	return trackStable
}

// rps is the service's request rate at t.
func (m *model) rps(t time.Duration) float64 {
	v := m.sc.RPS
	for _, c := range m.changes {
		if c.RPS == 0 {
			continue
		}
		if t < c.At.D() {
			break
		}
		v = apply(v, c.RPS, c, t)
	}
	return v
}

// value is one field of a segment's profile on track ti at t.
func (m *model) value(seg segment, ti int, f field, t time.Duration) float64 {
	base := seg.base[ti]
	var v float64
	switch f {
	case fieldP50:
		v = base.P50.D().Seconds()
	case fieldP95:
		v = base.P95.D().Seconds()
	default:
		v = float64(*base.ErrorRate)
	}
	for _, c := range m.changes {
		if t < c.At.D() {
			break
		}
		if c.Endpoint != seg.endpoint || (c.Track != trackName(ti) && c.Track != trackBoth) {
			continue
		}
		switch {
		case f == fieldP50 && c.P50 != 0:
			v = apply(v, c.P50.D().Seconds(), c, t)
		case f == fieldP95 && c.P95 != 0:
			v = apply(v, c.P95.D().Seconds(), c, t)
		case f == fieldErrorRate && c.ErrorRate != nil:
			v = apply(v, float64(*c.ErrorRate), c, t)
		}
	}
	return v
}

// apply is the value at t of a change from prev to target (t ≥ c.At).
func apply(prev, target float64, c Change, t time.Duration) float64 {
	if c.Until != 0 && t >= c.Until.D() {
		return prev
	}
	if over := c.Over.D(); over > 0 && t < c.At.D()+over {
		return prev + (target-prev)*float64(t-c.At.D())/float64(over)
	}
	return target
}

// lognormal returns μ and σ of the lognormal with median p50 and 95th
// percentile p95 (seconds), keeping p95 above p50.
func lognormal(p50, p95 float64) (mu, sigma float64) {
	p50 = math.Max(p50, 1e-6)
	p95 = math.Max(p95, p50*1.0001)
	return math.Log(p50), (math.Log(p95) - math.Log(p50)) / z95
}
