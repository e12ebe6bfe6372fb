package deploy_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// replicasRules are deploy/operator/rbac-replicas.yaml's ClusterRole rules.
func replicasRules(t *testing.T) any {
	t.Helper()
	return nested(find(t, readObjects(t, "operator/rbac-replicas.yaml"), "ClusterRole", "canary-operator-replicas"), "rules")
}

// TestChartReplicasTraffic: traffic.replicas's RBAC is opt-in. By default
// the chart renders none of it; replicasTraffic.enabled adds
// rbac-replicas.yaml's rules, bound cluster-wide or, with namespaces, only
// there.
func TestChartReplicasTraffic(t *testing.T) {
	objs := render(t, nil)
	if has(objs, "ClusterRole", "canary-operator-replicas") || has(objs, "ClusterRoleBinding", "canary-operator-replicas") {
		t.Error("the default chart grants traffic.replicas's RBAC")
	}
	objs = render(t, map[string]any{"replicasTraffic": map[string]any{"enabled": true}})
	if got, want := nested(find(t, objs, "ClusterRole", "canary-operator-replicas"), "rules"), replicasRules(t); !reflect.DeepEqual(got, want) {
		t.Errorf("replicas ClusterRole rules:\ngot  %v\nwant %v (deploy/operator/rbac-replicas.yaml)", got, want)
	}
	crb := find(t, objs, "ClusterRoleBinding", "canary-operator-replicas")
	if subj := nested(crb, "subjects").([]any); subj[0].(map[string]any)["name"] != "canary-operator" || subj[0].(map[string]any)["namespace"] != "canary-system" {
		t.Errorf("replicas ClusterRoleBinding subjects = %v", subj)
	}
	objs = render(t, map[string]any{"replicasTraffic": map[string]any{"enabled": true, "namespaces": []any{"apps", "web"}}})
	if has(objs, "ClusterRoleBinding", "canary-operator-replicas") {
		t.Error("a ClusterRoleBinding for replicas with replicasTraffic.namespaces")
	}
	var nss []string
	for _, o := range objs {
		if o.GetKind() == "RoleBinding" && o.GetName() == "canary-operator-replicas" {
			nss = append(nss, o.GetNamespace())
			if ref := nested(o, "roleRef", "kind"); ref != "ClusterRole" {
				t.Errorf("replicas RoleBinding in %s refers to a %v, want the ClusterRole", o.GetNamespace(), ref)
			}
		}
	}
	if !reflect.DeepEqual(nss, []string{"apps", "web"}) {
		t.Errorf("replicas RoleBindings in %v, want [apps web]", nss)
	}
}

// TestRBACReplicasOptIn: rbac-replicas.yaml is not part of `kubectl apply
// -k deploy/operator` and applies cleanly on its own.
func TestRBACReplicasOptIn(t *testing.T) {
	assertOptIn(t, "rbac-replicas.yaml", "traffic.replicas's RBAC")
}

// TestChartWatchNamespace: with watchNamespace, every rule the operator
// gets is a Role bound in that namespace (its own rules, and Helm's and
// replicas' when enabled), with the same rules as deploy/operator's
// ClusterRoles; nothing is cluster-wide; the lease Role stays in the
// lease namespace. Opt-in namespaces other than the watched one are an
// error saying why.
func TestChartWatchNamespace(t *testing.T) {
	objs := render(t, map[string]any{"watchNamespace": "apps",
		"helmTraffic": map[string]any{"enabled": true}, "replicasTraffic": map[string]any{"enabled": true}})
	for _, o := range objs {
		if k := o.GetKind(); k == "ClusterRole" || k == "ClusterRoleBinding" {
			t.Errorf("%s %s rendered with watchNamespace", k, o.GetName())
		}
	}
	for _, tt := range []struct {
		name  string
		rules any
	}{
		{"canary-operator", nested(find(t, readObjects(t, "operator/rbac.yaml"), "ClusterRole", ""), "rules")},
		{"canary-operator-helm", helmRules(t)},
		{"canary-operator-replicas", replicasRules(t)},
	} {
		role := find(t, objs, "Role", tt.name)
		if role.GetNamespace() != "apps" {
			t.Errorf("Role %s in %q, want apps", tt.name, role.GetNamespace())
		}
		if got := nested(role, "rules"); !reflect.DeepEqual(got, tt.rules) {
			t.Errorf("Role %s rules:\ngot  %v\nwant %v (deploy/operator)", tt.name, got, tt.rules)
		}
		rb := find(t, objs, "RoleBinding", tt.name)
		if rb.GetNamespace() != "apps" || nested(rb, "roleRef", "kind") != "Role" || nested(rb, "roleRef", "name") != tt.name {
			t.Errorf("RoleBinding %s: namespace %q, roleRef %v; want apps and Role %s", tt.name, rb.GetNamespace(), nested(rb, "roleRef"), tt.name)
		}
		subj, _ := nested(rb, "subjects").([]any)
		if len(subj) != 1 || subj[0].(map[string]any)["name"] != "canary-operator" || subj[0].(map[string]any)["namespace"] != "canary-system" {
			t.Errorf("RoleBinding %s subjects = %v, want the chart's ServiceAccount", tt.name, subj)
		}
	}
	if ns := find(t, objs, "Role", "canary-operator-leader-election").GetNamespace(); ns != "canary-system" {
		t.Errorf("lease Role in %q, want the release's namespace", ns)
	}

	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(&action.Configuration{})
	in.ReleaseName, in.Namespace = "canary", "canary-system"
	in.DryRun, in.ClientOnly = true, true
	_, err = in.Run(ch, map[string]any{"watchNamespace": "apps", "replicasTraffic": map[string]any{"enabled": true, "namespaces": []any{"web"}}})
	if want := "replicasTraffic.namespaces has web, but watchNamespace is apps"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("render with replicasTraffic.namespaces outside watchNamespace: %v, want an error saying %q", err, want)
	}
}

// TestChartInstallWatchNamespace installs the chart with watchNamespace
// and replicasTraffic.enabled on a real API server, then runs the operator
// as the chart's service account, impersonated, bound to exactly what the
// chart rendered: a traffic.replicas Rollout in the watched namespace is
// promoted (the Deployments scaled, the status and Events written, the
// leader elected with the Lease), while in another namespace the same
// identity is refused Rollouts, Deployments and Secrets by the API server.
func TestChartInstallWatchNamespace(t *testing.T) {
	env := crdEnv(t)
	rel, apps, other := env.Namespace(t), env.Namespace(t), env.Namespace(t)
	installChart(t, env, "scoped", rel, true, map[string]any{"watchNamespace": apps, "replicasTraffic": map[string]any{"enabled": true}})
	user := "system:serviceaccount:" + rel + ":scoped-operator"
	rc := rest.CopyConfig(env.Config)
	rc.Impersonate = rest.ImpersonationConfig{UserName: user}
	as, err := kube.NewClient(rc)
	if err != nil {
		t.Fatal(err)
	}

	// Two Deployments sharing 4 pods in the watched namespace, made ready
	// by a stand-in for the deployment controller.
	for _, d := range []struct {
		name, image string
		n           int32
	}{{"web", "app:v1", 4}, {"web-canary", "app:v2", 0}} {
		labels := map[string]string{"app": "web", "track": d.name}
		obj := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: d.name},
			Spec: appsv1.DeploymentSpec{Replicas: &d.n, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: d.image}}}}}}
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kubetest.PlayDeploymentController(ctx, env.Client, apps, 20*time.Millisecond, nil)
	canaryShare := func(ctx context.Context) (int, error) {
		var c appsv1.Deployment
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: apps, Name: "web-canary"}, &c); err != nil {
			return 0, err
		}
		return int(*c.Spec.Replicas * 100 / 4), nil
	}

	mgr, err := operator.NewManager(rc, operator.ManagerOptions{MetricsAddr: "0", Namespace: apps,
		LeaderElection: true, LeaderElectionNamespace: rel, LeaderElectionID: "scoped",
		Configure: func(cfg *operator.Config) {
			cfg.Metrics = func(context.Context, *canary.Plan) (canary.MetricSource, error) {
				return kubetest.Metrics(kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}, canaryShare), nil
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator: %v", err)
		}
	}()

	ro := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "web", "namespace": apps},
		"spec": map[string]any{
			"version": "v2",
			"traffic": map[string]any{"replicas": map[string]any{"stableDeployment": "web", "canaryDeployment": "web-canary"}},
			"steps":   []any{map[string]any{"weight": int64(50), "hold": "1s"}, map[string]any{"weight": int64(100)}},
			"analysis": map[string]any{"interval": "500ms", "minRequests": int64(10),
				"metrics": map[string]any{"prometheus": map[string]any{"address": "http://prometheus.invalid:9090"}}},
			"rules": []any{map[string]any{"metric": "errorRate", "above": "5%", "for": "500ms", "action": "rollback-immediate"}},
		},
	}}
	if err := env.Client.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(operator.GVK)
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: apps, Name: "web"}, got); err != nil {
			t.Fatal(err)
		}
		phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
		if canary.Phase(phase).Terminal() {
			if canary.Phase(phase) != canary.PhaseSucceeded {
				t.Fatalf("phase %s, want Succeeded: %v", phase, got.Object["status"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout did not finish as the namespaced service account; status: %v", got.Object["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	var st, can appsv1.Deployment
	if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: apps, Name: "web"}, &st); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: apps, Name: "web-canary"}, &can); err != nil {
		t.Fatal(err)
	}
	if img := st.Spec.Template.Spec.Containers[0].Image; img != "app:v2" || *st.Spec.Replicas != 4 || *can.Spec.Replicas != 0 {
		t.Errorf("after promotion: stable runs %s on %d pods, canary %d pods; want app:v2 on 4, canary 0", img, *st.Spec.Replicas, *can.Spec.Replicas)
	}
	var events corev1.EventList
	if err := env.Client.List(t.Context(), &events, client.InNamespace(apps)); err != nil {
		t.Fatal(err)
	}
	promoted := false
	for _, e := range events.Items {
		promoted = promoted || (e.InvolvedObject.Name == "web" && e.Reason == "Promoted")
	}
	if !promoted {
		t.Error("no Promoted Event in the watched namespace")
	}

	// Elsewhere, the same identity is refused.
	ro2 := &unstructured.Unstructured{}
	ro2.SetGroupVersionKind(operator.GVK)
	if err := as.Get(t.Context(), types.NamespacedName{Namespace: other, Name: "web"}, ro2); !apierrors.IsForbidden(err) {
		t.Errorf("get a Rollout in another namespace: %v, want Forbidden", err)
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(operator.GVK.GroupVersion().WithKind("RolloutList"))
	if err := as.List(t.Context(), list); !apierrors.IsForbidden(err) {
		t.Errorf("list Rollouts in all namespaces: %v, want Forbidden", err)
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "web"}}
	if err := as.Patch(t.Context(), d, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":0}}`))); !apierrors.IsForbidden(err) {
		t.Errorf("patch a Deployment in another namespace: %v, want Forbidden", err)
	}
	var sec corev1.Secret
	if err := as.Get(t.Context(), types.NamespacedName{Namespace: other, Name: "hooks"}, &sec); !apierrors.IsForbidden(err) {
		t.Errorf("get a Secret in another namespace: %v, want Forbidden", err)
	}

	assertAccess(t, env, user, []access{
		{authv1.ResourceAttributes{Namespace: apps, Verb: "get", Resource: "secrets"}, true},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "list", Resource: "secrets"}, false},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "update", Group: "gateway.networking.k8s.io", Resource: "httproutes"}, true},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "create", Resource: "events"}, true},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "delete", Group: "apps", Resource: "deployments"}, false},
		{authv1.ResourceAttributes{Namespace: other, Verb: "watch", Group: "canary.dev", Resource: "rollouts"}, false},
		{authv1.ResourceAttributes{Namespace: other, Verb: "update", Group: "gateway.networking.k8s.io", Resource: "httproutes"}, false},
		{authv1.ResourceAttributes{Namespace: other, Verb: "create", Resource: "events"}, false},
		{authv1.ResourceAttributes{Namespace: rel, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, true},
	})
}
