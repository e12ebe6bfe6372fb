// Package analysis is canary's statistics: comparisons of the canary with
// the stable (the baseline) over the same window, and the sample-size
// arithmetic that says whether a window holds enough requests to decide.
//
// Two comparisons answer the same question, "is the canary worse than the
// stable by more than a tolerance?", each with an estimate, a confidence
// interval, a p-value and the sample sizes behind it (a Comparison):
//
//   - CompareErrorRates compares error counts with a one-sided mixture
//     sequential probability ratio test (mSPRT, Johari et al. 2017) on the
//     difference of the two proportions, with the variance under the
//     null. Its p-values and confidence bounds are always valid: checking
//     it after every interval, as the engine does, does not inflate the
//     false-alarm rate beyond 1 − confidence (Ville's inequality),
//     provided the counts accumulate (each check sees all the data since
//     the test began).
//   - ShiftTest compares latencies on per-interval Hodges-Lehmann shifts
//     (IntervalShift) with the Wilcoxon signed-rank test: the interval,
//     not the request, is the unit of independence, so noise that moves a
//     whole interval of one track is measured, not mistaken for evidence.
//     SignedRank tests per-interval quantile pairs the same way.
//   - MannWhitney compares two samples of latencies (per-request
//     latencies given as weighted values, e.g. histogram bins) with the
//     Mann-Whitney U test, the Hodges-Lehmann estimate of the shift and
//     its distribution-free confidence bounds, as R's wilcox.test and
//     Kayenta's judge compute them. It is a fixed-sample test that treats
//     every request as independent.
//
// Normal-approximation p-values come from erfc (NormalSurvival), accurate
// far into the tails. docs/statistics.md gives the assumptions and the
// measured false-alarm rates and power.
//
// A Comparison decides with its bounds (Outcome): Worse when the lower
// bound exceeds the tolerance, NotWorse when the upper bound is within it,
// Inconclusive otherwise, so a canary is judged fine only on evidence.
//
// The package is pure: no I/O, no clock, no randomness except where a
// caller passes a source.
package analysis
