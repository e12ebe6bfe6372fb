package operator_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/egress"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// The metrics API's credential and a value in the wrong key: neither may
// show in the status, the Events or the logs.
const (
	metricsAuth = "Bearer mtr-s3cret-4444"
	wrongKey    = "wr0ng-key-5555"
)

// metricsAPI is the test's metrics API on 127.0.0.1: a healthy service
// per track, to the credential only; it records the Authorization
// headers it got.
type metricsAPI struct {
	*httptest.Server
	mu    sync.Mutex
	auths map[string]int
}

func newMetricsAPI(t *testing.T) *metricsAPI {
	m := &metricsAPI{auths: map[string]int{}}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.auths[r.Header.Get("Authorization")]++
		m.mu.Unlock()
		if r.Header.Get("Authorization") != metricsAuth {
			http.Error(w, `{"error": "unauthorized"}`, http.StatusUnauthorized)
			return
		}
		v := map[string]float64{"latency": 0.2, "errorRate": 0.001, "requestRate": 400, "requests": 1000}[r.URL.Query().Get("q")]
		_ = json.NewEncoder(w).Encode(map[string]any{"value": v})
	}))
	t.Cleanup(m.Close)
	return m
}

// TestMetricSecretFromKubernetes: a Rollout whose web metric source sends
// secretHeaders {Authorization: secret:metrics-api/authorization}, under
// an operator whose egress policy allows 127.0.0.0/8 only. Without the
// Secret, and then with the Secret lacking the key, the rollout does not
// start: Ready is False naming the reference and what to do, never a
// value. Once the key is there the operator reads it, the metrics API
// receives the header's value on every request, the rollout is promoted,
// and the value shows in neither the status, the Events nor the logs.
func TestMetricSecretFromKubernetes(t *testing.T) {
	t.Parallel()
	api := newMetricsAPI(t)
	f := newFixture(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
	u := examplePlan(t, "k8s/gatewayapi.yaml", f.ns, func(spec map[string]any) {
		fast("1s")(spec)
		spec["analysis"].(map[string]any)["metrics"] = map[string]any{"web": map[string]any{
			"url": api.URL + "/m?q={{.Query}}&track={{.Track}}&window={{.Window}}", "jq": ".value",
			"secretHeaders": map[string]any{"Authorization": "secret:metrics-api/authorization"}}}
	})
	u.SetLabels(map[string]string{testShard: "direct"})
	f.create(t, u)
	// The logs at the operator's most verbose --log-level (debug: slog's
	// LevelDebug, logr's V(1) to V(4)); client-go's V(8) dumps every
	// response body, a Secret's too.
	var logs lockedLog
	ctx := ctrl.LoggerInto(t.Context(), funcr.New(logs.add, funcr.Options{Verbosity: 4}))
	g := &notifyRig{f: f, clock: canarytest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)), rec: &recorder{},
		key: types.NamespacedName{Namespace: f.ns, Name: u.GetName()}}
	r := g.reconciler(t, func(c *operator.Config) {
		c.Metrics = nil // the plan's own source, not the fixture's fake
		c.Egress = &egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		c.Secrets = f.env.Client
	})

	for _, tt := range []struct {
		data map[string]string // the Secret's (nil: none)
		want []string
	}{
		{nil, []string{"secret:metrics-api/authorization", `there is no Secret "metrics-api" in namespace ` + f.ns, "kubectl -n " + f.ns + " create secret generic metrics-api"}},
		{map[string]string{"token": wrongKey}, []string{"secret:metrics-api/authorization", `has no key "authorization"`, "add the key"}},
	} {
		if tt.data != nil {
			createSecret(t, f, "metrics-api", tt.data)
		}
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: g.key}); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		_, s := f.get(t, g.key.Name)
		ready := condition(s, operator.ConditionReady)
		for _, w := range tt.want {
			if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, w) {
				t.Errorf("Secret %v: Ready = %+v; want False saying %q", tt.data, ready, w)
			}
		}
		if ev := g.rec.with("ProvidersUnavailable"); len(ev) == 0 || !strings.HasPrefix(ev[len(ev)-1], "Warning ") || !strings.Contains(ev[len(ev)-1], tt.want[1]) {
			t.Errorf("Secret %v: ProvidersUnavailable events = %q, want a Warning saying %q", tt.data, ev, tt.want[1])
		}
		if s.Weight != 0 || s.State != nil {
			t.Errorf("Secret %v: the rollout started without its credential: weight %d", tt.data, s.Weight)
		}
	}
	if n := len(api.auths); n != 0 {
		t.Errorf("the metrics API was called %d times without the credential", n)
	}

	sec := &corev1.Secret{}
	if err := f.env.Client.Get(t.Context(), types.NamespacedName{Namespace: f.ns, Name: "metrics-api"}, sec); err != nil {
		t.Fatal(err)
	}
	sec.StringData = map[string]string{"authorization": metricsAuth}
	if err := f.env.Client.Update(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	s := g.runCtx(t, ctx, r, "done", func(s operator.Status) bool { return s.State != nil && s.State.Phase.Terminal() })
	if s.Phase != string(canary.PhaseSucceeded) {
		t.Errorf("ended %s (%s), want Succeeded; events:\n%s", s.Phase, s.Message, g.rec.all())
	}
	api.mu.Lock()
	if len(api.auths) != 1 || api.auths[metricsAuth] < 8 {
		t.Errorf("the metrics API got Authorization headers %d distinct, %d with the Secret's value; want only the value, on every query", len(api.auths), api.auths[metricsAuth])
	}
	api.mu.Unlock()
	u, _ = f.get(t, g.key.Name)
	status, _ := json.Marshal(u.Object["status"])
	for _, secret := range []string{metricsAuth, "mtr-s3cret-4444", wrongKey} {
		for where, text := range map[string]string{"the status": string(status), "an Event": g.rec.all(), "the log": logs.String()} {
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, secret) {
					t.Errorf("%s holds a secret: %.2000s", where, line)
				}
			}
		}
	}
	if !strings.Contains(logs.String(), "reconciled") {
		t.Errorf("no log captured (the check above would prove nothing):\n%s", logs.String())
	}
}

func createSecret(t *testing.T, f *fixture, name string, data map[string]string) {
	t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, StringData: data}
	if err := f.env.Client.Create(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
}

// lockedLog collects a funcr logger's lines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) add(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(prefix + " " + args + "\n")
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
