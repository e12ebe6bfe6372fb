package checks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
)

// DefaultPATH is the PATH of the commands canary serve and canary operator
// run, and where a command's name is looked up.
const DefaultPATH = "/usr/local/bin:/usr/bin:/bin"

// ExecPolicy is what a server's owner lets plans' commands (hooks and
// cleanup) do. With a policy, a command runs only when its executable,
// looked up on PATH, is one of Allowed, with a minimal environment (PATH,
// HOME set to a private temporary directory removed afterwards, its
// working directory, and LANG=C.UTF-8) instead of the server's own. A nil
// *ExecPolicy runs any command with the process environment (canary run:
// the plan is the user's own).
type ExecPolicy struct {
	// Allowed are the executables commands may run, as absolute paths
	// (--allow-commands). A command matches when its name resolves on PATH
	// to one of them, the same file through symbolic links included.
	// Empty: no command runs.
	Allowed []string
	// PATH is the commands' PATH and where their names are looked up.
	// Default: DefaultPATH.
	PATH string
}

func (e *ExecPolicy) path() string {
	if e.PATH == "" {
		return DefaultPATH
	}
	return e.PATH
}

// Env is the environment of a command run under the policy, home its
// private HOME.
func (e *ExecPolicy) Env(home string) []string {
	return []string{"PATH=" + e.path(), "HOME=" + home, "LANG=C.UTF-8"}
}

// Resolve returns the absolute executable name runs, or an error saying
// why it may not run and which flag allows it.
func (e *ExecPolicy) Resolve(name string) (string, error) {
	if len(e.Allowed) == 0 {
		return "", fmt.Errorf("command %s: this server runs no commands from plans (start it with --allow-commands=/path/to/%s to allow that executable, or use an http hook)",
			name, filepath.Base(name))
	}
	exe, err := e.lookPath(name)
	if err != nil {
		return "", err
	}
	real, _ := filepath.EvalSymlinks(exe)
	for _, a := range e.Allowed {
		a = filepath.Clean(a)
		if a == exe {
			return exe, nil
		}
		if ra, err := filepath.EvalSymlinks(a); err == nil && real != "" && ra == real {
			return exe, nil
		}
	}
	return "", fmt.Errorf("command %s (%s) is not in this server's --allow-commands (%s): add the executable there, or use an http hook",
		name, exe, strings.Join(e.Allowed, ","))
}

// lookPath finds name on PATH (a name with a slash must be absolute).
func (e *ExecPolicy) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("command %s: write an absolute path or a name looked up on %s", name, e.path())
		}
		return filepath.Clean(name), nil
	}
	for _, dir := range filepath.SplitList(e.path()) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s is not found on the PATH commands run with (%s): write its absolute path", name, e.path())
}

// CheckPlan refuses, each by its field, the plan's hooks and cleanup
// commands the policy would not run, as a plan.ErrorList (an invalid
// plan). A nil policy allows all.
func (e *ExecPolicy) CheckPlan(p *canary.Plan) error {
	if e == nil {
		return nil
	}
	var list plan.ErrorList
	check := func(field string, hooks []canary.Hook) {
		for i, h := range hooks {
			if len(h.Command) == 0 {
				continue
			}
			if _, err := e.Resolve(h.Command[0]); err != nil {
				list = append(list, &plan.Error{Path: fmt.Sprintf("spec.%s[%d].command", field, i), Msg: err.Error()})
			}
		}
	}
	check("hooks", p.Spec.Hooks)
	check("cleanup", p.Spec.Cleanup)
	if len(list) == 0 {
		return nil
	}
	return list
}

// ParseAllowed reads --allow-commands: comma-separated absolute paths.
func ParseAllowed(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !filepath.IsAbs(f) {
			return nil, fmt.Errorf("%q is not an absolute path: --allow-commands takes executables such as /usr/bin/kubectl", f)
		}
		if !slices.Contains(out, filepath.Clean(f)) {
			out = append(out, filepath.Clean(f))
		}
	}
	return out, nil
}
