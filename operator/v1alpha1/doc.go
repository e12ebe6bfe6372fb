// Package v1alpha1 declares the Rollout custom resource (canary.dev/v1alpha1)
// for controller-gen, which generates its CustomResourceDefinition from these
// types: deploy/operator/crd.yaml and the Helm chart's copy
// (hack/gen-crd.sh; a drift test compares them with what it generates).
//
// A Rollout is a plan file: its spec is canary.Spec, the type `canary run`
// decodes, and its status is operator.Status, the type the operator writes.
// The operator itself reads Rollouts as unstructured objects and decodes
// their spec with plan.Parse, so these types only shape the schema; nothing
// here is registered in a scheme, and no deepcopy functions are generated.
//
// Versions: v1alpha1 is the only version, served and stored. Optional
// fields may be added to it; removing, renaming or retyping a field, or
// changing what a value means, needs a new version served beside this one
// (with conversion by the operator) before the stored version moves
// (README.md, "Upgrade").
//
// +groupName=canary.dev
// +kubebuilder:object:generate=false
package v1alpha1

//go:generate ../../hack/gen-crd.sh
