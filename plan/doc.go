// Package plan turns a rollout plan written in YAML into a valid
// *canary.Plan: Parse (and Load) decode strictly with file:line:col
// errors, Validate checks what was written, and Defaults fills what the
// plan's doc comments promise.
//
// The pipeline is decode → validate → default, and it holds these
// invariants:
//
//   - Every problem is reported at once, as an ErrorList sorted by
//     position, and every message says what is wrong and how to fix it.
//   - Field names are the json tags of the canary types, so a plan reads
//     the same in YAML files and in JSON API bodies.
//   - There is one validation implementation (Validate, which names fields
//     by path); Parse maps those paths back to YAML nodes for positions.
//   - Validation judges what was written: Defaults runs only after it, so
//     "for shorter than the interval" is about the user's numbers.
//
// docs/plan.md and docs/plan.schema.json are generated from the root
// package's source by ./internal/gendoc; a test fails when they drift.
package plan

//go:generate go run ./internal/gendoc -root .. -md ../docs/plan.md -schema ../docs/plan.schema.json
