// Package view shows a rollout to a person: how `canary run` and
// `canary demo` print it on a terminal.
//
// Status (and Render, with colors) draws a compact status block from the
// plan, the rollout's State, the latest evaluations and the time: header,
// pause or rollback reason, the steps as a track, the current hold, the
// weight beside the feature flag, and one row per rule with its value,
// threshold, verdict and for-timer. Live keeps that block at the bottom of
// a terminal, redrawing it in place on every Update while Println adds
// permanent lines (events, notifications) above it. EventLine writes one
// line per event for people, EventJSON one JSON object per line for
// programs, and Filter picks the events people want by default.
//
// Invariants: the package only formats; it reads no clock (the time is
// always passed in) and judges nothing (verdicts and timers come from the
// engine's State and Evaluations). No line of a block is wider than the
// width it was given, so a redraw knows exactly how many lines to move up;
// without colors the output holds no escape sequences except Live's cursor
// moves.
package view
