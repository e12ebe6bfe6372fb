package operator

import (
	"context"

	"github.com/canary-dev/canary"
)

// ReplicasVerbs are the verbs traffic.replicas needs on Deployments
// (apps) in a rollout's namespace, as kube.ReplicaRouter uses them: get
// (read both Deployments and their readiness), patch (scale them, record
// the total on the canary) and update (promotion copies the canary's pod
// template into the stable). No list, watch, create or delete: the two
// Deployments are yours.
var ReplicasVerbs = []string{"get", "update", "patch"}

// ReplicasRBACHint says where the permissions traffic.replicas needs are
// granted.
const ReplicasRBACHint = "grant them to the operator's service account: kubectl apply -f deploy/operator/rbac-replicas.yaml " +
	"(or a RoleBinding to the canary-operator-replicas ClusterRole in this namespace), or install the chart with replicasTraffic.enabled=true"

// replicasAccess is what traffic.replicas needs on Deployments.
var replicasAccess = access{Provider: "traffic.replicas", Group: "apps", Resource: "deployments", Verbs: ReplicasVerbs,
	Why: "which traffic.replicas scales", Hint: ReplicasRBACHint}

// replicasHint adds, to an error the API server refused, where to grant
// the permission (RBAC may change after the check).
type replicasHint struct{ r canary.TrafficRouter }

const replicasForbidden = "the operator's service account lacks this permission on Deployments; " + ReplicasRBACHint

var _ canary.TrafficRouter = replicasHint{}

func (h replicasHint) SetWeight(ctx context.Context, w int) error {
	return forbidden(h.r.SetWeight(ctx, w), replicasForbidden)
}
func (h replicasHint) Promote(ctx context.Context) error {
	return forbidden(h.r.Promote(ctx), replicasForbidden)
}
func (h replicasHint) RemoveCanary(ctx context.Context) error {
	return forbidden(h.r.RemoveCanary(ctx), replicasForbidden)
}
