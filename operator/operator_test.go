package operator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The operator under test: one manager for the package on the shared API
// server; each test works in its own namespace and registers the fake
// metrics and the recording router of that namespace.
var op struct {
	once   sync.Once
	err    error
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	metrics map[string]canary.MetricSource
	routers map[string]*kubetest.Router
}

func stopOperator() {
	if op.cancel != nil {
		op.cancel()
		<-op.done
	}
}

// installCRD applies deploy/operator/crd.yaml to the API server.
func installCRD(env *kubetest.Env) error {
	_, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join("..", "deploy", "operator", "crd.yaml")}, ErrorIfPathMissing: true})
	return err
}

// operatorEnv returns the shared API server with the CRD installed and the
// operator running.
func operatorEnv(t *testing.T) *kubetest.Env {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{GatewayAPI: true})
	op.once.Do(func() {
		op.metrics = map[string]canary.MetricSource{}
		op.routers = map[string]*kubetest.Router{}
		if op.err = installCRD(env); op.err != nil {
			return
		}
		mgr, err := operator.NewManager(env.Config, operator.ManagerOptions{MetricsAddr: "0",
			Selector: "!" + testShard, Configure: inject()})
		if err != nil {
			op.err = err
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		op.cancel, op.done = cancel, make(chan struct{})
		go func() {
			defer close(op.done)
			if err := mgr.Start(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "operator manager:", err)
			}
		}()
	})
	if op.err != nil {
		t.Fatal(op.err)
	}
	return env
}

// testShard labels the rollouts of tests that run operators of their own;
// the package's operator leaves them alone.
const testShard = "canary.dev/test-shard"

// inject makes a reconciler use the fake metrics and recording router the
// fixture of a rollout's namespace registered.
func inject() func(*operator.Config) {
	return func(cfg *operator.Config) {
		cfg.CallTimeout = 10 * time.Second
		cfg.Router = func(ctx context.Context, p *canary.Plan) (canary.TrafficRouter, error) {
			op.mu.Lock()
			defer op.mu.Unlock()
			if r := op.routers[p.Metadata.Namespace]; r != nil {
				return r, nil
			}
			return operator.DefaultRouter(ctx, cfg.Client, p)
		}
		cfg.Metrics = func(ctx context.Context, p *canary.Plan) (canary.MetricSource, error) {
			op.mu.Lock()
			defer op.mu.Unlock()
			if m := op.metrics[p.Metadata.Namespace]; m != nil {
				return m, nil
			}
			return operator.DefaultMetrics(ctx, p)
		}
	}
}

// fixture is one namespace with an HTTPRoute splitting stable and canary
// Services, and the recorded route after each router call.
type fixture struct {
	env    *kubetest.Env
	ns     string
	mu     sync.Mutex
	routes []string
}

func newFixture(t *testing.T, svc kubetest.Service) *fixture {
	t.Helper()
	env := operatorEnv(t)
	f := &fixture{env: env, ns: env.Namespace(t)}
	for _, name := range []string{"recoveryos", "recoveryos-canary"} {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		if err := env.Client.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	port := gatewayv1.PortNumber(80)
	rt := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "recoveryos"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "recoveryos", Port: &port}}}}}},
		},
	}
	if err := env.Client.Create(t.Context(), rt); err != nil {
		t.Fatal(err)
	}
	p := &canary.Plan{Metadata: canary.Metadata{Namespace: f.ns}, Spec: canary.Spec{Traffic: canary.Traffic{GatewayAPI: &traffic}}}
	inner, err := operator.DefaultRouter(t.Context(), env.Client, p)
	if err != nil {
		t.Fatal(err)
	}
	rec := &kubetest.Router{Inner: inner, After: func(action string, err error) {
		if err == nil {
			f.mu.Lock()
			f.routes = append(f.routes, action+" "+f.weights(t))
			f.mu.Unlock()
		}
	}}
	canaryWeight := func(ctx context.Context) (int, error) {
		rt, err := f.route(ctx)
		if err != nil {
			return 0, err
		}
		for _, b := range rt.Spec.Rules[0].BackendRefs {
			if b.Name == "recoveryos-canary" && b.Weight != nil {
				return int(*b.Weight), nil
			}
		}
		return 0, nil
	}
	op.mu.Lock()
	op.routers[f.ns] = rec
	op.metrics[f.ns] = kubetest.Metrics(svc, canaryWeight)
	op.mu.Unlock()
	return f
}

var traffic = canary.GatewayAPITraffic{HTTPRoute: "recoveryos", StableService: "recoveryos", CanaryService: "recoveryos-canary", Port: 80}

func (f *fixture) route(ctx context.Context) (*gatewayv1.HTTPRoute, error) {
	var rt gatewayv1.HTTPRoute
	err := f.env.Client.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "recoveryos"}, &rt)
	return &rt, err
}

// weights shows the route's backendRefs: "recoveryos=95 recoveryos-canary=5".
func (f *fixture) weights(t *testing.T) string {
	rt, err := f.route(context.Background())
	if err != nil {
		t.Errorf("read route: %v", err)
		return ""
	}
	var parts []string
	for _, b := range rt.Spec.Rules[0].BackendRefs {
		w := "nil"
		if b.Weight != nil {
			w = fmt.Sprint(*b.Weight)
		}
		parts = append(parts, fmt.Sprintf("%s=%s", b.Name, w))
	}
	return strings.Join(parts, " ")
}

func (f *fixture) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.routes)
}

// examplePlan is examples/k8s/gatewayapi.yaml as a Rollout object, in ns,
// with edit applied to its spec.
func examplePlan(t *testing.T, file, ns string, edit func(spec map[string]any)) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	u := rolloutObject(t, string(data))
	u.SetNamespace(ns)
	if edit != nil {
		spec := u.Object["spec"].(map[string]any)
		edit(spec)
	}
	return u
}

// fast compresses the example's minutes to seconds.
func fast(hold string) func(spec map[string]any) {
	return func(spec map[string]any) {
		spec["steps"] = []any{
			map[string]any{"weight": int64(5), "hold": hold},
			map[string]any{"weight": int64(50), "hold": hold},
			map[string]any{"weight": int64(100)},
		}
		spec["analysis"] = map[string]any{"interval": "500ms", "minRequests": int64(10),
			"metrics": map[string]any{"prometheus": map[string]any{"address": "http://prometheus.invalid:9090"}}}
		spec["rules"] = []any{
			map[string]any{"metric": "latencyP95", "above": "600ms", "for": "1s", "action": "rollback-gradual"},
			map[string]any{"metric": "errorRate", "above": "5%", "for": "500ms", "action": "rollback-immediate", "urgency": "critical"},
		}
		spec["rollback"] = map[string]any{"drain": "500ms"}
	}
}

func (f *fixture) get(t *testing.T, name string) (*unstructured.Unstructured, operator.Status) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(operator.GVK)
	if err := f.env.Client.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	var s operator.Status
	if raw, ok := u.Object["status"]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("status: %v", err)
		}
	}
	return u, s
}

// waitFor polls the rollout until ok says so.
func (f *fixture) waitFor(t *testing.T, name string, timeout time.Duration, what string, ok func(*unstructured.Unstructured, operator.Status) bool) operator.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		u, s := f.get(t, name)
		if ok(u, s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, rollout %s is not %s: phase %q step %d weight %d: %s; routes %q", timeout, name, what, s.Phase, s.Step, s.Weight, s.Message, f.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func phaseIs(phases ...canary.Phase) func(*unstructured.Unstructured, operator.Status) bool {
	return func(_ *unstructured.Unstructured, s operator.Status) bool {
		return slices.Contains(phases, canary.Phase(s.Phase))
	}
}

func (f *fixture) create(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	if err := f.env.Client.Create(t.Context(), u); err != nil {
		t.Fatalf("apply the Rollout: %v", err)
	}
}

func TestRolloutOnCluster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		svc    kubetest.Service
		phase  canary.Phase
		routes []string
		reason string
	}{
		{"healthy canary is promoted", kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}, canary.PhaseSucceeded, []string{
			"w5 recoveryos=95 recoveryos-canary=5",
			"w50 recoveryos=50 recoveryos-canary=50",
			"w100 recoveryos=0 recoveryos-canary=100",
			"promote recoveryos=0 recoveryos-canary=100",
			"removeCanary recoveryos=0 recoveryos-canary=100",
		}, "Promoted"},
		// 20% 5xx breaks "errorRate above 5%": an immediate rollback.
		{"faulty canary rolls back", kubetest.Service{RPS: 400, CanaryErrors: 0.2, CanaryLatency: 0.2}, canary.PhaseRolledBack, []string{
			"w5 recoveryos=95 recoveryos-canary=5",
			"w0 recoveryos=100 recoveryos-canary=0",
			"removeCanary recoveryos=100",
		}, "RollbackStarted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.svc)
			f.create(t, examplePlan(t, "k8s/gatewayapi.yaml", f.ns, fast("1s")))
			s := f.waitFor(t, "recoveryos-gateway", 90*time.Second, "finished", phaseIs(canary.PhaseSucceeded, canary.PhaseRolledBack, canary.PhaseFailed, canary.PhasePaused))
			if canary.Phase(s.Phase) != tt.phase {
				t.Fatalf("phase %s (%s), want %s", s.Phase, s.Message, tt.phase)
			}
			if got := f.log(); !slices.Equal(got, tt.routes) {
				t.Errorf("route after each call:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.routes, "\n     "))
			}
			if s.State == nil || len(s.State.Outstanding) != 0 || s.State.Phase != canary.Phase(s.Phase) {
				t.Errorf("status.state = %+v", s.State)
			}
			if len(s.LastEvaluations) == 0 {
				t.Error("status.lastEvaluations is empty")
			}
			f.waitEvent(t, "recoveryos-gateway", tt.reason)
		})
	}
}

// waitEvent waits for a Kubernetes Event of reason about the rollout.
func (f *fixture) waitEvent(t *testing.T, name, reason string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var evs corev1.EventList
		if err := f.env.Client.List(t.Context(), &evs, client.InNamespace(f.ns)); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Rollout" && e.InvolvedObject.Name == name {
				if e.Reason == reason {
					return
				}
				seen = append(seen, e.Reason)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event %s for rollout %s; saw %v", reason, name, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestCommandAnnotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
	f.create(t, examplePlan(t, "k8s/gatewayapi.yaml", f.ns, fast("1h")))
	f.waitFor(t, "recoveryos-gateway", 30*time.Second, "at 5%", func(_ *unstructured.Unstructured, s operator.Status) bool { return s.Weight == 5 })

	annotate := func(cmd string) {
		t.Helper()
		// The operator updates the object too (status, a removed
		// annotation): read it again when the write loses that race.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			u, _ := f.get(t, "recoveryos-gateway")
			u.SetAnnotations(map[string]string{operator.AnnotationCommand: cmd})
			return f.env.Client.Update(t.Context(), u)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	annotate("pause: looking at a dashboard")
	f.waitFor(t, "recoveryos-gateway", 30*time.Second, "paused with the annotation removed", func(u *unstructured.Unstructured, s operator.Status) bool {
		_, has := u.GetAnnotations()[operator.AnnotationCommand]
		return s.Phase == string(canary.PhasePaused) && !has && s.LastCommand == ""
	})
	annotate("abort-immediate")
	f.waitFor(t, "recoveryos-gateway", 30*time.Second, "rolled back", phaseIs(canary.PhaseRolledBack))
	want := []string{
		"w5 recoveryos=95 recoveryos-canary=5",
		"w0 recoveryos=100 recoveryos-canary=0",
		"removeCanary recoveryos=100",
	}
	if got := f.log(); !slices.Equal(got, want) {
		t.Errorf("route after each call:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	// A refused command is dropped with a warning, not retried.
	annotate("promote")
	s := f.waitFor(t, "recoveryos-gateway", 30*time.Second, "without the annotation", func(u *unstructured.Unstructured, s operator.Status) bool {
		_, has := u.GetAnnotations()[operator.AnnotationCommand]
		return !has
	})
	if s.Phase != string(canary.PhaseRolledBack) {
		t.Errorf("phase after a refused promote: %s", s.Phase)
	}
	f.waitEvent(t, "recoveryos-gateway", "CommandRefused")
}

func TestInvalidSpec(t *testing.T) {
	t.Parallel()
	f := newFixture(t, kubetest.Service{RPS: 400})
	u := examplePlan(t, "k8s/gatewayapi.yaml", f.ns, func(spec map[string]any) {
		delete(spec, "steps")
		spec["rules"] = []any{map[string]any{"metric": "latencyP95", "above": "5%", "action": "explode"}}
	})
	f.create(t, u)
	s := f.waitFor(t, "recoveryos-gateway", 30*time.Second, "Invalid", func(_ *unstructured.Unstructured, s operator.Status) bool {
		return s.Phase == operator.PhaseInvalid
	})
	var valid *metav1.Condition
	for i := range s.Conditions {
		if s.Conditions[i].Type == operator.ConditionValid {
			valid = &s.Conditions[i]
		}
	}
	if valid == nil || valid.Status != metav1.ConditionFalse || !strings.Contains(valid.Message, "spec.steps") || !strings.Contains(valid.Message, "spec.rules[0]") {
		t.Fatalf("Valid condition = %+v; want False listing the plan's errors", valid)
	}
	if len(f.log()) != 0 {
		t.Errorf("an invalid rollout moved traffic: %v", f.log())
	}
	f.waitEvent(t, "recoveryos-gateway", "InvalidPlan")
}

// TestExamplesApplyUnchanged applies the plan files under examples/ as
// Rollouts (only the namespace set to the test's) and checks the operator
// reads each as a valid plan. recoveryos.yaml, the runbook for canary run
// and serve (kubectl cleanup commands, secrets from the environment), is
// refused by the operator: TestOperatorRefusesCommandsAndPodSecrets.
func TestExamplesApplyUnchanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
	for _, file := range []string{"k8s/gatewayapi.yaml", "k8s/helm.yaml", "local.yaml"} {
		u := examplePlan(t, file, f.ns, nil)
		if _, err := operator.PlanOf(u); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		f.create(t, u)
		f.waitFor(t, u.GetName(), 30*time.Second, "valid", func(_ *unstructured.Unstructured, s operator.Status) bool {
			for _, c := range s.Conditions {
				if c.Type == operator.ConditionValid && c.Status == metav1.ConditionTrue {
					return true
				}
			}
			return false
		})
	}
}

// TestCRD checks the CRD applies (again) cleanly and serves the printer
// columns and the status subresource.
func TestCRD(t *testing.T) {
	env := operatorEnv(t)
	if err := installCRD(env); err != nil {
		t.Fatalf("apply deploy/operator/crd.yaml: %v", err)
	}
	data, err := os.ReadFile(filepath.Join("..", "deploy", "operator", "crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jsonPath: .status.phase", "jsonPath: .status.step", "jsonPath: .status.weight", "jsonPath: .metadata.creationTimestamp", "status: {}"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("crd.yaml lacks %q", want)
		}
	}
}
