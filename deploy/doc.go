// Package deploy holds no code: its tests check the shipped manifests
// against a real API server (envtest) and the Helm SDK. The Rollout CRD in
// deploy/operator/crd.yaml and in the chart's crds/ is what hack/gen-crd.sh
// generates; the Rollout objects of examples/ apply to it unchanged, strict
// field validation rejects a misspelled field, kubectl get shows the printer
// columns; deploy/operator applies cleanly; and the Helm chart at
// chart/canary lints, renders the same RBAC, flags and probes as
// deploy/operator, and installs.
package deploy
