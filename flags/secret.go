package flags

import (
	"github.com/canary-dev/canary"
)

// resolveSecret reads the secret a reference names: "env:NAME" from the
// environment, "file:/path" from a file (surrounding white space trimmed,
// so a trailing newline does not count). An empty reference is "". Errors
// name the reference, never the value (code invalid).
func resolveSecret(what string, ref canary.SecretRef) (string, error) {
	if ref == "" {
		return "", nil
	}
	v, err := ref.Resolve()
	if err != nil {
		return "", canary.Errorf(canary.EINVALID, "%s: %v", what, err)
	}
	return v, nil
}
