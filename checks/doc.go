// Package checks executes the parts of a plan that call out to the world
// and answer yes or no: pre-checks (the runbook's `curl -s URL | jq EXPR`),
// hooks (an HTTP request or a command) and approval webhooks.
//
// A Runner is stateless apart from its HTTP client and extra environment,
// so one Runner serves every rollout concurrently. Every call is bounded: a
// per-call timeout from the plan (or a default), a cap on how much of a
// response or a command's output is read, and, for commands, the whole
// process group killed when the timeout passes so no child outlives its
// hook.
//
// The package measures and reports; it never decides what a failure means
// for a rollout. The engine does.
package checks
