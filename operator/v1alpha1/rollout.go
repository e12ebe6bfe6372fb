package v1alpha1

import (
	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/operator"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Rollout is a canary release of one service, run by `canary operator`: a
// plan file applied with kubectl. Its spec is the plan's spec (see
// docs/plan.md); its status is written by the operator.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=canary
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.step`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.weight`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the plan's spec; the operator validates it as `canary run`
	// does and reports a spec that is not a valid plan in the status.
	// +required
	Spec canary.Spec `json:"spec"`
	// Status is the rollout's state, written by the operator. Fields this
	// CRD does not know are kept (an operator newer than its CRD must not
	// lose its state).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	Status operator.Status `json:"status,omitempty"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Rollouts.
	Items []Rollout `json:"items"`
}
