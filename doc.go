// Package canary holds the vocabulary of the canary progressive-delivery
// system: the rollout plan (Plan and its parts), the rollout state the engine
// advances (State), the actions it asks for (Action), the record of what
// happened (Event), and the few interfaces the provider packages implement
// (TrafficRouter, MetricSource, FlagSetter, Notifier, Clock).
//
// Data flows one way: plan → engine (+analysis) → runner → providers → store.
// This package imports only the standard library so every other package can
// depend on it.
//
// The plan types are also the schema of the Rollout custom resource
// (operator/v1alpha1, generated with controller-gen): the +kubebuilder
// markers on them are for that generator. Every field is optional to the
// API server; the operator validates a Rollout's spec as `canary run` does.
//
// +kubebuilder:validation:Optional
package canary
