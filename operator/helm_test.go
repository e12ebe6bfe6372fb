package operator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// helmUser is an identity bound to exactly deploy/operator/rbac.yaml's
// ClusterRole and, in the test's namespace only, rbac-helm.yaml's.
const helmUser = "system:serviceaccount:canary-system:canary-operator-with-helm"

// helmRig runs examples/k8s/helm.yaml, unchanged but for its namespace,
// through Reconcile on a stepped clock as a given identity, with the
// example chart's main release installed as the runbook assumes.
type helmRig struct {
	steppedRig
	ac *action.Configuration
}

func newHelmRig(t *testing.T, user string, svc kubetest.Service) *helmRig {
	t.Helper()
	env := operatorEnv(t)
	applyManifests(t, env)
	g := &helmRig{steppedRig: newSteppedRig(t, env)}
	var err error
	if g.ac, err = helm.ActionConfig(env.Config, g.ns, t.Logf); err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(filepath.Join("..", "examples", "k8s", "helm", "recoveryos"))
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(g.ac)
	in.ReleaseName, in.Namespace = "recoveryos", g.ns
	if _, err := in.Run(ch, map[string]any{"image": map[string]any{"tag": "v0.9.0"}}); err != nil {
		t.Fatalf("helm install recoveryos: %v", err)
	}
	if user == helmUser {
		g.bindHelmRBAC(t)
	}

	rc, c := impersonate(t, env, user)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	g.r, err = operator.New(operator.Config{Client: c, Clock: g.clock, Recorder: g.rec, RESTConfig: rc, HelmChartDir: root,
		CallTimeout: 30 * time.Second,
		Metrics: func(context.Context, *canary.Plan) (canary.MetricSource, error) {
			return kubetest.Metrics(svc, g.renderedWeight), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	u := examplePlan(t, "k8s/helm.yaml", g.ns, nil)
	u.SetLabels(map[string]string{testShard: "direct"})
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	g.key = types.NamespacedName{Namespace: g.ns, Name: u.GetName()}
	return g
}

// bindHelmRBAC binds helmUser to rbac.yaml's ClusterRole and, in the
// rig's namespace, to rbac-helm.yaml's ClusterRole, as the file's comment
// suggests for one namespace.
func (g *helmRig) bindHelmRBAC(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "operator", "rbac-helm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role *unstructured.Unstructured
	for _, o := range decodeYAML(t, data) {
		if o.GetKind() == "ClusterRole" {
			role = o
		}
	}
	if role == nil {
		t.Fatal("rbac-helm.yaml has no ClusterRole")
	}
	if err := g.env.Client.Create(context.Background(), role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa := strings.Split(helmUser, ":")
	subj := []any{map[string]any{"kind": "ServiceAccount", "namespace": sa[2], "name": sa[3]}}
	bind := func(kind, ns, name, role string) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns}, "subjects": subj,
			"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}}}
		if err := g.env.Client.Create(context.Background(), u); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	bind("ClusterRoleBinding", "", "test-canary-operator-with-helm", "canary-operator")
	bind("RoleBinding", g.ns, "canary-operator-helm", role.GetName())
}

// renderedWeight is the weight the canary release's Service carries, 0
// when it is not installed.
func (g *helmRig) renderedWeight(ctx context.Context) (int, error) {
	var s corev1.Service
	err := g.env.Client.Get(ctx, types.NamespacedName{Namespace: g.ns, Name: "recoveryos-canary"}, &s)
	if apierrors.IsNotFound(err) || (err == nil && s.DeletionTimestamp != nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s.Annotations["canary.dev/weight"])
}

// history is `helm history name`: "2 superseded canary weight 10% tag=v1.0.0-elite weight=10".
func (g *helmRig) history(t *testing.T, name string) []string {
	t.Helper()
	h, err := action.NewHistory(g.ac).Run(name)
	if err != nil {
		if strings.Contains(err.Error(), driver.ErrReleaseNotFound.Error()) {
			return nil
		}
		t.Fatalf("helm history %s: %v", name, err)
	}
	releaseutil.SortByRevision(h)
	var out []string
	for _, r := range h {
		out = append(out, fmt.Sprintf("%d %s %s%s", r.Version, r.Info.Status, r.Info.Description, summary(r)))
	}
	return out
}

func summary(r *release.Release) string {
	s := ""
	if img, ok := r.Config["image"].(map[string]any); ok {
		s += fmt.Sprintf(" tag=%v", img["tag"])
	}
	if c, ok := r.Config["canary"].(map[string]any); ok {
		if w, ok := c["weight"]; ok {
			s += fmt.Sprintf(" weight=%v", w)
		}
	}
	return s
}

// TestHelmTrafficWithRBAC runs the example Helm plan on a real API server
// as an identity with exactly the shipped RBAC (rbac.yaml and
// rbac-helm.yaml): a healthy canary goes through the runbook's steps and
// is promoted into the main release; a faulty one is rolled back, the
// main release untouched. What is asserted is what Helm leaves behind.
func TestHelmTrafficWithRBAC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		svc       kubetest.Service
		phase     canary.Phase
		canary    []string
		main      []string // prefixes
		lastEvent string
	}{
		{"promotion", kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}, canary.PhaseSucceeded,
			[]string{
				"1 superseded canary weight 5% tag=v1.0.0-elite weight=5",
				"2 superseded canary weight 10% tag=v1.0.0-elite weight=10",
				"3 superseded canary weight 25% tag=v1.0.0-elite weight=25",
				"4 superseded canary weight 50% tag=v1.0.0-elite weight=50",
				"5 uninstalled canary removed tag=v1.0.0-elite weight=100",
			},
			[]string{"1 superseded Install complete tag=v0.9.0", "2 deployed canary: promoted v1.0.0-elite from recoveryos-canary"}, "Promoted"},
		// 20% 5xx breaks "errorRate above 5% for 15s": an immediate rollback.
		{"faulty canary rolls back", kubetest.Service{RPS: 400, CanaryErrors: 0.2, CanaryLatency: 0.2}, canary.PhaseRolledBack,
			[]string{
				"1 superseded canary weight 5% tag=v1.0.0-elite weight=5",
				"2 uninstalled canary removed tag=v1.0.0-elite weight=0",
			},
			[]string{"1 deployed Install complete tag=v0.9.0"}, "RolledBack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newHelmRig(t, helmUser, tt.svc)
			s := g.run(t)
			if canary.Phase(s.Phase) != tt.phase {
				t.Fatalf("phase %s (%s), want %s; events:\n%s", s.Phase, s.Message, tt.phase, g.rec.all())
			}
			if got := g.history(t, "recoveryos-canary"); !slices.Equal(got, tt.canary) {
				t.Errorf("helm history recoveryos-canary:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.canary, "\n     "))
			}
			main := g.history(t, "recoveryos")
			if len(main) != len(tt.main) {
				t.Fatalf("helm history recoveryos:\n%s\nwant %d revisions", strings.Join(main, "\n"), len(tt.main))
			}
			for i, want := range tt.main {
				if !strings.HasPrefix(main[i], want) {
					t.Errorf("helm history recoveryos revision %d: %s, want %s…", i+1, main[i], want)
				}
			}
			g.assertFinished(t, tt.lastEvent)
		})
	}
}

// TestHelmTrafficWithoutRBAC runs the example Helm plan as deploy/operator's
// service account with rbac.yaml only: the rollout is not Ready, the
// condition and a Warning Event name the missing permission and where to
// grant it, and nothing is installed.
func TestHelmTrafficWithoutRBAC(t *testing.T) {
	t.Parallel()
	g := newHelmRig(t, operatorUser, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
	want := fmt.Sprintf("may not list, create, update, delete secrets in namespace %s", g.ns) // get: rbac.yaml has it
	g.assertRefused(t, want, "rbac-helm.yaml")
	if h := g.history(t, "recoveryos-canary"); len(h) != 0 {
		t.Errorf("the canary release was installed without RBAC: %v", h)
	}
}

// decodeYAML reads the objects of a multi-document YAML stream.
func decodeYAML(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []*unstructured.Unstructured
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatal(err)
		}
		if len(doc) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: doc})
		}
	}
}
