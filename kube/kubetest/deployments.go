package kubetest

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PlayDeploymentController stands in for the deployment controller and
// the kubelet, which envtest does not run: every interval it marks each
// Deployment of namespace ns as fully rolled out and ready at its
// spec.replicas. It stops when ctx is done. Tests that need readiness to
// lag (a canary that never becomes ready) simply don't call it, or filter
// with only (nil: every Deployment).
func PlayDeploymentController(ctx context.Context, c client.Client, ns string, interval time.Duration, only func(name string) bool) {
	go func() {
		for {
			markReady(ctx, c, ns, only)
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
}

func markReady(ctx context.Context, c client.Client, ns string, only func(string) bool) {
	var list appsv1.DeploymentList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return // the API server may be down on purpose; try again later
	}
	for i := range list.Items {
		d := &list.Items[i]
		if only != nil && !only(d.Name) {
			continue
		}
		n := int32(1)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		s := d.Status
		if s.ObservedGeneration == d.Generation && s.Replicas == n && s.ReadyReplicas == n && s.UpdatedReplicas == n && s.AvailableReplicas == n {
			continue
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, ReadyReplicas: n,
			UpdatedReplicas: n, AvailableReplicas: n}
		_ = c.Status().Update(ctx, d) // a conflict is retried on the next round
	}
}

// CreateDeployment creates Deployment name in ns running image on n pods.
// Its pods carry app=app and track=name, so one Service selecting app
// spreads requests over every Deployment created with the same app.
func CreateDeployment(t testing.TB, c client.Client, ns, app, name, image string, n int32) {
	t.Helper()
	labels := map[string]string{"app": app, "track": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
}
