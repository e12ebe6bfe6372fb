package flags

import (
	"fmt"
	"os"
	"strings"

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
	if err := ref.Validate(); err != nil {
		return "", canary.Errorf(canary.EINVALID, "%s: %v", what, err)
	}
	var v string
	if name, ok := strings.CutPrefix(string(ref), "env:"); ok {
		env, set := os.LookupEnv(name)
		if !set {
			return "", canary.Errorf(canary.EINVALID, "%s: environment variable %s is not set", what, name)
		}
		v = env
	} else {
		path := strings.TrimPrefix(string(ref), "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", canary.Errorf(canary.EINVALID, "%s: read %s: %v", what, path, unwrapPath(err))
		}
		v = string(b)
	}
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", canary.Errorf(canary.EINVALID, "%s: %s is empty", what, ref)
	case strings.ContainsAny(v, "\r\n\x00"):
		return "", canary.Errorf(canary.EINVALID, "%s: %s holds a line break inside the secret: it must be one line", what, ref)
	}
	return v, nil
}

// unwrapPath drops the path from an *os.PathError (the message names it).
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%v", pe.Err)
	}
	return err
}
