package operator

import (
	"context"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// access is what a traffic provider needs on one kind of object in a
// rollout's namespace, and where to grant it.
type access struct {
	// Provider names the plan's provider in messages: "traffic.helm".
	Provider string
	// Group and Resource are the kind: "apps", "deployments".
	Group, Resource string
	// Verbs are all the verbs the provider uses on it.
	Verbs []string
	// Why says what the provider does with them.
	Why string
	// Hint says where the permissions are granted.
	Hint string
}

// resource is "deployments.apps", or "secrets" for the core group.
func (a access) resource() string {
	if a.Group == "" {
		return a.Resource
	}
	return a.Resource + "." + a.Group
}

// check asks the API server (one SelfSubjectAccessReview per verb) whether
// c's identity may use every verb of a in namespace ns, and returns an
// error naming the verbs it lacks and where to grant them.
func (a access) check(ctx context.Context, c client.Client, ns string) error {
	var missing []string
	for _, verb := range a.Verbs {
		rev := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: a.Group, Resource: a.Resource}}}
		if err := c.Create(ctx, rev); err != nil {
			return fmt.Errorf("%s: check the operator's access to %s in namespace %s: %w", a.Provider, a.resource(), ns, err)
		}
		if !rev.Status.Allowed {
			missing = append(missing, verb)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the operator may not %s %s in namespace %s, %s (it needs %s); %s",
			a.Provider, strings.Join(missing, ", "), a.resource(), ns, a.Why, strings.Join(a.Verbs, ", "), a.Hint)
	}
	return nil
}

// forbidden adds hint to an error the API server refused (Forbidden), so
// the Event and the condition say where to grant the permission; other
// errors pass unchanged.
func forbidden(err error, hint string) error {
	if err == nil {
		return nil
	}
	if apierrors.IsForbidden(err) || strings.Contains(err.Error(), " is forbidden: ") {
		return fmt.Errorf("%w (%s)", err, hint)
	}
	return err
}
