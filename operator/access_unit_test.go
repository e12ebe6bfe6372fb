package operator

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestReplicasForbiddenHint: a Deployment the API server refuses to scale
// says where traffic.replicas's permissions are granted; other errors
// pass unchanged.
func TestReplicasForbiddenHint(t *testing.T) {
	denied := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no"))
	err := forbidden(denied, replicasForbidden)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rbac-replicas.yaml") || !strings.Contains(err.Error(), "replicasTraffic.enabled") {
		t.Errorf("forbidden(denied) = %v, want it wrapped with where to grant get, update, patch on deployments", err)
	}
	if other := errors.New("deployment web not ready"); forbidden(other, replicasForbidden) != other {
		t.Errorf("forbidden changed %v", other)
	}
	if forbidden(nil, replicasForbidden) != nil {
		t.Error("forbidden(nil) != nil")
	}
}
