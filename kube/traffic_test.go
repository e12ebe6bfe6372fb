package kube_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/kube/kubetest"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type configMapObject = kube.TrafficObject[corev1.ConfigMap, *corev1.ConfigMap]

// weightMap is a TrafficObject over a ConfigMap whose data "weight" is
// the canary's weight (absent: no canary): the smallest router, to test
// the cycle the routers share apart from any of them. build runs before
// each Build.
func weightMap(t *testing.T, owned bool, build func(*corev1.ConfigMap)) (*kubetest.Env, string, *configMapObject) {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	return env, ns, &configMapObject{Client: env.Client, Key: types.NamespacedName{Namespace: ns, Name: "weights"},
		Kind: "configmap", Desc: "configmap weights", Backend: "weight", Promoted: "v2", Owned: owned,
		Build: func(_ context.Context, cm *corev1.ConfigMap, w kube.Want) (*corev1.ConfigMap, error) {
			if cm == nil {
				cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weights"}}
			}
			if build != nil {
				build(cm)
			}
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data["weight"] = strconv.Itoa(w.Weight)
			if w.Remove {
				delete(cm.Data, "weight")
			}
			return cm, nil
		},
		Equal: func(a, b *corev1.ConfigMap) bool { return maps.Equal(a.Data, b.Data) },
		Splits: func(cm *corev1.ConfigMap) ([]kube.WeightSplit, error) {
			v, ok := cm.Data["weight"]
			if !ok {
				return []kube.WeightSplit{{Name: "data", Stable: 100, Canary: -1}}, nil
			}
			w, err := strconv.Atoi(v)
			return []kube.WeightSplit{{Name: "data", Stable: 100 - w, Canary: w}}, err
		}}
}

// TestTrafficObjectConflict: a write by someone else between the read and
// the update makes the update conflict; the call reads again, keeps the
// other write and succeeds.
func TestTrafficObjectConflict(t *testing.T) {
	t.Parallel()
	var (
		env    *kubetest.Env
		ns     string
		o      *configMapObject
		builds int
	)
	env, ns, o = weightMap(t, false, func(*corev1.ConfigMap) {
		builds++
		if builds == 1 {
			var cm corev1.ConfigMap
			if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "weights"}, &cm); err != nil {
				t.Error(err)
			}
			cm.Data = map[string]string{"owner": "sre"}
			if err := env.Client.Update(context.Background(), &cm); err != nil {
				t.Error(err)
			}
		}
	})
	if err := env.Client.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weights"}}); err != nil {
		t.Fatal(err)
	}
	if err := o.SetWeight(t.Context(), 10); err != nil {
		t.Fatalf("SetWeight after a conflict: %v", err)
	}
	// The conflicting build, the retry, the read-back check.
	if builds != 3 {
		t.Errorf("built %d times, want 3", builds)
	}
	cm, err := o.Get(t.Context())
	if err != nil || cm.Data["owner"] != "sre" || cm.Data["weight"] != "10" {
		t.Errorf("after the retry: %v, %v; want the other write kept and weight 10", cm.Data, err)
	}
}

// TestTrafficObjectReadBack: a state that building again would change
// (here a server-side change the router did not expect: every build
// appends) fails the read-back check instead of passing unnoticed.
func TestTrafficObjectReadBack(t *testing.T) {
	t.Parallel()
	env, ns, o := weightMap(t, false, func(cm *corev1.ConfigMap) {
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["builds"] += "x"
	})
	if err := env.Client.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weights"}}); err != nil {
		t.Fatal(err)
	}
	err := o.SetWeight(t.Context(), 10)
	if err == nil || !strings.Contains(err.Error(), "the configmap read back differs from the one written for 10%") {
		t.Fatalf("SetWeight with a build that never settles: %v", err)
	}
}

// TestTrafficObjectOwned: an Owned object is created by the first call,
// deleted by a rollback's RemoveCanary (replayed: nothing to delete),
// and one that Check refuses is neither written nor deleted.
func TestTrafficObjectOwned(t *testing.T) {
	t.Parallel()
	_, _, o := weightMap(t, true, nil)
	ctx := t.Context()
	if s, c, err := o.Weights(ctx); err != nil || s != 0 || c != -1 {
		t.Errorf("Weights without the object = %d, %d, %v; want canary -1", s, c, err)
	}
	if err := o.SetWeight(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if s, c, err := o.Weights(ctx); err != nil || s != 95 || c != 5 {
		t.Errorf("Weights = %d, %d, %v; want 95, 5", s, c, err)
	}
	for range 2 {
		if err := o.RemoveCanary(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if cm, err := o.Get(ctx); cm != nil || err != nil {
		t.Errorf("after RemoveCanary: %v, %v; want no object", cm, err)
	}

	// Someone else's configmap of that name.
	errNotOurs := errors.New("not ours")
	o.Check = func(cm *corev1.ConfigMap) error {
		if cm.Data["owner"] != "" {
			return errNotOurs
		}
		return nil
	}
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: o.Key.Namespace, Name: o.Key.Name},
		Data: map[string]string{"owner": "sre", "weight": "5"}}
	if err := o.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context) error{"SetWeight": func(c context.Context) error { return o.SetWeight(c, 10) },
		"RemoveCanary": o.RemoveCanary} {
		if err := call(ctx); !errors.Is(err, errNotOurs) {
			t.Errorf("%s on a refused object: %v, want the Check's error", name, err)
		}
	}
	var cm corev1.ConfigMap
	if err := o.Client.Get(ctx, o.Key, &cm); apierrors.IsNotFound(err) || cm.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the refused object was written or deleted: %v, %v", cm.Data, err)
	}
}
