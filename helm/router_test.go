package helm_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/plan"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

const chartDir = "../examples/k8s/helm/recoveryos"

// fixture is one namespace with the main release installed as the runbook
// assumes ("Helm charts deployed"), and a router built from the example
// plan's traffic.helm.
type fixture struct {
	env    *kubetest.Env
	ns     string
	plan   *canary.Plan
	router *helm.Router
	ac     *action.Configuration
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{})
	p, err := plan.Load("../examples/k8s/helm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, ns: env.Namespace(t), plan: p}
	p.Metadata.Namespace = f.ns
	p.Spec.Traffic.Helm.Chart = chartDir
	if f.ac, err = helm.ActionConfig(env.Config, f.ns, t.Logf); err != nil {
		t.Fatal(err)
	}
	f.install(t, "recoveryos", map[string]any{"image": map[string]any{"tag": "v0.9.0"}})
	f.router, err = helm.New(helm.Config{RESTConfig: env.Config, Namespace: f.ns, Traffic: *p.Spec.Traffic.Helm,
		Version: p.Spec.Version, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// install is `helm install name CHART`.
func (f *fixture) install(t *testing.T, name string, vals map[string]any) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(f.ac)
	in.ReleaseName, in.Namespace = name, f.ns
	if _, err := in.Run(ch, vals); err != nil {
		t.Fatalf("helm install %s: %v", name, err)
	}
}

// history is `helm history name`, one line per revision: "2 superseded
// canary weight 10% tag=v1.0.0-elite weight=10".
func (f *fixture) history(t *testing.T, name string) []string {
	t.Helper()
	h, err := action.NewHistory(f.ac).Run(name)
	if err != nil {
		t.Fatalf("helm history %s: %v", name, err)
	}
	releaseutil.SortByRevision(h)
	var out []string
	for _, r := range h {
		out = append(out, fmt.Sprintf("%d %s %s%s", r.Version, r.Info.Status, r.Info.Description, summary(r)))
	}
	return out
}

// summary shows the values the tests care about.
func summary(r *release.Release) string {
	s := ""
	if img, ok := r.Config["image"].(map[string]any); ok {
		s += fmt.Sprintf(" tag=%v", img["tag"])
	}
	if c, ok := r.Config["canary"].(map[string]any); ok {
		if w, ok := c["weight"]; ok {
			s += fmt.Sprintf(" weight=%v", w)
		}
		if e, ok := c["enabled"]; ok {
			s += fmt.Sprintf(" enabled=%v", e)
		}
	}
	if n, ok := r.Config["replicaCount"]; ok {
		s += fmt.Sprintf(" replicas=%v", n)
	}
	return s
}

func (f *fixture) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	err := f.env.Client.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, &d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if d.DeletionTimestamp != nil {
		return nil // deleted; envtest has no garbage collector to finish it
	}
	return &d
}

// canaryWeight reads the weight the cluster really has: the canary
// Service's annotation and the canary Ingress's ingress-nginx weight.
func (f *fixture) canaryWeight(t *testing.T) (svc, ingress string) {
	t.Helper()
	ctx := context.Background()
	var s corev1.Service
	if err := f.env.Client.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "recoveryos-canary"}, &s); err != nil {
		t.Fatal(err)
	}
	var in networkingv1.Ingress
	if err := f.env.Client.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "recoveryos-canary"}, &in); err != nil {
		t.Fatal(err)
	}
	return s.Annotations["canary.dev/weight"], in.Annotations["nginx.ingress.kubernetes.io/canary-weight"]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestPromotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for _, w := range []int{5, 10, 25, 50, 100} {
		must(t, f.router.SetWeight(ctx, w))
		if svc, in := f.canaryWeight(t); svc != fmt.Sprint(w) || in != fmt.Sprint(w) {
			t.Fatalf("after SetWeight(%d): service annotation %q, ingress canary-weight %q", w, svc, in)
		}
	}
	must(t, f.router.SetWeight(ctx, 100)) // a replay: no new revision
	must(t, f.router.Promote(ctx))
	must(t, f.router.Promote(ctx))
	must(t, f.router.RemoveCanary(ctx))
	must(t, f.router.RemoveCanary(ctx))

	equal(t, "helm history recoveryos-canary", f.history(t, "recoveryos-canary"), []string{
		"1 superseded canary weight 5% tag=v1.0.0-elite weight=5 enabled=true replicas=1",
		"2 superseded canary weight 10% tag=v1.0.0-elite weight=10 enabled=true replicas=1",
		"3 superseded canary weight 25% tag=v1.0.0-elite weight=25 enabled=true replicas=1",
		"4 superseded canary weight 50% tag=v1.0.0-elite weight=50 enabled=true replicas=1",
		"5 uninstalled canary removed tag=v1.0.0-elite weight=100 enabled=true replicas=1",
	})
	main := f.history(t, "recoveryos")
	if len(main) != 2 || !strings.HasPrefix(main[1], "2 deployed canary: promoted v1.0.0-elite from recoveryos-canary (canary installed ") ||
		!strings.HasSuffix(main[1], "; previous revision 1) tag=v1.0.0-elite enabled=false") {
		t.Errorf("helm history recoveryos:\n%s\nwant revision 2 promoted to v1.0.0-elite with the canary off and its own replica count", strings.Join(main, "\n"))
	}
	d := f.deployment(t, "recoveryos")
	if got := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(got, ":v1.0.0-elite") || *d.Spec.Replicas != 3 {
		t.Errorf("main deployment runs %s on %d replicas, want v1.0.0-elite on 3", got, *d.Spec.Replicas)
	}
	if f.deployment(t, "recoveryos-canary") != nil {
		t.Error("the canary deployment is still there after RemoveCanary")
	}
}

func TestGradualRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for _, w := range []int{5, 10, 25, 0} {
		must(t, f.router.SetWeight(ctx, w))
	}
	// The drain: weight 0, the canary still installed and running.
	if svc, _ := f.canaryWeight(t); svc != "0" || f.deployment(t, "recoveryos-canary") == nil {
		t.Fatalf("during the drain: weight annotation %q, canary deployment present=%t; want 0 and present",
			svc, f.deployment(t, "recoveryos-canary") != nil)
	}
	must(t, f.router.RemoveCanary(ctx))
	equal(t, "helm history recoveryos-canary", f.history(t, "recoveryos-canary"), []string{
		"1 superseded canary weight 5% tag=v1.0.0-elite weight=5 enabled=true replicas=1",
		"2 superseded canary weight 10% tag=v1.0.0-elite weight=10 enabled=true replicas=1",
		"3 superseded canary weight 25% tag=v1.0.0-elite weight=25 enabled=true replicas=1",
		"4 uninstalled canary removed tag=v1.0.0-elite weight=0 enabled=true replicas=1",
	})
	equal(t, "helm history recoveryos (untouched)", f.history(t, "recoveryos"), []string{"1 deployed Install complete tag=v0.9.0"})
}

// TestImmediateRollbackAfterPromotion is the runbook's immediate rollback
// (helm rollback recoveryos, helm uninstall recoveryos-canary) once this
// rollout has changed the main release: flag off, weight 0, remove canary.
func TestImmediateRollbackAfterPromotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for _, w := range []int{5, 100} {
		must(t, f.router.SetWeight(ctx, w))
	}
	must(t, f.router.Promote(ctx))
	must(t, f.router.SetWeight(ctx, 0))
	must(t, f.router.RemoveCanary(ctx))
	must(t, f.router.RemoveCanary(ctx)) // a replay rolls nothing back twice
	main := f.history(t, "recoveryos")
	if len(main) != 3 || main[0] != "1 superseded Install complete tag=v0.9.0" ||
		!strings.Contains(main[1], "superseded canary: promoted v1.0.0-elite") || main[2] != "3 deployed Rollback to 1 tag=v0.9.0" {
		t.Errorf("helm history recoveryos:\n%s\nwant install, promotion, rollback to 1", strings.Join(main, "\n"))
	}
	if img := f.deployment(t, "recoveryos").Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":v0.9.0") {
		t.Errorf("main deployment runs %s after the rollback, want v0.9.0", img)
	}
	h := f.history(t, "recoveryos-canary")
	if last := h[len(h)-1]; !strings.HasPrefix(last, "3 uninstalled canary removed") {
		t.Errorf("canary release's last revision: %s, want uninstalled", last)
	}
}

// TestImmediateRollbackBeforePromotion: the main release was not changed
// by this rollout, so `helm rollback recoveryos` would undo someone else's
// release; only the canary goes.
func TestImmediateRollbackBeforePromotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	must(t, f.router.SetWeight(ctx, 5))
	must(t, f.router.SetWeight(ctx, 0))
	must(t, f.router.RemoveCanary(ctx))
	equal(t, "helm history recoveryos", f.history(t, "recoveryos"), []string{"1 deployed Install complete tag=v0.9.0"})
}

// TestNextRolloutReinstalls: the canary release's kept history does not
// stop the next rollout, and an old promotion record never triggers a
// rollback in a later rollout.
func TestNextRolloutReinstalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for _, call := range []func() error{
		func() error { return f.router.SetWeight(ctx, 100) }, f.promote(ctx), f.remove(ctx),
		func() error { return f.router.SetWeight(ctx, 5) }, func() error { return f.router.SetWeight(ctx, 0) }, f.remove(ctx),
	} {
		must(t, call())
	}
	main := f.history(t, "recoveryos")
	if len(main) != 2 || !strings.HasPrefix(main[1], "2 deployed canary: promoted") {
		t.Errorf("helm history recoveryos:\n%s\nwant the first rollout's promotion to stay", strings.Join(main, "\n"))
	}
	h := f.history(t, "recoveryos-canary")
	// Uninstalling marks the last revision; the next install supersedes it.
	if len(h) != 3 || !strings.HasPrefix(h[0], "1 superseded") || !strings.HasPrefix(h[1], "2 superseded canary weight 5%") ||
		!strings.HasPrefix(h[2], "3 uninstalled canary removed") {
		t.Errorf("helm history recoveryos-canary:\n%s", strings.Join(h, "\n"))
	}
}

func (f *fixture) promote(ctx context.Context) func() error {
	return func() error { return f.router.Promote(ctx) }
}

func (f *fixture) remove(ctx context.Context) func() error {
	return func() error { return f.router.RemoveCanary(ctx) }
}

// TestTakesOverPendingRevision: a process that died half-way through an
// upgrade (the API server went away) leaves the revision pending-upgrade,
// which locks the release for Helm. The router marks it failed and goes on.
func TestTakesOverPendingRevision(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	must(t, f.router.SetWeight(ctx, 5))
	rel, err := f.ac.Releases.Last("recoveryos-canary")
	must(t, err)
	stuck := *rel
	info := *rel.Info
	stuck.Info, stuck.Version = &info, rel.Version+1
	stuck.Info.Status, stuck.Info.Description = release.StatusPendingUpgrade, "Preparing upgrade"
	stuck.Info.LastDeployed = rel.Info.LastDeployed.Add(-helm.DefaultPendingTimeout - 1)
	must(t, f.ac.Releases.Create(&stuck))

	must(t, f.router.SetWeight(ctx, 10))
	equal(t, "helm history recoveryos-canary", f.history(t, "recoveryos-canary"), []string{
		"1 superseded canary weight 5% tag=v1.0.0-elite weight=5 enabled=true replicas=1",
		"2 failed interrupted while pending-upgrade; marked failed by canary tag=v1.0.0-elite weight=5 enabled=true replicas=1",
		"3 deployed canary weight 10% tag=v1.0.0-elite weight=10 enabled=true replicas=1",
	})
}

// TestRecentPendingRevisionIsRespected: a young pending revision may be
// another helm at work; the router refuses rather than race it.
func TestRecentPendingRevisionIsRespected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	must(t, f.router.SetWeight(ctx, 5))
	rel, err := f.ac.Releases.Last("recoveryos-canary")
	must(t, err)
	stuck := *rel
	info := *rel.Info
	stuck.Info, stuck.Version = &info, rel.Version+1
	stuck.Info.Status = release.StatusPendingUpgrade
	must(t, f.ac.Releases.Create(&stuck))
	err = f.router.SetWeight(ctx, 10)
	if err == nil || !strings.Contains(err.Error(), "another operation is in progress") {
		t.Fatalf("SetWeight over a fresh pending revision: %v, want another operation is in progress", err)
	}
}

func TestPromoteWithoutMainRelease(t *testing.T) {
	t.Parallel()
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	r, err := helm.New(helm.Config{RESTConfig: env.Config, Namespace: ns,
		Traffic: canary.HelmTraffic{Release: "recoveryos", Chart: chartDir}})
	must(t, err)
	if err := r.Promote(t.Context()); err == nil || !strings.Contains(err.Error(), helm.ErrNoMainRelease.Error()) {
		t.Fatalf("Promote = %v, want %v", err, helm.ErrNoMainRelease)
	}
}
