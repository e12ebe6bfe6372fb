// Package operator runs rollouts on Kubernetes: a controller-runtime
// reconciler for the Rollout custom resource (canary.dev/v1alpha1), whose
// spec is a plan's spec, so a plan file used by `canary run` applies
// unchanged with kubectl.
//
// Each reconcile is one step of what runner.Runner does in a loop: it reads
// the engine state from the Rollout's status, measures what engine.Queries
// asks for, calls engine.Next, writes the new state to the status, executes
// at most one action through the plan's providers and writes the result.
// Every status write carries the object's resourceVersion: a conflict (an
// edit, another operator instance) ends the reconcile before anything is
// done, and the next reconcile starts from the stored state. The state is
// written (with the action outstanding) before the action runs, so a
// crash or conflict can repeat only an absolute, idempotent action, and two
// instances never both act on the same state.
//
// Manual controls are the annotation canary.dev/command (pause, resume,
// promote, promote-full, approve, abort, abort-immediate, retry): the
// operator applies it once, records it in status.lastCommand, and removes
// it.
//
// Up to Config.MaxConcurrentReconciles Rollouts are reconciled at once
// (controller-runtime never reconciles one Rollout concurrently), so a
// slow notification receiver or Prometheus holds up only its own rollout.
//
// traffic.helm runs the Helm SDK on Config.RESTConfig with one router kept
// per rollout (rebuilt when its traffic.helm or version changes), on charts
// in Config.HelmChartDir only; before building it the operator asks the
// API server (SelfSubjectAccessReview) whether it may manage Helm's release
// Secrets in the namespace, and reports the missing verbs as Ready=False.
// traffic.replicas (kube.ReplicaRouter on Config.Client) is checked the
// same way for get, update and patch on Deployments before each use.
// The builtin feature-flag provider is refused (ErrBuiltinFlags).
package operator
