package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"
	"github.com/canary-dev/canary/promql/promqltest"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/releaseutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// e2eUser is deploy/operator's service account: rbac.yaml and
// rbac-helm.yaml bind it.
const e2eUser = "system:serviceaccount:canary-system:canary-operator"

// healthyService serves the built-in proxy's metric names (the queries
// promql uses by default) for a service that answers 100 stable and 20
// canary requests a second, 0.1% 5xx, 90% of them within 50ms and all
// within 100ms: what a Prometheus scraping canary's proxy would hold for
// a healthy canary. Counters grow with the real time since it started.
func healthyService(t *testing.T) string {
	t.Helper()
	start := time.Now()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		el := time.Since(start).Seconds()
		var b strings.Builder
		b.WriteString("# TYPE canary_proxy_requests_total counter\n")
		for track, rps := range map[string]float64{"stable": 100, "canary": 20} {
			n := rps * el
			fmt.Fprintf(&b, "canary_proxy_requests_total{track=%q,code=\"2xx\"} %g\n", track, n*0.999)
			fmt.Fprintf(&b, "canary_proxy_requests_total{track=%q,code=\"5xx\"} %g\n", track, n*0.001)
		}
		b.WriteString("# TYPE canary_proxy_request_duration_seconds histogram\n")
		for track, rps := range map[string]float64{"stable": 100, "canary": 20} {
			n := rps * el
			fmt.Fprintf(&b, "canary_proxy_request_duration_seconds_bucket{track=%q,le=\"0.05\"} %g\n", track, n*0.9)
			fmt.Fprintf(&b, "canary_proxy_request_duration_seconds_bucket{track=%q,le=\"0.1\"} %g\n", track, n)
			fmt.Fprintf(&b, "canary_proxy_request_duration_seconds_bucket{track=%q,le=\"+Inf\"} %g\n", track, n)
			fmt.Fprintf(&b, "canary_proxy_request_duration_seconds_sum{track=%q} %g\n", track, n*0.04)
			fmt.Fprintf(&b, "canary_proxy_request_duration_seconds_count{track=%q} %g\n", track, n)
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, b.String())
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// applyFiles creates the objects of deploy/operator's files.
func applyFiles(t *testing.T, env *kubetest.Env, files ...string) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "operator", f))
		if err != nil {
			t.Fatal(err)
		}
		dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(m) == 0 {
				continue
			}
			if err := env.Client.Create(t.Context(), &unstructured.Unstructured{Object: m}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("%s: create %v %v: %v", f, m["kind"], m["metadata"], err)
			}
		}
	}
}

// impersonatingKubeconfig writes env's kubeconfig acting as user (the
// kubeconfig's "as:"), as an operator pod's service account would be.
func impersonatingKubeconfig(t *testing.T, env *kubetest.Env, user string) string {
	t.Helper()
	cfg, err := clientcmd.Load(env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOperatorHelmEndToEnd runs `canary operator` (the command, with
// --helm-chart-dir, --leader-elect and --namespace, acting as
// deploy/operator's service account bound to exactly rbac.yaml and
// rbac-helm.yaml) against a real API server and a real Prometheus, and
// applies examples/k8s/helm.yaml with its durations compressed to seconds
// and its Prometheus address pointed at the test's: the Helm SDK in the
// operator installs and upgrades the canary release through 5, 10, 25, 50
// and 100%, promotes it into the main release and uninstalls it, judging
// each step on Prometheus's numbers. What is asserted is the releases'
// Helm history and the Rollout's status.
func TestOperatorHelmEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end with an API server, Prometheus and Helm: about 30s")
	}
	env, _ := kubeEnv(t, true)
	promqltest.Binary(t)
	applyFiles(t, env, "namespace.yaml", "rbac.yaml", "rbac-helm.yaml")
	ns := env.Namespace(t)

	// The main release, as the runbook assumes it is installed.
	ac, err := helm.ActionConfig(env.Config, ns, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(filepath.Join(root, "examples", "k8s", "helm", "recoveryos"))
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(ac)
	in.ReleaseName, in.Namespace = "recoveryos", ns
	if _, err := in.Run(ch, map[string]any{"image": map[string]any{"tag": "v0.9.0"}}); err != nil {
		t.Fatalf("helm install recoveryos: %v", err)
	}

	prom := promqltest.Start(t, promqltest.Options{Targets: []string{healthyService(t)}})
	prom.WaitUp(30 * time.Second)

	probes := freeLocalAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	cmd := newOperatorCmd()
	cmd.SetArgs([]string{"--kubeconfig", impersonatingKubeconfig(t, env, e2eUser), "--metrics-bind-address", "0",
		"--health-probe-bind-address", probes, "--leader-elect", "--leader-election-namespace", "canary-system",
		"--leader-election-id", "e2e-" + ns, "--namespace", ns, "--helm-chart-dir", root})
	logs := &canarytest.Buffer{}
	cmd.SetOut(io.Discard)
	cmd.SetErr(logs)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("canary operator: %v", err)
		}
		if t.Failed() {
			t.Logf("operator log:\n%s", logs.String())
		}
	}()

	u := e2eRollout(t, ns, prom.URL())
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	var status map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(operator.GVK)
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: u.GetName()}, got); err != nil {
			t.Fatal(err)
		}
		status, _ = got.Object["status"].(map[string]any)
		phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
		if canary.Phase(phase).Terminal() || phase == string(canary.PhasePaused) {
			if canary.Phase(phase) != canary.PhaseSucceeded {
				t.Fatalf("phase %s, want Succeeded; status: %v", phase, status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout has not finished; status: %v", status)
		}
		time.Sleep(200 * time.Millisecond)
	}

	wantCanary := []string{
		"1 superseded canary weight 5%",
		"2 superseded canary weight 10%",
		"3 superseded canary weight 25%",
		"4 superseded canary weight 50%",
		"5 uninstalled canary removed",
	}
	if got := e2eHistory(t, ac, "recoveryos-canary"); !slices.Equal(got, wantCanary) {
		t.Errorf("helm history recoveryos-canary:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantCanary, "\n     "))
	}
	wantMain := []string{"1 superseded Install complete", "2 deployed canary: promoted v1.0.0-elite from recoveryos-canary"}
	got := e2eHistory(t, ac, "recoveryos")
	if !slices.EqualFunc(got, wantMain, strings.HasPrefix) {
		t.Errorf("helm history recoveryos:\ngot  %s\nwant %s…", strings.Join(got, "\n     "), strings.Join(wantMain, "…\n     "))
	}
	// The steps were judged on Prometheus's numbers, not on silence.
	evals, _ := status["lastEvaluations"].([]any)
	judged := len(evals) > 0
	for _, e := range evals {
		if n, _, _ := unstructured.NestedInt64(e.(map[string]any), "samples"); n < 20 {
			judged = false
		}
	}
	if !judged {
		t.Errorf("status.lastEvaluations %v: want every rule judged on at least 20 canary requests from Prometheus", evals)
	}
}

// e2eRollout is examples/k8s/helm.yaml in ns with minutes made seconds
// and its Prometheus at prom.
func e2eRollout(t *testing.T, ns, prom string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "k8s", "helm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	spec := u.Object["spec"].(map[string]any)
	steps := spec["steps"].([]any)
	for _, s := range steps {
		if m := s.(map[string]any); m["hold"] != nil {
			m["hold"] = "2s"
		}
	}
	spec["analysis"] = map[string]any{"interval": "1s", "minRequests": int64(20),
		"metrics": map[string]any{"prometheus": map[string]any{"address": prom, "timeout": "2s"}}}
	spec["rules"] = []any{
		map[string]any{"metric": "latencyP95", "above": "600ms", "window": "10s", "for": "2s", "action": "rollback-gradual", "urgency": "medium"},
		map[string]any{"metric": "errorRate", "above": "5%", "window": "10s", "for": "2s", "action": "rollback-immediate", "urgency": "critical"},
	}
	spec["rollback"] = map[string]any{"drain": "1s"}
	return u
}

// e2eHistory is `helm history name`: "2 superseded canary weight 10%".
func e2eHistory(t *testing.T, ac *action.Configuration, name string) []string {
	t.Helper()
	h, err := action.NewHistory(ac).Run(name)
	if err != nil {
		t.Fatalf("helm history %s: %v", name, err)
	}
	releaseutil.SortByRevision(h)
	var out []string
	for _, r := range h {
		out = append(out, fmt.Sprintf("%d %s %s", r.Version, r.Info.Status, r.Info.Description))
	}
	return out
}

func freeLocalAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
