// Package engine is canary's pure decision core.
//
// The main entry point is Next(plan, state, input) → Output: given the plan,
// the rollout's saved State, the current time, the results of the actions it
// asked for and the measurements it asked for (Queries), it returns the new
// State, the actions to execute now (in order), the events that record what
// happened and why, and when it wants to be called again. Control applies a
// person's command (pause, resume, promote, approve, abort, retry) the same
// way. The engine does no I/O, starts no goroutines and never reads the
// clock: the runner around it owns all of that, so whole rollouts are
// replayed in tests on a stepped clock.
//
// Invariants:
//   - Actions are absolute and idempotent. An action stays Outstanding until
//     its result is reported; Output.Actions always repeats every outstanding
//     action, so a runner that crashed can re-issue them safely.
//   - A step completes only when its hold has elapsed with enough judged
//     evaluations (every rule pass or breach), no rule is pending or firing
//     and its approval (if any) was given. Too little evidence extends the
//     hold, then pauses the rollout; a rollout is never promoted on silence.
//   - A rule fires once its breach has held across evaluations spanning its
//     For, like a Prometheus alerting rule; a pass clears it; insufficient,
//     nodata and error verdicts neither advance nor clear it. Of the firing
//     rules the most severe action wins (immediate > gradual > pause).
//   - Only rollback lowers the canary weight.
package engine
