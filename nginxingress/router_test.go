package nginxingress_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/nginxingress"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var traffic = canary.NGINXIngressTraffic{Ingress: "recoveryos", StableService: "recoveryos", CanaryService: "recoveryos-canary"}

func ptr[T any](v T) *T { return &v }

func path(p, svc string, port int32) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: ptr(networkingv1.PathTypePrefix),
		Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}}}}
}

// newIngress creates the stable Ingress a chart would: / to the stable
// Service and /admin to another one, with TLS and an annotation of its
// own.
func newIngress(t *testing.T, env *kubetest.Env, ns string) *networkingv1.Ingress {
	t.Helper()
	in := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos", Labels: map[string]string{"app": "recoveryos"},
			Annotations: map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr("nginx"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"recoveryos.example.com"}, SecretName: "tls"}},
			Rules: []networkingv1.IngressRule{{Host: "recoveryos.example.com", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					path("/admin", "admin", 8080), path("/", "recoveryos", 80)}}}}},
		},
	}
	if err := env.Client.Create(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return in
}

func get(t *testing.T, env *kubetest.Env, ns, name string) *networkingv1.Ingress {
	t.Helper()
	var in networkingv1.Ingress
	err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &in)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &in
}

// describe shows a canary Ingress as "canary=true weight=5 recoveryos.example.com/=recoveryos-canary:80".
func describe(in *networkingv1.Ingress) string {
	if in == nil {
		return "none"
	}
	parts := []string{"canary=" + in.Annotations[nginxingress.AnnotationCanary], "weight=" + in.Annotations[nginxingress.AnnotationWeight]}
	for _, r := range in.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			parts = append(parts, fmt.Sprintf("%s%s=%s:%d", r.Host, p.Path, p.Backend.Service.Name, p.Backend.Service.Port.Number))
		}
	}
	return strings.Join(parts, " ")
}

func newRouter(t *testing.T, tr canary.NGINXIngressTraffic) (*kubetest.Env, string, *nginxingress.Router) {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	r, err := nginxingress.New(nginxingress.Config{Client: env.Client, Namespace: ns, Traffic: tr})
	if err != nil {
		t.Fatal(err)
	}
	return env, ns, r
}

// stableUntouched fails t when the stable Ingress changed.
func stableUntouched(t *testing.T, env *kubetest.Env, ns string, orig *networkingv1.Ingress) {
	t.Helper()
	got := get(t, env, ns, "recoveryos")
	if got.ResourceVersion != orig.ResourceVersion || !equality.Semantic.DeepEqual(got.Spec, orig.Spec) {
		t.Errorf("the stable ingress was written (resourceVersion %s -> %s)", orig.ResourceVersion, got.ResourceVersion)
	}
}

// TestLifecycle: kubetest.RouterLifecycle's calls on the canary Ingress,
// which has the stable's class, TLS, host and path to the canary Service;
// the stable Ingress is never written and Weight reads what was set.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t, traffic)
	orig := newIngress(t, env, ns)
	kubetest.RouterLifecycle(t, r, func(t *testing.T) kubetest.Observed {
		stableUntouched(t, env, ns, orig)
		c := get(t, env, ns, "recoveryos-canary")
		if c == nil {
			return kubetest.Observed{Stable: 100, Canary: -1}
		}
		w, err := strconv.Atoi(c.Annotations[nginxingress.AnnotationWeight])
		if err != nil {
			t.Errorf("canary-weight: %v", err)
		}
		if got, want := describe(c), fmt.Sprintf("canary=true weight=%d recoveryos.example.com/=recoveryos-canary:80", w); got != want {
			t.Errorf("canary ingress %s, want %s", got, want)
		}
		if c.Spec.IngressClassName == nil || *c.Spec.IngressClassName != "nginx" || len(c.Spec.TLS) != 1 {
			t.Errorf("canary ingress class %v, TLS %v; want the stable's", c.Spec.IngressClassName, c.Spec.TLS)
		}
		if got, err := r.Weight(t.Context()); err != nil || got != w {
			t.Errorf("Weight = %d, %v; the canary ingress has %d", got, err, w)
		}
		return kubetest.Observed{Stable: 100 - w, Canary: w, Version: c.ResourceVersion,
			Promoted: c.Annotations[nginxingress.AnnotationPromoted] == "recoveryos-canary"}
	})
}

// TestKeepsOtherAnnotations: someone else's annotation on the canary
// Ingress stays, and does not make a replay write.
func TestKeepsOtherAnnotations(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t, traffic)
	newIngress(t, env, ns)
	ctx := t.Context()
	if err := r.SetWeight(ctx, 25); err != nil {
		t.Fatal(err)
	}
	c := get(t, env, ns, "recoveryos-canary")
	metav1.SetMetaDataAnnotation(&c.ObjectMeta, "example.com/owner", "sre")
	if err := env.Client.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	before := get(t, env, ns, "recoveryos-canary")
	if err := r.SetWeight(ctx, 25); err != nil {
		t.Fatal(err)
	}
	if after := get(t, env, ns, "recoveryos-canary"); after.ResourceVersion != before.ResourceVersion {
		t.Errorf("replaying SetWeight(25) wrote the canary ingress (resourceVersion %s -> %s)", before.ResourceVersion, after.ResourceVersion)
	}
	if err := r.SetWeight(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if a := get(t, env, ns, "recoveryos-canary").Annotations; a["example.com/owner"] != "sre" {
		t.Errorf("SetWeight dropped another annotation: %v", a)
	}
}

// TestCanaryPort: a canary Service on another port.
func TestCanaryPort(t *testing.T) {
	t.Parallel()
	tr := traffic
	tr.Port, tr.CanaryIngress = 8080, "rc"
	env, ns, r := newRouter(t, tr)
	newIngress(t, env, ns)
	if err := r.SetWeight(t.Context(), 5); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(get(t, env, ns, "rc")), "canary=true weight=5 recoveryos.example.com/=recoveryos-canary:8080"; got != want {
		t.Errorf("canary ingress %s, want %s", got, want)
	}
}

// TestRefusesForeignIngress: an Ingress of the canary's name that canary
// did not create is never written or deleted.
func TestRefusesForeignIngress(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t, traffic)
	newIngress(t, env, ns)
	foreign := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos-canary"},
		Spec: networkingv1.IngressSpec{DefaultBackend: ptr(path("/", "other", 80).Backend)}}
	if err := env.Client.Create(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context) error{"SetWeight": func(c context.Context) error { return r.SetWeight(c, 5) }, "RemoveCanary": r.RemoveCanary} {
		if err := call(t.Context()); !errors.Is(err, nginxingress.ErrNotOurs) {
			t.Errorf("%s on a foreign ingress: %v, want ErrNotOurs", name, err)
		}
	}
	if got := get(t, env, ns, "recoveryos-canary"); got == nil || got.ResourceVersion != foreign.ResourceVersion {
		t.Error("the foreign ingress was written or deleted")
	}
}

func TestNoStableBackend(t *testing.T) {
	t.Parallel()
	tr := traffic
	tr.StableService = "elsewhere"
	env, ns, r := newRouter(t, tr)
	newIngress(t, env, ns)
	if err := r.SetWeight(t.Context(), 5); !errors.Is(err, nginxingress.ErrNoStableBackend) {
		t.Fatalf("SetWeight without a stable backend: %v, want ErrNoStableBackend", err)
	}
	if c := get(t, env, ns, "recoveryos-canary"); c != nil {
		t.Errorf("a canary ingress was created: %s", describe(c))
	}
}

func TestMissingIngress(t *testing.T) {
	t.Parallel()
	_, _, r := newRouter(t, traffic)
	if err := r.SetWeight(t.Context(), 5); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("SetWeight without the stable ingress: %v, want not found", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	var c client.Client = kubetest.Uncalled{}
	kubetest.RefusesConfigs(t, func(cfg nginxingress.Config) error { _, err := nginxingress.New(cfg); return err }, map[string]nginxingress.Config{
		"no client":                    {Traffic: traffic},
		"no ingress":                   {Client: c, Traffic: canary.NGINXIngressTraffic{StableService: "a", CanaryService: "b"}},
		"same services":                {Client: c, Traffic: canary.NGINXIngressTraffic{Ingress: "i", StableService: "a", CanaryService: "a"}},
		"canary ingress is the stable": {Client: c, Traffic: canary.NGINXIngressTraffic{Ingress: "i", CanaryIngress: "i", StableService: "a", CanaryService: "b"}},
		"bad port":                     {Client: c, Traffic: canary.NGINXIngressTraffic{Ingress: "i", StableService: "a", CanaryService: "b", Port: -1}},
	})
}
