package operator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// replicasUser is an identity bound to exactly deploy/operator/rbac.yaml's
// ClusterRole and, in the test's namespace only, rbac-replicas.yaml's.
const replicasUser = "system:serviceaccount:canary-system:canary-operator-with-replicas"

// replicasRig runs examples/k8s/helm.yaml with its traffic replaced by
// traffic.replicas (10 pods shared by Deployments web and web-canary)
// through Reconcile on a stepped clock as a given identity, with a stand-in
// for the deployment controller marking the Deployments ready.
type replicasRig struct {
	steppedRig
	calls *kubetest.Router
	log   []string // "w5 web=9 web-canary=1" after each router call that succeeded
	// built counts the routers and metric sources the reconciler built
	// (the Router seam builds DefaultRouter, access reviews included).
	built int
}

func newReplicasRig(t *testing.T, user string, svc kubetest.Service) *replicasRig {
	t.Helper()
	env := operatorEnv(t)
	applyManifests(t, env)
	g := &replicasRig{steppedRig: newSteppedRig(t, env)}
	g.deployment(t, "web", "app:v1", 10)
	g.deployment(t, "web-canary", "app:v2", 0)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kubetest.PlayDeploymentController(ctx, env.Client, g.ns, 20*time.Millisecond, nil)

	_, c := impersonate(t, env, user)
	var err error
	g.r, err = operator.New(operator.Config{Client: c, Clock: g.clock, Recorder: g.rec, CallTimeout: 30 * time.Second,
		Router: func(ctx context.Context, p *canary.Plan) (canary.TrafficRouter, error) {
			g.built++
			inner, err := operator.DefaultRouter(ctx, c, p)
			if err != nil {
				return nil, err
			}
			return &kubetest.Router{Inner: inner, After: func(action string, err error) {
				if err == nil {
					g.log = append(g.log, action+" "+g.pods(t))
				}
			}}, nil
		},
		Metrics: func(context.Context, *canary.Plan) (canary.MetricSource, error) {
			return kubetest.Metrics(svc, g.canaryShare), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	u := examplePlan(t, "k8s/helm.yaml", g.ns, func(spec map[string]any) {
		spec["traffic"] = map[string]any{"replicas": map[string]any{
			"stableDeployment": "web", "canaryDeployment": "web-canary", "total": int64(10), "readyTimeout": "10s"}}
	})
	u.SetLabels(map[string]string{testShard: "direct"})
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	g.key = types.NamespacedName{Namespace: g.ns, Name: u.GetName()}
	return g
}

// deployment creates Deployment name running image on n pods; both
// Deployments' pods carry app=web, which the one Service would select.
func (g *replicasRig) deployment(t *testing.T, name, image string, n int32) {
	t.Helper()
	kubetest.CreateDeployment(t, g.env.Client, g.ns, "web", name, image, n)
}

func (g *replicasRig) get(ctx context.Context, name string) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	err := g.env.Client.Get(ctx, types.NamespacedName{Namespace: g.ns, Name: name}, &d)
	return &d, err
}

// pods shows both Deployments' spec.replicas: "web=9 web-canary=1".
func (g *replicasRig) pods(t *testing.T) string {
	var parts []string
	for _, name := range []string{"web", "web-canary"} {
		d, err := g.get(context.Background(), name)
		if err != nil {
			t.Errorf("read deployment %s: %v", name, err)
			return ""
		}
		parts = append(parts, fmt.Sprintf("%s=%d", name, *d.Spec.Replicas))
	}
	return strings.Join(parts, " ")
}

// canaryShare is the canary's percentage of the pods, the share of
// requests one Service selecting both Deployments gives it.
func (g *replicasRig) canaryShare(ctx context.Context) (int, error) {
	st, err := g.get(ctx, "web")
	if err != nil {
		return 0, err
	}
	can, err := g.get(ctx, "web-canary")
	if err != nil {
		return 0, err
	}
	total := *st.Spec.Replicas + *can.Spec.Replicas
	if total == 0 {
		return 0, nil
	}
	return int(*can.Spec.Replicas * 100 / total), nil
}

// bind binds user to rbac.yaml's ClusterRole cluster-wide and, in the
// rig's namespace, to role (a ClusterRole) with a RoleBinding, as
// rbac-replicas.yaml's comment suggests for one namespace.
func (g *replicasRig) bind(t *testing.T, user, role string) {
	t.Helper()
	sa := strings.Split(user, ":")
	subj := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: sa[2], Name: sa[3]}}
	createRBAC(t, g.env, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "test-" + sa[3]}, Subjects: subj,
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "canary-operator"}})
	createRBAC(t, g.env, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: g.ns, Name: "canary-operator-replicas"}, Subjects: subj,
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role}})
}

// createRBAC creates an rbac.authorization.k8s.io/v1 object (kube.Scheme
// has no RBAC types: the operator never touches them), unless it exists.
func createRBAC(t *testing.T, env *kubetest.Env, obj runtime.Object) {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("rbac.authorization.k8s.io/v1")
	u.SetKind(strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1."))
	if err := env.Client.Create(context.Background(), u); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// shippedReplicasRole creates rbac-replicas.yaml's ClusterRole and returns
// its name and verbs.
func shippedReplicasRole(t *testing.T, env *kubetest.Env) (string, []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "operator", "rbac-replicas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range decodeYAML(t, data) {
		if o.GetKind() != "ClusterRole" {
			continue
		}
		if err := env.Client.Create(context.Background(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		rules := o.Object["rules"].([]any)
		if len(rules) != 1 {
			t.Fatalf("rbac-replicas.yaml's ClusterRole has %d rules, want 1 (deployments)", len(rules))
		}
		var verbs []string
		for _, v := range rules[0].(map[string]any)["verbs"].([]any) {
			verbs = append(verbs, v.(string))
		}
		return o.GetName(), verbs
	}
	t.Fatal("rbac-replicas.yaml has no ClusterRole")
	return "", nil
}

// TestReplicasTrafficWithRBAC runs a traffic.replicas plan on a real API
// server as an identity with exactly the shipped RBAC (rbac.yaml and
// rbac-replicas.yaml, bound in the rollout's namespace): a healthy canary
// goes through the runbook's steps, 10 pods moving 9/1, 9/1, 7/3, 5/5,
// 0/10, and is promoted (the stable then runs the canary's image on all
// pods); a faulty one is rolled back (canary at 0, stable at full size on
// its old image). What is asserted is what the Deployments hold.
func TestReplicasTrafficWithRBAC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		svc         kubetest.Service
		phase       canary.Phase
		log         []string
		stableImage string
		lastEvent   string
	}{
		{"promotion", kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}, canary.PhaseSucceeded, []string{
			"w5 web=9 web-canary=1",
			"w10 web=9 web-canary=1",
			"w25 web=7 web-canary=3",
			"w50 web=5 web-canary=5",
			"w100 web=0 web-canary=10",
			"promote web=10 web-canary=10",
			"removeCanary web=10 web-canary=0",
		}, "app:v2", "Promoted"},
		// 20% 5xx breaks "errorRate above 5% for 15s": an immediate rollback.
		{"faulty canary rolls back", kubetest.Service{RPS: 400, CanaryErrors: 0.2, CanaryLatency: 0.2}, canary.PhaseRolledBack, []string{
			"w5 web=9 web-canary=1",
			"w0 web=10 web-canary=0",
			"removeCanary web=10 web-canary=0",
		}, "app:v1", "RolledBack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newReplicasRig(t, replicasUser, tt.svc)
			role, _ := shippedReplicasRole(t, g.env)
			g.bind(t, replicasUser, role)
			s := g.run(t)
			// One router, access reviews included, per generation of the
			// spec, not per reconcile.
			if g.built != 1 {
				t.Errorf("router built %d times over one generation, want once", g.built)
			}
			if canary.Phase(s.Phase) != tt.phase {
				t.Fatalf("phase %s (%s), want %s; events:\n%s", s.Phase, s.Message, tt.phase, g.rec.all())
			}
			if !slices.Equal(g.log, tt.log) {
				t.Errorf("pods after each router call:\ngot  %s\nwant %s", strings.Join(g.log, "\n     "), strings.Join(tt.log, "\n     "))
			}
			st, err := g.get(t.Context(), "web")
			if err != nil {
				t.Fatal(err)
			}
			if img := st.Spec.Template.Spec.Containers[0].Image; img != tt.stableImage || *st.Spec.Replicas != 10 {
				t.Errorf("stable Deployment runs %s on %d pods, want %s on 10", img, *st.Spec.Replicas, tt.stableImage)
			}
			if got := g.pods(t); got != "web=10 web-canary=0" {
				t.Errorf("pods at the end: %s, want web=10 web-canary=0", got)
			}
			g.assertFinished(t, tt.lastEvent)
		})
	}
}

// TestReplicasTrafficWithoutRBAC runs the plan as deploy/operator's
// service account with rbac.yaml only, and with rbac-replicas.yaml's role
// minus one verb: the rollout is not Ready, the condition and a Warning
// Event name exactly the missing verbs and where to grant them, and no
// Deployment is scaled.
func TestReplicasTrafficWithoutRBAC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		drop string // a verb left out of rbac-replicas.yaml's; "" binds nothing beyond rbac.yaml
	}{
		{"rbac.yaml only", ""},
		{"without get", "get"},
		{"without update", "update"},
		{"without patch", "patch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			user := operatorUser
			g := newReplicasRig(t, user, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
			_, verbs := shippedReplicasRole(t, g.env)
			missing := verbs
			if tt.drop != "" {
				user = "system:serviceaccount:canary-system:canary-operator-without-" + tt.drop
				missing = []string{tt.drop}
				role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-replicas-without-" + tt.drop},
					Rules: []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"},
						Verbs: slices.DeleteFunc(slices.Clone(verbs), func(v string) bool { return v == tt.drop })}}}
				createRBAC(t, g.env, role)
				g.bind(t, user, role.Name)
				g = g.as(t, user)
			}
			want := fmt.Sprintf("may not %s deployments.apps in namespace %s", strings.Join(missing, ", "), g.ns)
			g.assertRefused(t, want, "rbac-replicas.yaml")
			if got := g.pods(t); got != "web=10 web-canary=0" {
				t.Errorf("Deployments scaled without RBAC: %s", got)
			}
		})
	}
}

// as returns the rig with its reconciler acting as user.
func (g *replicasRig) as(t *testing.T, user string) *replicasRig {
	t.Helper()
	_, c := impersonate(t, g.env, user)
	r, err := operator.New(operator.Config{Client: c, Clock: g.clock, Recorder: g.rec,
		Metrics: func(context.Context, *canary.Plan) (canary.MetricSource, error) {
			return kubetest.Metrics(kubetest.Service{RPS: 400}, g.canaryShare), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	g.r = r
	return g
}
