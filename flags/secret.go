package flags

import (
	"context"

	"github.com/canary-dev/canary"
)

// SecretResolver returns the value a secret reference names; errors name
// the reference, never the value. canary operator's resolver also reads
// secret:NAME/KEY from a Kubernetes Secret.
type SecretResolver func(ctx context.Context, ref canary.SecretRef) (string, error)

// resolveSecret reads the secret a reference names with resolve, by
// default canary.SecretRef.Resolve: "env:NAME" from the environment,
// "file:/path" from a file (surrounding white space trimmed, so a trailing
// newline does not count). An empty reference is "". Errors name the
// reference, never the value (code invalid unless resolve gave a code).
func resolveSecret(ctx context.Context, what string, ref canary.SecretRef, resolve SecretResolver) (string, error) {
	if ref == "" {
		return "", nil
	}
	if resolve == nil {
		resolve = func(_ context.Context, ref canary.SecretRef) (string, error) { return ref.Resolve() }
	}
	v, err := resolve(ctx, ref)
	if err != nil {
		if canary.ErrorCode(err) != canary.EINTERNAL {
			return "", canary.Errorf(canary.ErrorCode(err), "%s: %v", what, err)
		}
		return "", canary.Errorf(canary.EINVALID, "%s: %v", what, err)
	}
	return v, nil
}
