package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/canary-dev/canary/api"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/client"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/operator"
	"github.com/spf13/cobra"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

// rollouts is what the reading and control commands need: canary serve's
// API (*client.Client) or Rollout resources on a Kubernetes API server,
// reconciled by canary operator (kubeRollouts).
type rollouts interface {
	List(ctx context.Context, opt api.ListOptions) ([]api.Rollout, error)
	Get(ctx context.Context, name string) (api.Rollout, error)
	AllEvents(ctx context.Context, name string, after int64) ([]canary.Event, error)
	Control(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error)
	Notifications(ctx context.Context, name string, opt api.NotificationOptions) (api.NotificationPage, error)
}

var (
	_ rollouts = (*client.Client)(nil)
	_ rollouts = (*kubeRollouts)(nil)
)

// kubeFlags select Rollout resources instead of canary serve.
type kubeFlags struct {
	on                  bool
	kubeconfig, context string
	wait                time.Duration
}

// addKubeTargetFlags adds --kube, --kubeconfig and --context to c.
func addKubeTargetFlags(c *cobra.Command, f *kubeFlags) {
	c.Flags().BoolVar(&f.on, "kube", false, "act on Rollout resources through the Kubernetes API server (canary operator) instead of canary serve")
	c.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (implies --kube; default $KUBECONFIG, ~/.kube/config)")
	c.Flags().StringVar(&f.context, "context", "", "kubeconfig context (implies --kube; default the current one)")
}

// selected reports whether the flags ask for the Kubernetes API server.
func (f *kubeFlags) selected() bool { return f.on || f.kubeconfig != "" || f.context != "" }

// kubeRollouts reads Rollout resources and gives commands to canary
// operator through the canary.dev/command annotation.
type kubeRollouts struct {
	c ctrlclient.Client
	// namespace limits List ("" lists every namespace).
	namespace string
	// wait bounds how long Control waits for the operator to take a
	// command; poll is how often it looks.
	wait, poll time.Duration
}

// newKubeRollouts connects to the API server the flags name.
func newKubeRollouts(f *kubeFlags, namespace string) (*kubeRollouts, error) {
	rc, err := kube.RESTConfig(f.kubeconfig, f.context)
	if err != nil {
		return nil, usageError{fmt.Errorf("--kube: %w", err)}
	}
	c, err := kube.NewClient(rc)
	if err != nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "kubernetes client: %v", err)
	}
	return &kubeRollouts{c: c, namespace: namespace, wait: f.wait, poll: 200 * time.Millisecond}, nil
}

func newRolloutObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(operator.GVK)
	return u
}

// List lists the Rollouts of the namespace (or every namespace), sorted
// by namespace and name as the API server returns them.
func (k *kubeRollouts) List(ctx context.Context, opt api.ListOptions) ([]api.Rollout, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(operator.GVK.GroupVersion().WithKind(operator.GVK.Kind + "List"))
	var opts []ctrlclient.ListOption
	if k.namespace != "" {
		opts = append(opts, ctrlclient.InNamespace(k.namespace))
	}
	if err := k.c.List(ctx, list, opts...); err != nil {
		return nil, kubeError(err, "list rollouts")
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []api.Rollout
	for i := range list.Items {
		r := rolloutOf(&list.Items[i])
		if opt.Phase != "" && r.State.Phase != opt.Phase {
			continue
		}
		if out = append(out, r); len(out) == limit {
			break
		}
	}
	return out, nil
}

// Get reads one Rollout by "namespace/name".
func (k *kubeRollouts) Get(ctx context.Context, name string) (api.Rollout, error) {
	u, err := k.get(ctx, name)
	if err != nil {
		return api.Rollout{}, err
	}
	return rolloutOf(u), nil
}

func (k *kubeRollouts) get(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	ns, n := client.SplitName(name)
	u := newRolloutObject()
	if err := k.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: n}, u); err != nil {
		return nil, kubeError(err, "rollout "+name)
	}
	return u, nil
}

// AllEvents returns the events the status keeps (the last few; the full
// history is in the Kubernetes Events: kubectl describe rollout NAME).
func (k *kubeRollouts) AllEvents(ctx context.Context, name string, after int64) ([]canary.Event, error) {
	u, err := k.get(ctx, name)
	if err != nil {
		return nil, err
	}
	st := statusOf(u)
	var out []canary.Event
	for _, e := range st.RecentEvents {
		if e.Seq <= after {
			continue
		}
		out = append(out, canary.Event{Seq: e.Seq, Time: e.Time.Time, Rollout: name, Type: e.Type, Message: e.Message})
	}
	return out, nil
}

// Notifications are not kept by canary serve's outbox on Kubernetes.
func (k *kubeRollouts) Notifications(context.Context, string, api.NotificationOptions) (api.NotificationPage, error) {
	return api.NotificationPage{}, errors.New("kept by canary operator as Kubernetes Events: kubectl describe rollout NAME")
}

// Control gives cmd to canary operator: it writes the command annotation
// (refused while another command is waiting), then waits until the
// operator has taken it (the annotation is gone) and tells whether it was
// applied or refused, as canary serve does.
func (k *kubeRollouts) Control(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error) {
	text := operator.CommandAnnotation(cmd)
	// Fenced by resourceVersion: a command written by someone else in
	// between is not overwritten. A conflict from anything else (the
	// operator writing the status) reads the rollout again and retries.
	var u *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if u, err = k.get(ctx, name); err != nil {
			return err
		}
		if waiting := u.GetAnnotations()[operator.AnnotationCommand]; waiting != "" {
			return canary.Errorf(canary.ECONFLICT,
				"rollout %s: the command %q is still waiting for canary operator; wait for it, or remove it with kubectl annotate rollout -n %s %s %s-",
				name, waiting, u.GetNamespace(), u.GetName(), operator.AnnotationCommand)
		}
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[operator.AnnotationCommand] = text
		u.SetAnnotations(ann)
		return k.c.Update(ctx, u)
	})
	switch {
	case apierrors.IsConflict(err):
		return api.Rollout{}, canary.Errorf(canary.ECONFLICT, "rollout %s kept changing while the command was being written: run it again", name)
	case err != nil:
		if ce := (*canary.Error)(nil); errors.As(err, &ce) {
			return api.Rollout{}, err
		}
		return api.Rollout{}, kubeError(err, "write the command annotation on rollout "+name)
	}

	deadline := time.Now().Add(k.wait)
	for {
		u, err = k.get(ctx, name)
		if err != nil {
			return api.Rollout{}, err
		}
		if u.GetAnnotations()[operator.AnnotationCommand] != text {
			break
		}
		if time.Now().After(deadline) {
			return api.Rollout{}, canary.Errorf(canary.EUNAVAILABLE,
				"rollout %s: canary operator has not taken the command %q within %s; it stays in the annotation %s and is applied when the operator runs (is it? kubectl get pods -A -l app.kubernetes.io/name=canary-operator)",
				name, text, k.wait, operator.AnnotationCommand)
		}
		select {
		case <-ctx.Done():
			return api.Rollout{}, ctx.Err()
		case <-time.After(k.poll):
		}
	}
	st := statusOf(u)
	if msg, ok := strings.CutPrefix(st.Message, fmt.Sprintf("command %q refused: ", text)); ok {
		return api.Rollout{}, canary.Errorf(canary.ECONFLICT, "%s", msg)
	}
	return rolloutOf(u), nil
}

// statusOf decodes a Rollout's status; an unreadable one is empty (the
// operator starts such a rollout over too).
func statusOf(u *unstructured.Unstructured) operator.Status {
	var st operator.Status
	if err := operator.DecodeStatus(u, &st); err != nil {
		return operator.Status{}
	}
	return st
}

// rolloutOf is a Rollout resource as the commands show a rollout of
// canary serve. A spec that is not a valid plan shows as phase Invalid,
// with the reason as its message.
func rolloutOf(u *unstructured.Unstructured) api.Rollout {
	st := statusOf(u)
	r := api.Rollout{
		Name:            u.GetNamespace() + "/" + u.GetName(),
		Generation:      int(u.GetGeneration()),
		CreatedAt:       u.GetCreationTimestamp().Time,
		UpdatedAt:       u.GetCreationTimestamp().Time,
		LastEvaluations: st.LastEvaluations,
	}
	if p, err := operator.PlanOf(u); err == nil {
		r.Plan = p
	}
	if st.State != nil {
		r.State = *st.State
	} else {
		r.State = canary.State{Name: u.GetName(), Phase: canary.PhasePending}
		if st.Phase != "" {
			r.State.Phase = canary.Phase(st.Phase)
		}
		if v, ok, _ := unstructured.NestedString(u.Object, "spec", "version"); ok {
			r.State.Version = v
		}
	}
	if n := len(st.RecentEvents); n > 0 {
		r.UpdatedAt = st.RecentEvents[n-1].Time.Time
	}
	return r
}

// kubeError turns an API server error into the commands' error codes.
func kubeError(err error, what string) error {
	switch {
	case apierrors.IsNotFound(err):
		return canary.Errorf(canary.ENOTFOUND, "%s: not found (kubectl get rollouts -A lists them)", what)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return canary.Errorf(canary.EINVALID, "%s: %v", what, err)
	case apierrors.IsConflict(err):
		return canary.Errorf(canary.ECONFLICT, "%s: %v", what, err)
	}
	return canary.Errorf(canary.EUNAVAILABLE, "%s: %v", what, err)
}
