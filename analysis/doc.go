// Package analysis is canary's statistics: comparisons of the canary with
// the stable (the baseline) over the same window, and the sample-size
// arithmetic that says whether a window holds enough requests to decide.
//
// Two comparisons answer the same question, "is the canary worse than the
// stable by more than a tolerance?", each with an estimate, a confidence
// interval, a p-value and the sample sizes behind it (a Comparison):
//
//   - CompareErrorRates compares error counts with a mixture sequential
//     probability ratio test (mSPRT, Johari et al. 2017) on the difference
//     of the two proportions. Its p-values and confidence bounds are
//     always valid: checking it after every interval, as the engine does,
//     does not inflate the false-alarm rate beyond 1 − confidence (Ville's
//     inequality), provided the counts accumulate (each check sees all the
//     data since the test began).
//   - MannWhitney compares two samples of latencies (per-interval values,
//     or per-request latencies given as weighted values, e.g. histogram
//     bins) with the Mann-Whitney U test, the Hodges-Lehmann estimate of the
//     shift and its distribution-free confidence bounds, as R's wilcox.test
//     and Kayenta's judge compute them: exact for small samples without
//     ties, the normal approximation with tie and continuity corrections
//     otherwise. It is a fixed-sample test.
//
// A Comparison decides with its bounds (Outcome): Worse when the lower
// bound exceeds the tolerance, NotWorse when the upper bound is within it,
// Inconclusive otherwise, so a canary is judged fine only on evidence.
//
// The package is pure: no I/O, no clock, no randomness except where a
// caller passes a source.
package analysis
