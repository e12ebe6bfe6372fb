// Package manager runs many rollouts at once for `canary serve`: it
// applies plans, keeps every rollout's state and events in the store, runs
// one runner per active rollout, resumes them after a restart and applies
// manual controls.
package manager
