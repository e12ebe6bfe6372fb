package operator_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"go.yaml.in/yaml/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// operatorUser is the identity deploy/operator/rbac.yaml grants.
const operatorUser = "system:serviceaccount:canary-system:canary-operator"

var rbacOnce struct {
	sync.Once
	err error
}

// applyManifests creates deploy/operator's namespace and RBAC objects.
func applyManifests(t *testing.T, env *kubetest.Env) {
	t.Helper()
	rbacOnce.Do(func() {
		for _, file := range []string{"namespace.yaml", "rbac.yaml"} {
			data, err := os.ReadFile(filepath.Join("..", "deploy", "operator", file))
			if err != nil {
				rbacOnce.err = err
				return
			}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			for {
				var doc map[string]any
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					rbacOnce.err = err
					return
				}
				u := &unstructured.Unstructured{Object: doc}
				if err := env.Client.Create(context.Background(), u); err != nil && !apierrors.IsAlreadyExists(err) {
					rbacOnce.err = err
					return
				}
			}
		}
	})
	if rbacOnce.err != nil {
		t.Fatalf("apply deploy/operator manifests: %v", rbacOnce.err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

type instance struct {
	mgr     ctrl.Manager
	cancel  context.CancelFunc
	done    chan struct{}
	metrics string
	probes  string
}

// startInstance runs one operator replica as the RBAC's service account,
// electing a leader with the Lease id in canary-system.
func startInstance(t *testing.T, env *kubetest.Env, ns, id string) *instance {
	t.Helper()
	rc := rest.CopyConfig(env.Config)
	rc.Impersonate = rest.ImpersonationConfig{UserName: operatorUser}
	in := &instance{metrics: freeAddr(t), probes: freeAddr(t), done: make(chan struct{})}
	var err error
	in.mgr, err = operator.NewManager(rc, operator.ManagerOptions{
		MetricsAddr: in.metrics, ProbeAddr: in.probes,
		LeaderElection: true, LeaderElectionID: id, LeaderElectionNamespace: "canary-system",
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		Namespace: ns, Selector: testShard + "=failover", Configure: inject(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() {
		defer close(in.done)
		if err := in.mgr.Start(ctx); err != nil {
			t.Errorf("operator instance: %v", err)
		}
	}()
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	in.cancel()
	<-in.done
}

func elected(in *instance) bool {
	select {
	case <-in.mgr.Elected():
		return true
	default:
		return false
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestFailover runs two replicas as deploy/operator's service account (so
// with its RBAC only): one leads and acts, the other waits; when the
// leader stops mid-rollout the other takes the Lease over and finishes
// the rollout from the state in the status, without repeating an action.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time leader election (about 10s)")
	}
	t.Parallel()
	f := newFixture(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
	applyManifests(t, f.env)
	id := "canary-operator-" + f.ns
	a := startInstance(t, f.env, f.ns, id)
	canarytest.WaitUntil(t, 20*time.Second, "elected", func() bool { return elected(a) })
	b := startInstance(t, f.env, f.ns, id)
	canarytest.WaitUntil(t, 10*time.Second, "serving probes", func() bool {
		resp, err := http.Get("http://" + b.probes + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	if c := get(t, "http://"+b.probes+"/healthz"); c != 200 {
		t.Errorf("standby /healthz: %d", c)
	}

	u := examplePlan(t, "k8s/gatewayapi.yaml", f.ns, fast("2s"))
	u.SetLabels(map[string]string{testShard: "failover"})
	f.create(t, u)
	f.waitFor(t, u.GetName(), 30*time.Second, "at 5%", func(_ *unstructured.Unstructured, s operator.Status) bool { return s.Weight == 5 })
	if elected(b) {
		t.Fatal("the standby was elected while the leader runs")
	}
	a.stop()
	canarytest.WaitUntil(t, 15*time.Second, "taken over by the standby", func() bool { return elected(b) })
	s := f.waitFor(t, u.GetName(), 60*time.Second, "finished", phaseIs(canary.PhaseSucceeded, canary.PhaseRolledBack, canary.PhaseFailed, canary.PhasePaused))
	if s.Phase != string(canary.PhaseSucceeded) {
		t.Fatalf("phase %s (%s), want Succeeded", s.Phase, s.Message)
	}
	want := []string{
		"w5 recoveryos=95 recoveryos-canary=5",
		"w50 recoveryos=50 recoveryos-canary=50",
		"w100 recoveryos=0 recoveryos-canary=100",
		"promote recoveryos=0 recoveryos-canary=100",
		"removeCanary recoveryos=0 recoveryos-canary=100",
	}
	if got := f.log(); !slices.Equal(got, want) {
		t.Errorf("route after each call:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	f.waitEvent(t, u.GetName(), "Promoted")
	metrics := scrape(t, "http://"+b.metrics+"/metrics")
	for _, want := range []string{
		`canary_operator_rollout_weight{namespace="` + f.ns + `",rollout="recoveryos-gateway"} 100`,
		`canary_operator_rollout_phase{namespace="` + f.ns + `",phase="Succeeded",rollout="recoveryos-gateway"} 1`,
		"controller_runtime_reconcile_total",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the new leader's /metrics lacks %s", want)
		}
	}

	// Least privilege: the operator's identity may not delete rollouts.
	rc := rest.CopyConfig(f.env.Config)
	rc.Impersonate = rest.ImpersonationConfig{UserName: operatorUser}
	c, err := client.New(rc, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), u); !apierrors.IsForbidden(err) {
		t.Errorf("the operator's service account deleting a rollout: %v, want forbidden", err)
	}
}
