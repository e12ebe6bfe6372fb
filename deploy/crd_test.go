package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	crdFile      = "operator/crd.yaml"
	chartCRDFile = "chart/canary/crds/rollouts.canary.dev.yaml"
)

// strict is kubectl's --validate=strict: unknown and duplicate fields are
// errors instead of being dropped with a warning.
var strict = client.FieldValidation(metav1.FieldValidationStrict)

// TestCRDUpToDate regenerates the CRD with controller-gen (built through
// the Go module proxy, hence not with -short) and compares it with both
// checked-in copies.
func TestCRDUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds controller-gen")
	}
	t0 := time.Now()
	want, err := exec.Command("bash", "../hack/gen-crd.sh", "-stdout").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("hack/gen-crd.sh: %v\n%s", err, stderr)
	}
	t.Logf("hack/gen-crd.sh -stdout took %s", time.Since(t0).Round(time.Millisecond))
	for _, file := range []string{crdFile, chartCRDFile} {
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("deploy/%s differs from what controller-gen generates: run hack/gen-crd.sh and commit the result", file)
		}
	}
}

// crdEnv is the shared API server with the generated CRD installed.
func crdEnv(t *testing.T) *kubetest.Env {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{})
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{crdFile}, ErrorIfPathMissing: true}); err != nil {
		t.Fatalf("install deploy/%s: %v", crdFile, err)
	}
	return env
}

// example reads a plan file as a Rollout object in namespace ns.
func example(t *testing.T, file, ns string) *unstructured.Unstructured {
	t.Helper()
	objs := readObjects(t, file)
	if len(objs) != 1 {
		t.Fatalf("%s: got %d objects, want one plan", file, len(objs))
	}
	u := objs[0]
	u.SetNamespace(ns)
	return u
}

func getRollout(t *testing.T, env *kubetest.Env, ns, name string) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(operator.GVK)
	if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, got); err != nil {
		t.Fatal(err)
	}
	return got
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExamplesRoundTrip applies every plan under examples/ with strict
// field validation (nothing unknown to the schema, nothing of the wrong
// type) and checks what the API server gives back is the same spec and
// decodes to the same plan: the structural schema prunes nothing. Each
// example goes into a namespace of its own, as several use one name.
func TestExamplesRoundTrip(t *testing.T) {
	env := crdEnv(t)
	files, _ := filepath.Glob("../examples/*.yaml")
	k8s, _ := filepath.Glob("../examples/k8s/*.yaml")
	files = append(files, k8s...)
	if len(files) < 4 {
		t.Fatalf("got examples %v, want at least 4", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ns := env.Namespace(t) // examples may share a name
			u := example(t, file, ns)
			want, err := operator.PlanOf(u)
			if err != nil {
				t.Fatalf("the example is not a valid plan: %v", err)
			}
			sent := jsonOf(t, u.Object["spec"])
			if err := env.Client.Create(t.Context(), u.DeepCopy(), strict); err != nil {
				t.Fatalf("kubectl apply --validate=strict: %v", err)
			}
			got := getRollout(t, env, ns, u.GetName())
			if g := jsonOf(t, got.Object["spec"]); g != sent {
				t.Errorf("spec read back differs from the file's:\ngot  %s\nwant %s", g, sent)
			}
			p, err := operator.PlanOf(got)
			if err != nil {
				t.Fatalf("decode the stored Rollout: %v", err)
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("stored plan differs:\ngot  %+v\nwant %+v", p.Spec, want.Spec)
			}
		})
	}
}

// TestStrictFieldValidation checks the schema knows the plan's fields:
// a misspelled field or a wrong type is rejected with strict validation,
// and dropped (pruned) without it, while a number threshold (a valid plan
// value) is accepted.
func TestStrictFieldValidation(t *testing.T) {
	env := crdEnv(t)
	ns := env.Namespace(t)
	base := example(t, "../examples/k8s/gatewayapi.yaml", ns)
	rules := func(u *unstructured.Unstructured) []any { return u.Object["spec"].(map[string]any)["rules"].([]any) }

	tests := []struct {
		name string
		edit func(u *unstructured.Unstructured)
		want string // the error; "" for accepted
	}{
		{"misspelled rule field", func(u *unstructured.Unstructured) {
			r := rules(u)[0].(map[string]any)
			r["actoin"] = r["action"]
		}, `unknown field "spec.rules[0].actoin"`},
		{"misspelled spec field", func(u *unstructured.Unstructured) {
			u.Object["spec"].(map[string]any)["stepz"] = []any{}
		}, `unknown field "spec.stepz"`},
		{"field of the wrong type", func(u *unstructured.Unstructured) {
			u.Object["spec"].(map[string]any)["steps"].([]any)[0].(map[string]any)["weight"] = "ten"
		}, `spec.steps[0].weight`},
		{"a threshold written as a number", func(u *unstructured.Unstructured) {
			u.Object["spec"].(map[string]any)["rules"] = append(rules(u),
				map[string]any{"metric": "requestRate", "below": int64(5), "action": "pause"})
		}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := base.DeepCopy()
			u.SetName(base.GetName() + "-" + string(rune('a'+i)))
			tt.edit(u)
			err := env.Client.Create(t.Context(), u, strict)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				if _, err := operator.PlanOf(getRollout(t, env, ns, u.GetName())); err != nil {
					t.Errorf("stored Rollout is not a valid plan: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("create with strict validation: got %v, want an error with %q", err, tt.want)
			}
		})
	}

	// Without strict validation (kubectl's default warns), an unknown
	// field is pruned, not kept.
	u := base.DeepCopy()
	u.SetName(base.GetName() + "-pruned")
	u.Object["spec"].(map[string]any)["stepz"] = []any{}
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if got := getRollout(t, env, ns, u.GetName()); nested(got, "spec", "stepz") != nil {
		t.Errorf("unknown field spec.stepz was kept: %v", nested(got, "spec", "stepz"))
	}
}

// TestStatusAndPrinterColumns writes a full operator status (engine state
// included) through the status subresource, checks it reads back unchanged,
// and checks kubectl get's table shows phase, step, weight and age.
func TestStatusAndPrinterColumns(t *testing.T) {
	env := crdEnv(t)
	ns := env.Namespace(t)
	u := example(t, "../examples/k8s/gatewayapi.yaml", ns)
	if err := env.Client.Create(t.Context(), u, strict); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	burn := 0.4
	st := operator.Status{
		Phase: string(canary.PhaseProgressing), Step: 2, Weight: 25, Message: "step 2: weight 25%", ObservedGeneration: 1,
		WakeAt:     &metav1.Time{Time: at.Add(30 * time.Second)},
		Conditions: []metav1.Condition{{Type: operator.ConditionValid, Status: metav1.ConditionTrue, Reason: "ValidPlan", Message: "ok", LastTransitionTime: metav1.Time{Time: at}}},
		LastEvaluations: []canary.Evaluation{{Rule: "latencyP95 > 600ms for 5m", Metric: canary.MetricLatencyP95, Window: time.Minute,
			Value: 0.42, Samples: 900, Threshold: 0.6, Op: "above", Verdict: canary.VerdictPass, Stable: &burn}},
		RecentEvents: []operator.EventSummary{{Seq: 7, Time: metav1.Time{Time: at}, Type: canary.EvStepStarted, Message: "step 2"}},
		State: &canary.State{Name: u.GetName(), Version: "v1.0.0", Phase: canary.PhaseProgressing, Step: 1, Weight: 25,
			StepStartedAt: at, LastEvalAt: at, NextEvalAt: at.Add(30 * time.Second), JudgedTime: 90 * time.Second, CreatedAt: at,
			Rules: []canary.RuleState{{Name: "errorRate", Verdict: canary.VerdictBreach, ActiveAt: at, Value: 0.02, Samples: 500,
				Baseline: &canary.BaselineEvidence{Counts: []canary.ErrorCounts{{Since: at, CanaryRequests: 10, StableRequests: 90}},
					Intervals: []canary.IntervalValues{{At: at, Canary: 0.3, Stable: 0.25}}}}},
			Outstanding:  []canary.Action{{ID: 3, Kind: canary.ActSetWeight, Weight: 25}},
			BaselineBurn: &burn, LastValues: map[string]float64{"errorRate": 0.001}},
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(jsonOf(t, st)), &m); err != nil {
		t.Fatal(err)
	}
	u = getRollout(t, env, ns, u.GetName())
	u.Object["status"] = m
	if err := env.Client.Status().Update(t.Context(), u, strict); err != nil {
		t.Fatalf("write the status: %v", err)
	}
	var got operator.Status
	if err := json.Unmarshal([]byte(jsonOf(t, getRollout(t, env, ns, u.GetName()).Object["status"])), &got); err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, got), jsonOf(t, st); g != w {
		t.Errorf("status read back differs:\ngot  %s\nwant %s", g, w)
	}

	// kubectl get rollouts asks the API server for a table.
	cfg := rest.CopyConfig(env.Config)
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body, err := rc.Get().AbsPath("/apis/canary.dev/v1alpha1/namespaces", ns, "rollouts").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(t.Context())
	if err != nil {
		t.Fatalf("get rollouts as a table: %v", err)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatalf("get rollouts as a table: %v", err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	if want := []string{"Name", "Phase", "Step", "Weight", "Age"}; !reflect.DeepEqual(cols, want) {
		t.Errorf("kubectl get columns: got %v, want %v", cols, want)
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) < 4 {
		t.Fatalf("got rows %+v, want one rollout", table.Rows)
	}
	if got, want := jsonOf(t, table.Rows[0].Cells[:4]), jsonOf(t, []any{u.GetName(), "Progressing", 2, 25}); got != want {
		t.Errorf("kubectl get row: got %s, want %s", got, want)
	}
}
