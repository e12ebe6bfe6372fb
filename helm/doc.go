// Package helm is a canary.TrafficRouter that runs the runbook's Helm
// commands in-process with the Helm SDK (helm.sh/helm/v3/pkg/action), as
// actions on two releases in one namespace: the main (stable) release and
// the canary release.
//
//	runbook                                               router call
//	helm upgrade --install recoveryos-canary CHART \      SetWeight(5)
//	    --set image.tag=… --set canary.enabled=true --set canary.weight=5
//	helm upgrade recoveryos-canary CHART --reuse-values \ SetWeight(10), (25), (50), (100), (0)
//	    --set canary.weight=10
//	helm upgrade recoveryos CHART --reuse-values \        Promote
//	    --set image.tag=… --set canary.enabled=false
//	helm rollback recoveryos                              RemoveCanary, on a rollback after Promote
//	helm uninstall recoveryos-canary --keep-history       RemoveCanary
//
// # Values
//
// SetWeight installs the canary release, or upgrades it reusing its
// values, with the plan's `set` values and the weight value (default
// canary.weight) set to the weight, parsed like `helm --set` (so "1" is a
// number and "true" a boolean). SetWeight(0) keeps the canary release: it
// is the gradual rollback's drain.
//
// Promote upgrades the main release, reusing its values, with the plan's
// `set` values except the ones that only make sense for the canary (those
// under the weight value's parent, such as canary.*, and the keys in
// Config.CanaryOnly, default replicaCount), plus the enabled value (default
// canary.enabled) set to false.
//
// # Idempotence and confirmation
//
// Every call computes the release's values from its arguments, compares
// them (and the chart) with the release's latest revision and does nothing
// when they already match, so replaying a call after a crash makes no new
// revision. After acting it reads the release back from Helm's storage and
// checks its status and values.
//
// A revision left pending (pending-install, -upgrade or -rollback) by an
// operation that died half-way, for instance because the API server went
// away, locks a release for Helm ("another operation is in progress"). The
// router marks such a revision failed and goes on when it was left by one
// of its own failed calls, or when it is older than Config.PendingTimeout.
//
// # How RemoveCanary knows to roll the main release back
//
// Promote records, in the main release's revision description, that it
// promoted this canary release, with the canary release's first-deployed
// time and the revision it replaced:
//
//	canary: promoted v1.0.0-elite from recoveryos-canary (canary installed 2025-08-14T09:00:00.123Z; previous revision 3)
//
// RemoveCanary rolls the main release back to that previous revision when
// the main release's latest revision is such a record for the canary
// release being removed (same name, same first-deployed time, so a record
// left by an earlier rollout never matches) and the canary release is not
// at weight 100. The engine always sets weight 100 before Promote and
// RemoveCanary on a promotion, and weight 0 before RemoveCanary on any
// rollback, so "canary weight below 100" means "this is a rollback". The
// record survives a restart of the runner because it lives in Helm's own
// storage. On a replay after the rollback, the latest revision is the
// rollback ("Rollback to 3"), so nothing is rolled back twice.
//
// RemoveCanary then uninstalls the canary release keeping its history
// (helm uninstall --keep-history), so `helm history recoveryos-canary`
// still shows every step of the last rollout; a later rollout installs it
// again with the next revision number. Config.PurgeHistory deletes it
// instead, as the runbook's plain `helm uninstall` does.
//
// The router never waits for workloads (helm --wait): readiness is the
// analysis's business, and SLO rules judge the canary's pods.
package helm
