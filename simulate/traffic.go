package simulate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/canary-dev/canary"
)

// Latency bins: bin k holds latencies in (bound[k−1], bound[k]] seconds,
// bin 0 those up to bound[0]; 5% apart, so quantiles are within 2.5%.
const (
	binBase  = 1e-4
	binRatio = 1.05
	numBins  = 320
)

var (
	binBounds [numBins]float64
	logBase   = math.Log(binBase)
	logRatio  = math.Log(binRatio)
)

func init() {
	for k := range binBounds {
		binBounds[k] = binBase * math.Pow(binRatio, float64(k))
	}
}

// binOf is the bin of a latency given as its logarithm.
func binOf(logSeconds float64) int {
	k := int(math.Ceil((logSeconds - logBase) / logRatio))
	return min(max(k, 0), numBins-1)
}

// binMiddle is the value a bin's requests are taken to have.
func binMiddle(k int) float64 {
	if k == 0 {
		return binBounds[0] / 2
	}
	return math.Sqrt(binBounds[k-1] * binBounds[k])
}

// histogram holds the counts of bins lo..lo+len(counts)−1.
type histogram struct {
	lo     int
	counts []float64
}

func (h *histogram) add(k int, c float64) {
	if len(h.counts) == 0 {
		h.lo, h.counts = k, []float64{c}
		return
	}
	if k < h.lo {
		h.counts = append(make([]float64, h.lo-k), h.counts...)
		h.lo = k
	}
	for k >= h.lo+len(h.counts) {
		h.counts = append(h.counts, 0)
	}
	h.counts[k-h.lo] += c
}

// tickData is one tick of both tracks' traffic (index 0 stable, 1 canary).
type tickData struct {
	requests, errors [2]float64
	hist             [2]histogram
}

// distribution caches the bin probabilities of one lognormal.
type distribution struct {
	mu, sigma float64
	lo        int
	probs     []float64
}

// traffic generates the scenario's requests tick by tick as simulated
// time passes and answers queries over them, like the built-in recorder.
type traffic struct {
	m          *model
	start      time.Time
	tick       time.Duration
	rng        *rand.Rand // nil: expected values, no randomness
	histograms bool
	ticks      []tickData
	weights    []weightChange
	// noise of the current noise period
	period              int64
	latF, errF          [2]float64
	sharedF, rpsF       float64
	z                   [6]float64 // the AR(1) normals behind the factors
	dists               map[[2]int]*distribution
	scratch             [numBins]float64
	tickSecs, noiseStep float64
}

type weightChange struct {
	at     time.Duration
	weight int
}

func newTraffic(sc *Scenario, start time.Time, tick time.Duration, rng *rand.Rand) *traffic {
	t := &traffic{m: newModel(sc), start: start, tick: tick, rng: rng, histograms: sc.Histograms == nil || *sc.Histograms,
		period: -1, dists: map[[2]int]*distribution{}, tickSecs: tick.Seconds(), noiseStep: sc.Noise.Every.D().Seconds()}
	t.latF, t.errF, t.sharedF, t.rpsF = [2]float64{1, 1}, [2]float64{1, 1}, 1, 1
	return t
}

// setWeight records the canary weight from now on.
func (t *traffic) setWeight(now time.Time, w int) {
	t.weights = append(t.weights, weightChange{now.Sub(t.start), w})
}

func (t *traffic) weightAt(at time.Duration) int {
	w := 0
	for _, c := range t.weights {
		if c.at > at {
			break
		}
		w = c.weight
	}
	return w
}

// advance generates every tick that ends at or before now.
func (t *traffic) advance(now time.Time) {
	end := now.Sub(t.start)
	for {
		a := time.Duration(len(t.ticks)) * t.tick
		if a+t.tick > end {
			return
		}
		t.ticks = append(t.ticks, t.generate(a))
	}
}

// drawNoise draws the noise factors of the period containing a.
func (t *traffic) drawNoise(a time.Duration) {
	p := int64(a.Seconds() / t.noiseStep)
	if p == t.period || t.rng == nil {
		return
	}
	first := t.period < 0
	t.period = p
	n := t.m.sc.Noise
	// Each factor's normal is AR(1): z ← ρz + √(1−ρ²)ε, stationary from
	// the first draw.
	rho := n.Autocorrelation
	for k := range t.z {
		e := t.rng.NormFloat64()
		if first {
			t.z[k] = e
		} else {
			t.z[k] = rho*t.z[k] + math.Sqrt(1-rho*rho)*e
		}
	}
	shared := 1.0
	if n.SharedSlow > 0 && t.rng.Float64() < float64(n.SharedSlow) {
		shared = n.SlowBy
	}
	for ti := range 2 {
		t.latF[ti] = lognormalFactor(t.z[ti], float64(n.Latency), true)
		if n.Slow > 0 && t.rng.Float64() < float64(n.Slow) {
			t.latF[ti] *= n.SlowBy
		}
		t.errF[ti] = lognormalFactor(t.z[2+ti], float64(n.ErrorRate), false)
	}
	t.sharedF = shared * lognormalFactor(t.z[4], float64(n.Shared), true)
	t.rpsF = lognormalFactor(t.z[5], float64(n.RPS), false)
}

// diurnal is the daily swing of the traffic at a (a factor, mean 1).
func (t *traffic) diurnal(a time.Duration) float64 {
	n := t.m.sc.Noise
	if n.Diurnal == 0 {
		return 1
	}
	day := (a + n.DiurnalAt.D()).Hours() / 24
	return 1 + float64(n.Diurnal)*math.Sin(2*math.Pi*day)
}

// generate draws the tick starting at a.
func (t *traffic) generate(a time.Duration) tickData {
	t.drawNoise(a)
	var td tickData
	w := float64(t.weightAt(a)) / 100
	rps := t.m.rps(a) * t.rpsF * t.diurnal(a)
	for ti := range 2 {
		share := 1 - w
		if ti == 1 {
			share = w
		}
		if share <= 0 {
			continue
		}
		for si, seg := range t.m.segments {
			// Requests arrive as a Poisson process, so the counts of its
			// latency bins are independent Poisson draws, and so are its
			// errors (the process thinned by the error rate).
			lambda := rps * share * seg.share * t.tickSecs
			mu, sigma := lognormal(t.m.value(seg, ti, fieldP50, a), t.m.value(seg, ti, fieldP95, a))
			mu += math.Log(t.latF[ti] * t.sharedF)
			er := math.Min(t.m.value(seg, ti, fieldErrorRate, a)*t.errF[ti], 1)
			n := t.latencies(&td.hist[ti], [2]int{ti, si}, lambda, mu, sigma)
			// Each request fails with the error rate: binomial given the
			// requests (their expectation without randomness, fractions
			// kept).
			errs := n * er
			if t.rng != nil {
				errs = binomial(t.rng, n, er)
			}
			td.requests[ti] += n
			td.errors[ti] += errs
		}
	}
	return td
}

// latencies adds the latencies of a Poisson number of requests with mean
// lambda from lognormal(mu, sigma) to h, bin by bin (expected counts
// without randomness), and returns how many requests it added.
func (t *traffic) latencies(h *histogram, key [2]int, lambda, mu, sigma float64) float64 {
	if lambda <= 0 {
		return 0
	}
	d := t.dist(key, mu, sigma)
	n := 0.0
	for i, p := range d.probs {
		c := lambda * p
		if t.rng != nil {
			c = poisson(t.rng, c)
		}
		if c > 0 {
			h.add(d.lo+i, c)
			n += c
		}
	}
	return n
}

// dist returns the bin probabilities of lognormal(mu, sigma), cached per
// segment while they do not change.
func (t *traffic) dist(key [2]int, mu, sigma float64) *distribution {
	if d := t.dists[key]; d != nil && d.mu == mu && d.sigma == sigma {
		return d
	}
	lo, hi := binOf(mu-5*sigma), binOf(mu+5*sigma)
	d := &distribution{mu: mu, sigma: sigma, lo: lo, probs: make([]float64, hi-lo+1)}
	prev := 0.0
	for k := lo; k <= hi; k++ {
		cdf := 1.0
		if k < hi {
			cdf = 0.5 * math.Erfc(-(math.Log(binBounds[k])-mu)/(sigma*math.Sqrt2))
		}
		d.probs[k-lo] = cdf - prev
		prev = cdf
	}
	t.dists[key] = d
	return d
}

// Measure answers a query over the generated ticks: like the built-in
// recorder, Samples is the requests of the track in the window and NoData
// is set when there were none; latency quantiles come from 5% bins, with
// the bins themselves when the scenario's source gives histograms. A
// window is rounded up to whole ticks.
func (t *traffic) Measure(_ context.Context, q canary.Query) (canary.Measurement, error) {
	ti := 0
	switch q.Track {
	case canary.TrackStable:
	case canary.TrackCanary:
		ti = 1
	default:
		return canary.Measurement{}, fmt.Errorf("unknown track %q", q.Track)
	}
	quant, latency := q.Metric.Quantile()
	if !latency && q.Metric != canary.MetricErrorRate && q.Metric != canary.MetricRequestRate {
		return canary.Measurement{}, fmt.Errorf("unknown metric %q", q.Metric)
	}
	t.advance(q.At)
	end := min(int(q.At.Sub(t.start)/t.tick), len(t.ticks))
	first := max(end-int((q.Window+t.tick-1)/t.tick), 0)
	var req, errs float64
	for _, td := range t.ticks[first:end] {
		req += td.requests[ti]
		errs += td.errors[ti]
	}
	if req < 0.5 {
		return canary.Measurement{NoData: true}, nil
	}
	m := canary.Measurement{Samples: int64(math.Round(req))}
	switch {
	case q.Metric == canary.MetricErrorRate:
		m.Value = errs / req
	case q.Metric == canary.MetricRequestRate:
		m.Value = req / q.Window.Seconds()
	default:
		m.Value, m.Latency = t.latency(ti, t.ticks[first:end], quant)
	}
	return m, nil
}

// latency merges the ticks' histograms of track ti and returns quantile q
// and, when the source gives them, the buckets.
func (t *traffic) latency(ti int, ticks []tickData, q float64) (float64, []canary.LatencyBucket) {
	lo, hi := numBins, -1
	for _, td := range ticks {
		h := td.hist[ti]
		if len(h.counts) == 0 {
			continue
		}
		lo, hi = min(lo, h.lo), max(hi, h.lo+len(h.counts)-1)
	}
	if hi < lo {
		return 0, nil
	}
	s := t.scratch[lo : hi+1]
	clear(s)
	total := 0.0
	for _, td := range ticks {
		h := td.hist[ti]
		for i, c := range h.counts {
			s[h.lo+i-lo] += c
			total += c
		}
	}
	value, cum := binMiddle(hi), 0.0
	for i, c := range s {
		cum += c
		if cum >= q*total {
			value = binMiddle(lo + i)
			break
		}
	}
	if !t.histograms {
		return value, nil
	}
	var out []canary.LatencyBucket
	for i, c := range s {
		if n := int64(math.Round(c)); n > 0 {
			out = append(out, canary.LatencyBucket{UpperBound: binBounds[lo+i], Count: n})
		}
	}
	return value, out
}
