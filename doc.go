// Package canary holds the vocabulary of the canary progressive-delivery
// system: the rollout plan (Plan and its parts), the rollout state the engine
// advances (State), the actions it asks for (Action), the record of what
// happened (Event), and the few interfaces the provider packages implement
// (TrafficRouter, MetricSource, FlagSetter, Notifier, Clock).
//
// Data flows one way: plan → engine (+analysis) → runner → providers → store.
// This package imports only the standard library so every other package can
// depend on it.
package canary
