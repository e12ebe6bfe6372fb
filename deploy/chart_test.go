package deploy_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube/kubetest"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	helmrelease "helm.sh/helm/v3/pkg/release"
	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

const chartDir = "chart/canary"

// TestChartLint is `helm lint --strict` with the default values.
func TestChartLint(t *testing.T) {
	l := lint.All(chartDir, nil, "canary-system", false)
	for _, m := range l.Messages {
		if m.Severity > support.InfoSev { // helm lint --strict: warnings fail
			t.Errorf("helm lint: %s", m)
		}
	}
}

// render is `helm template canary chart/canary -n canary-system`.
func render(t *testing.T, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	return renderAs(t, "canary", "canary-system", vals)
}

// renderAs is `helm template release chart/canary -n ns --include-crds`.
func renderAs(t *testing.T, release, ns string, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(&action.Configuration{})
	in.ReleaseName, in.Namespace = release, ns
	in.DryRun, in.ClientOnly, in.IncludeCRDs = true, true, true
	rel, err := in.Run(ch, vals)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return decodeObjects(t, "rendered chart", []byte(rel.Manifest))
}

func container(t *testing.T, d *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _ := nested(d, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("got %d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

// TestChartDefaults renders the chart with its default values and checks
// it gives what deploy/operator gives: the same RBAC rules, two replicas,
// the same flags, probes, ports, resources and security settings, and the
// generated CRD.
func TestChartDefaults(t *testing.T) {
	objs := render(t, nil)
	kust := kustomize(t)

	for _, kind := range []string{"ClusterRole", "Role"} {
		got, want := nested(find(t, objs, kind, ""), "rules"), nested(find(t, kust, kind, ""), "rules")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s rules:\ngot  %v\nwant %v (kustomize deploy/operator)", kind, got, want)
		}
	}
	if ns := find(t, objs, "Role", "").GetNamespace(); ns != "canary-system" {
		t.Errorf("lease Role in namespace %q, want the release's", ns)
	}
	sa := find(t, objs, "ServiceAccount", "canary-operator")
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		subj, _ := nested(find(t, objs, kind, ""), "subjects").([]any)
		if len(subj) != 1 || subj[0].(map[string]any)["name"] != sa.GetName() || subj[0].(map[string]any)["namespace"] != "canary-system" {
			t.Errorf("%s subjects = %v, want the chart's ServiceAccount", kind, subj)
		}
	}

	d := find(t, objs, "Deployment", "canary-operator")
	if r := nested(d, "spec", "replicas"); r != int64(2) {
		t.Errorf("replicas = %v, want 2", r)
	}
	got, want := container(t, d), container(t, find(t, kust, "Deployment", ""))
	for _, k := range []string{"image", "args", "env", "ports", "livenessProbe", "readinessProbe", "resources", "securityContext"} {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("container %s:\ngot  %v\nwant %v (kustomize deploy/operator)", k, got[k], want[k])
		}
	}
	if g, w := nested(d, "spec", "template", "spec", "securityContext"), nested(find(t, kust, "Deployment", ""), "spec", "template", "spec", "securityContext"); !reflect.DeepEqual(g, w) {
		t.Errorf("pod securityContext = %v, want %v", g, w)
	}
	if nested(d, "spec", "template", "spec", "affinity", "podAntiAffinity") == nil {
		t.Error("no default pod anti-affinity spreading the replicas")
	}
	svc := find(t, objs, "Service", "canary-operator-metrics")
	if ports := nested(svc, "spec", "ports"); !reflect.DeepEqual(ports, []any{map[string]any{"name": "metrics", "port": int64(8080), "targetPort": "metrics"}}) {
		t.Errorf("metrics Service ports = %v", ports)
	}
	if crd := find(t, objs, "CustomResourceDefinition", "rollouts.canary.dev"); nested(crd, "spec", "versions") == nil {
		t.Error("the chart's CRD has no versions")
	}
}

// TestChartOverrides renders the chart with values a user would set.
func TestChartOverrides(t *testing.T) {
	objs := render(t, map[string]any{
		"replicas":                3,
		"image":                   map[string]any{"repository": "registry.example/canary", "tag": "v1.2.3", "pullPolicy": "Always"},
		"leaderElection":          map[string]any{"namespace": "leases", "id": "canary-lock"},
		"watchNamespace":          "team-a",
		"selector":                "team=a",
		"extraArgs":               []any{"--kubeconfig=/etc/kube/config"},
		"metrics":                 map[string]any{"port": 9090, "service": map[string]any{"enabled": false}},
		"probes":                  map[string]any{"port": 9091},
		"serviceAccount":          map[string]any{"create": false, "name": "existing"},
		"nodeSelector":            map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":             []any{map[string]any{"key": "dedicated", "operator": "Exists"}},
		"affinity":                map[string]any{"nodeAffinity": map[string]any{}},
		"podSecurityContext":      map[string]any{"runAsNonRoot": true, "runAsUser": 65532},
		"maxConcurrentReconciles": 8,
		"logLevel":                "debug",
		"allowCommands":           []any{"/usr/local/bin/kubectl", "/usr/bin/curl"},
		"egress":                  map[string]any{"allow": []any{"10.0.0.0/8", "*.example.com"}, "deny": []any{"10.96.0.1"}},
	})
	d := find(t, objs, "Deployment", "canary-operator")
	c := container(t, d)
	if r := nested(d, "spec", "replicas"); r != int64(3) {
		t.Errorf("replicas = %v, want 3", r)
	}
	if c["image"] != "registry.example/canary:v1.2.3" || c["imagePullPolicy"] != "Always" {
		t.Errorf("image = %v %v", c["image"], c["imagePullPolicy"])
	}
	wantArgs := []any{"operator", "--leader-elect", "--leader-election-namespace=leases", "--leader-election-id=canary-lock",
		"--metrics-bind-address=:9090", "--health-probe-bind-address=:9091", "--namespace=team-a", "--selector=team=a",
		"--max-concurrent-reconciles=8", "--log-level=debug", "--allow-commands=/usr/local/bin/kubectl,/usr/bin/curl",
		"--egress-allow=10.0.0.0/8,*.example.com", "--egress-deny=10.96.0.1", "--kubeconfig=/etc/kube/config"}
	if !reflect.DeepEqual(c["args"], wantArgs) {
		t.Errorf("args:\ngot  %v\nwant %v", c["args"], wantArgs)
	}
	if sa := nested(d, "spec", "template", "spec", "serviceAccountName"); sa != "existing" {
		t.Errorf("serviceAccountName = %v, want existing", sa)
	}
	spec := nested(d, "spec", "template", "spec").(map[string]any)
	for k, want := range map[string]any{
		"nodeSelector":    map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":     []any{map[string]any{"key": "dedicated", "operator": "Exists"}},
		"affinity":        map[string]any{"nodeAffinity": map[string]any{}},
		"securityContext": map[string]any{"runAsNonRoot": true, "runAsUser": int64(65532), "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
	} {
		if !reflect.DeepEqual(spec[k], want) {
			t.Errorf("pod %s = %v, want %v", k, spec[k], want)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" || o.GetKind() == "Service" {
			t.Errorf("rendered %s %s with serviceAccount.create and metrics.service.enabled false", o.GetKind(), o.GetName())
		}
	}
	if ns := find(t, objs, "Role", "canary-operator-leader-election").GetNamespace(); ns != "leases" {
		t.Errorf("lease Role in %q, want leases", ns)
	}
	// watchNamespace: the operator's rules are bound in team-a only.
	if subj := nested(find(t, objs, "RoleBinding", "canary-operator"), "subjects").([]any); subj[0].(map[string]any)["name"] != "existing" {
		t.Errorf("RoleBinding subjects = %v, want the existing ServiceAccount", subj)
	}
}

// TestChartInstall is `helm install canary chart/canary` on an API server
// of its own (so the CRD comes from the chart): the objects exist, the CRD
// is established, and the ServiceAccount may get a Secret by name but not
// list Secrets.
func TestChartInstall(t *testing.T) {
	env := kubetest.Start(t, kubetest.Options{})
	ns := env.Namespace(t)
	rel := installChart(t, env, "canary", ns, false, nil)
	if !strings.Contains(rel.Info.Notes, "kubectl get rollouts") {
		t.Errorf("NOTES.txt: %q", rel.Info.Notes)
	}

	get := func(apiVersion, kind, ns, name string) *unstructured.Unstructured {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
			t.Errorf("%s %s/%s after helm install: %v", kind, ns, name, err)
			return nil
		}
		return u
	}
	if crd := get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "rollouts.canary.dev"); crd != nil {
		conds, _ := nested(crd, "status", "conditions").([]any)
		if !slices.ContainsFunc(conds, func(c any) bool {
			m := c.(map[string]any)
			return m["type"] == "Established" && m["status"] == "True"
		}) {
			t.Errorf("CRD not established: %v", conds)
		}
	}
	get("v1", "ServiceAccount", ns, "canary-operator")
	get("rbac.authorization.k8s.io/v1", "ClusterRole", "", "canary-operator")
	get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "canary-operator")
	get("rbac.authorization.k8s.io/v1", "Role", ns, "canary-operator-leader-election")
	get("rbac.authorization.k8s.io/v1", "RoleBinding", ns, "canary-operator-leader-election")
	get("v1", "Service", ns, "canary-operator-metrics")
	if d := get("apps/v1", "Deployment", ns, "canary-operator"); d != nil && nested(d, "spec", "replicas") != int64(2) {
		t.Errorf("Deployment replicas = %v, want 2", nested(d, "spec", "replicas"))
	}

	// What the installed RBAC lets the operator do, as the API server's
	// authorizer answers it.
	assertAccess(t, env, "system:serviceaccount:"+ns+":canary-operator", []access{
		{authv1.ResourceAttributes{Namespace: "apps", Verb: "get", Resource: "secrets"}, true},
		{authv1.ResourceAttributes{Namespace: "apps", Verb: "list", Resource: "secrets"}, false},
		{authv1.ResourceAttributes{Namespace: "apps", Verb: "update", Group: "canary.dev", Resource: "rollouts", Subresource: "status"}, true},
		{authv1.ResourceAttributes{Namespace: "apps", Verb: "delete", Group: "canary.dev", Resource: "rollouts"}, false},
		{authv1.ResourceAttributes{Namespace: ns, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{authv1.ResourceAttributes{Namespace: "apps", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, false},
	})
}

// installChart is `helm install release chart/canary -n ns` with vals
// (--skip-crds when skipCRDs: the shared API server has the CRD already).
func installChart(t *testing.T, env *kubetest.Env, release, ns string, skipCRDs bool, vals map[string]any) *helmrelease.Release {
	t.Helper()
	ac, err := helm.ActionConfig(env.Config, ns, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(ac)
	in.ReleaseName, in.Namespace, in.SkipCRDs = release, ns, skipCRDs
	rel, err := in.Run(ch, vals)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	return rel
}

// access is whether a user may do what attr describes.
type access struct {
	attr authv1.ResourceAttributes
	want bool
}

// assertAccess asks the API server's authorizer (a SubjectAccessReview)
// whether user may do each attr, and fails t where the answer is not want.
func assertAccess(t *testing.T, env *kubetest.Env, user string, tests []access) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(t.Context(),
			&authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &tt.attr}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tt.want {
			t.Errorf("can %s %s.%s/%s in %s: got %v, want %v", tt.attr.Verb, tt.attr.Resource, tt.attr.Group, tt.attr.Subresource, tt.attr.Namespace, sar.Status.Allowed, tt.want)
		}
	}
}
