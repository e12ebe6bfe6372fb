package analysis

import (
	"errors"
	"math"
	"slices"
)

// Errors returned by the comparisons; test with errors.Is.
var (
	// ErrEmpty: a sample has no values.
	ErrEmpty = errors.New("empty sample")
	// ErrInvalid: a value is NaN or infinite, a weight is negative, or a
	// parameter is out of range.
	ErrInvalid = errors.New("invalid input")
	// ErrConstant: every value of both samples is the same, so a rank test
	// has no variance to work with.
	ErrConstant = errors.New("all values are equal")
)

// Sample is a multiset of values: distinct values in increasing order,
// each with how many times it occurs. Build one with NewSample or
// NewWeighted; the zero Sample is empty.
type Sample struct {
	vals   []float64
	counts []float64
	n      float64
}

// NewSample returns the sample of values (any order, repeats allowed).
func NewSample(values []float64) (Sample, error) {
	ws := make([]float64, len(values))
	for i := range ws {
		ws[i] = 1
	}
	return NewWeighted(values, ws)
}

// NewWeighted returns the sample in which values[i] occurs counts[i]
// times, e.g. a latency histogram's bins (a representative latency per
// bin) and their request counts. Zero counts are dropped; counts need not
// be whole numbers, but tests treat them as numbers of observations.
func NewWeighted(values, counts []float64) (Sample, error) {
	if len(values) != len(counts) {
		return Sample{}, ErrInvalid
	}
	idx := make([]int, 0, len(values))
	for i, v := range values {
		c := counts[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
			return Sample{}, ErrInvalid
		}
		if c > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case values[a] < values[b]:
			return -1
		case values[a] > values[b]:
			return 1
		}
		return 0
	})
	var s Sample
	for _, i := range idx {
		if k := len(s.vals); k > 0 && s.vals[k-1] == values[i] {
			s.counts[k-1] += counts[i]
		} else {
			s.vals = append(s.vals, values[i])
			s.counts = append(s.counts, counts[i])
		}
		s.n += counts[i]
	}
	return s, nil
}

// N is the number of observations (the sum of the counts).
func (s Sample) N() float64 { return s.n }

// Distinct is the number of distinct values.
func (s Sample) Distinct() int { return len(s.vals) }

// Map returns the sample with f applied to every value; f must be
// strictly increasing (log, or a shift), so the order is kept.
func (s Sample) Map(f func(float64) float64) (Sample, error) {
	vals := make([]float64, len(s.vals))
	for i, v := range s.vals {
		vals[i] = f(v)
		if math.IsNaN(vals[i]) || math.IsInf(vals[i], 0) || (i > 0 && vals[i] <= vals[i-1]) {
			return Sample{}, ErrInvalid
		}
	}
	return Sample{vals: vals, counts: slices.Clone(s.counts), n: s.n}, nil
}

// Quantile returns the value at quantile q (0..1) by the inverse of the
// empirical distribution (the smallest value with at least q·N
// observations at or below it), or NaN for an empty sample.
func (s Sample) Quantile(q float64) float64 {
	if s.n == 0 {
		return math.NaN()
	}
	target := q * s.n
	cum := 0.0
	for i, c := range s.counts {
		cum += c
		if cum >= target {
			return s.vals[i]
		}
	}
	return s.vals[len(s.vals)-1]
}

// shifted returns the sample with d subtracted from every value.
func (s Sample) shifted(d float64) Sample {
	if d == 0 {
		return s
	}
	vals := make([]float64, len(s.vals))
	for i, v := range s.vals {
		vals[i] = v - d
	}
	return Sample{vals: vals, counts: s.counts, n: s.n}
}

// NewHistogram returns the sample of a histogram: bucket i holds counts[i]
// observations above bounds[i−1] (0 for the first bucket) and at most
// bounds[i]. Each bucket's observations take the geometric middle of its
// range (half the bound for the first), which suits latency histograms
// with exponentially growing buckets. Bounds must be positive, finite and
// increasing.
func NewHistogram(bounds, counts []float64) (Sample, error) {
	if len(bounds) != len(counts) {
		return Sample{}, ErrInvalid
	}
	vals := make([]float64, len(bounds))
	for i, b := range bounds {
		if !(b > 0) || math.IsInf(b, 0) || (i > 0 && b <= bounds[i-1]) {
			return Sample{}, ErrInvalid
		}
		if i == 0 {
			vals[i] = b / 2
		} else {
			vals[i] = math.Sqrt(bounds[i-1] * b)
		}
	}
	return NewWeighted(vals, counts)
}
