package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/secrets"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretResolver reads a plan's secret references for the rollouts of
// one namespace: secret:NAME/KEY is KEY of the Secret NAME in Namespace,
// read from the API server at every call (a direct get: no list, no
// watch, no cache, so a rotated Secret is picked up and the operator
// needs only get on secrets). env:NAME and file:/path are refused: they
// would read the operator pod's own environment and files (its service
// account token among them).
//
// Errors name the reference, never the value, and say what to do.
type SecretResolver struct {
	// Reader gets Secrets: an uncached client (the manager's APIReader).
	// Required for secret:NAME/KEY.
	Reader client.Reader
	// Namespace is the rollout's namespace; references never leave it.
	Namespace string
	// Timeout bounds one read. Default: 10s.
	Timeout time.Duration
	// Redactor, when set, is given every value read.
	Redactor *secrets.Redactor
}

// kubernetesOnly is the operator's secret-source policy.
var kubernetesOnly = &secrets.Policy{Kubernetes: true}

// Resolve returns the value ref names; ctx, with Timeout, bounds the read.
func (s SecretResolver) Resolve(ctx context.Context, ref canary.SecretRef) (string, error) {
	if ref == "" {
		return "", canary.Errorf(canary.EINVALID, "no secret reference configured")
	}
	if err := kubernetesOnly.Check(ref); err != nil {
		return "", canary.Errorf(canary.EINVALID, "secret %v", err)
	}
	name, key, _ := ref.KubernetesSecret()
	if s.Reader == nil {
		return "", canary.Errorf(canary.EINTERNAL, "secret %s: the operator has no client to read Secrets with", ref)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var sec corev1.Secret
	err := s.Reader.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: name}, &sec)
	switch {
	case apierrors.IsNotFound(err):
		return "", canary.Errorf(canary.ENOTFOUND, "secret %s: there is no Secret %q in namespace %s: create it (kubectl -n %s create secret generic %s --from-literal=%s=…) or fix the reference",
			ref, name, s.Namespace, s.Namespace, name, key)
	case apierrors.IsForbidden(err):
		return "", canary.Errorf(canary.EUNAVAILABLE, "secret %s: the operator may not read Secret %q in namespace %s: grant get on secrets to its service account (deploy/operator/rbac.yaml)",
			ref, name, s.Namespace)
	case err != nil:
		return "", canary.Errorf(canary.EUNAVAILABLE, "secret %s: read Secret %q in namespace %s: %v", ref, name, s.Namespace, err)
	}
	b, found := sec.Data[key]
	if !found {
		keys := make([]string, 0, len(sec.Data))
		for k := range sec.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", canary.Errorf(canary.ENOTFOUND, "secret %s: Secret %q in namespace %s has no key %q (its keys: %s): add the key or fix the reference",
			ref, name, s.Namespace, key, strings.Join(keys, ", "))
	}
	v := strings.TrimSpace(string(b))
	switch {
	case v == "":
		return "", canary.Errorf(canary.EINVALID, "secret %s is empty: put the value in key %q of Secret %q", ref, key, name)
	case strings.ContainsAny(v, "\r\n\x00"):
		return "", canary.Errorf(canary.EINVALID, "secret %s holds a line break: it must be one line", ref)
	}
	s.Redactor.Add(v)
	return v, nil
}

// String describes the resolver, never a secret.
func (s SecretResolver) String() string {
	return fmt.Sprintf("secrets of namespace %s", s.Namespace)
}
