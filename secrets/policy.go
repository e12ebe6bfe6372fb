// Package secrets is the owner's policy on where a plan's secret
// references (canary.SecretRef: env:NAME, file:/path, secret:NAME/KEY) may
// be read from under canary serve and canary operator, and the Redactor
// that keeps resolved values out of what viewers see.
//
// canary run reads any reference (the plan is the user's own); serve reads
// only environment variables with an allowed prefix (DefaultEnvPrefix
// unless the owner says otherwise) and files in allowed directories; the
// operator reads only Kubernetes Secrets in the rollout's own namespace. A
// plan naming anything else is refused when it is applied (CheckPlan), and
// Resolve refuses it again when it is read.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/canary-dev/canary"
)

// DefaultEnvPrefix is the environment variable prefix canary serve reads
// secrets from unless started with --secret-env.
const DefaultEnvPrefix = "CANARY_SECRET_"

// Policy says which secret references may be read. The zero value allows
// none; a nil *Policy allows every env: and file: reference (canary run).
type Policy struct {
	// EnvPrefixes are the prefixes of the environment variables env:NAME
	// may name (e.g. DefaultEnvPrefix). Empty: no environment variable.
	EnvPrefixes []string
	// Dirs are the directories whose files (at any depth, symbolic links
	// resolved) file:/path may name. Empty: no file.
	Dirs []string
	// Kubernetes allows secret:NAME/KEY (a Secret in the rollout's own
	// namespace: the operator) and nothing else.
	Kubernetes bool
	// Redactor, when set, is given every value Resolve returns.
	Redactor *Redactor
}

// Check says whether ref may be read; the error names the reference
// (never a value), what the server allows and how to fix it.
func (p *Policy) Check(ref canary.SecretRef) error {
	if p == nil || ref == "" {
		return nil
	}
	if err := ref.Validate(); err != nil {
		return err
	}
	_, _, kube := ref.KubernetesSecret()
	switch {
	case p.Kubernetes && kube:
		return nil
	case p.Kubernetes:
		return fmt.Errorf("%s: canary operator reads only Kubernetes Secrets in the rollout's own namespace, never its own environment or files: write secret:NAME/KEY (kubectl create secret generic NAME --from-literal=KEY=…)", ref)
	case kube:
		return fmt.Errorf("%s is a Kubernetes Secret, which only canary operator reads: write env:%sNAME or file:/path in a --secret-dir", ref, p.examplePrefix())
	}
	if name, ok := strings.CutPrefix(string(ref), "env:"); ok {
		return p.checkEnv(ref, name)
	}
	return p.checkFile(ref, strings.TrimPrefix(string(ref), "file:"))
}

func (p *Policy) checkEnv(ref canary.SecretRef, name string) error {
	for _, pre := range p.EnvPrefixes {
		if strings.HasPrefix(name, pre) && len(name) > len(pre) {
			return nil
		}
	}
	if len(p.EnvPrefixes) == 0 {
		return fmt.Errorf("%s: this server reads no secrets from its environment (start it with --secret-env PREFIX), or use file:/path in a --secret-dir", ref)
	}
	return fmt.Errorf("%s: this server reads secrets only from environment variables starting with %s: rename the variable (e.g. env:%s%s) or start the server with --secret-env naming its prefix",
		ref, strings.Join(p.EnvPrefixes, " or "), p.examplePrefix(), strings.TrimPrefix(name, "_"))
}

func (p *Policy) checkFile(ref canary.SecretRef, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: write an absolute path, in a --secret-dir", ref)
	}
	if p.inDirs(filepath.Clean(path)) {
		return nil
	}
	if len(p.Dirs) == 0 {
		return fmt.Errorf("%s: this server reads no secret files (start it with --secret-dir DIR), or use env:%sNAME", ref, p.examplePrefix())
	}
	return fmt.Errorf("%s: this server reads secret files only in %s: move the file there or start the server with --secret-dir naming its directory",
		ref, strings.Join(p.Dirs, ", "))
}

// inDirs reports whether the clean absolute path is below one of Dirs.
func (p *Policy) inDirs(path string) bool {
	for _, d := range p.Dirs {
		rel, err := filepath.Rel(filepath.Clean(d), path)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (p *Policy) examplePrefix() string {
	if len(p.EnvPrefixes) > 0 {
		return p.EnvPrefixes[0]
	}
	return DefaultEnvPrefix
}

// ResolveContext is Resolve for the resolvers that take a context (env:
// and file: reads do not wait on the network, so ctx is not consulted).
func (p *Policy) ResolveContext(_ context.Context, ref canary.SecretRef) (string, error) {
	return p.Resolve(ref)
}

// Resolve reads ref if Check allows it (env: and file: as
// canary.SecretRef.Resolve reads them; a file's symbolic links must stay
// in the allowed directories), and gives the value to the Redactor.
// secret:NAME/KEY is not read here: the operator reads those.
func (p *Policy) Resolve(ref canary.SecretRef) (string, error) {
	if err := p.Check(ref); err != nil {
		return "", canary.Errorf(canary.EINVALID, "secret %v", err)
	}
	if path, ok := strings.CutPrefix(string(ref), "file:"); ok && p != nil {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			var unwrapped error = err
			if u := errors.Unwrap(err); u != nil {
				unwrapped = u
			}
			return "", canary.Errorf(canary.EINVALID, "secret %s: %v", ref, unwrapped)
		}
		if !p.inRealDirs(real) {
			return "", canary.Errorf(canary.EINVALID, "secret %s: the file is a link leading out of the allowed --secret-dir", ref)
		}
	}
	v, err := ref.Resolve()
	if err == nil && p != nil {
		p.Redactor.Add(v)
	}
	return v, err
}

// inRealDirs is inDirs with the directories' own links resolved.
func (p *Policy) inRealDirs(real string) bool {
	q := Policy{}
	for _, d := range p.Dirs {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			q.Dirs = append(q.Dirs, r)
		}
	}
	return q.inDirs(real)
}
