package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/egress"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	provs "github.com/canary-dev/canary/providers"
	"github.com/canary-dev/canary/secrets"
	"github.com/spf13/pflag"
)

// policyFlags are the owner's limits on the plans a server runs (SECURITY.md):
// which executables hooks may run, where secrets may be read from, which
// destinations plans may reach and where the built-in proxy may listen.
type policyFlags struct {
	allowCommands []string
	secretEnv     []string
	secretDirs    []string
	egressAllow   []string
	egressDeny    []string
	proxyListen   []string
}

// addExecEgressFlags registers the flags serve and the operator share.
func addExecEgressFlags(fs *pflag.FlagSet, f *policyFlags) {
	fs.StringSliceVar(&f.allowCommands, "allow-commands", nil,
		"executables plans' command hooks and cleanup may run, as absolute paths (default: none, commands are refused); run with PATH="+checks.DefaultPATH+", a private HOME and LANG=C.UTF-8 only")
	fs.StringSliceVar(&f.egressAllow, "egress-allow", nil,
		"networks (10.0.0.0/8), addresses and host names (*.example.com) plans may reach (default: any but link-local and cloud metadata addresses)")
	fs.StringSliceVar(&f.egressDeny, "egress-deny", nil, "networks, addresses and host names plans may never reach")
}

// addServePolicyFlags registers serve's policy flags.
func addServePolicyFlags(fs *pflag.FlagSet, f *policyFlags) {
	addExecEgressFlags(fs, f)
	fs.StringSliceVar(&f.secretEnv, "secret-env", []string{secrets.DefaultEnvPrefix},
		"prefixes of the environment variables env:NAME references may read")
	fs.StringSliceVar(&f.secretDirs, "secret-dir", nil, "directories whose files file:/path references may read (default: none)")
	fs.StringSliceVar(&f.proxyListen, "proxy-listen", []string{"127.0.0.0/8", "::1/128"},
		"networks plans' built-in proxy may listen on (0.0.0.0/0 for all IPv4 interfaces)")
}

// hostPolicy is what the owner allows plans, built from policyFlags. A
// nil *hostPolicy allows everything: canary run, whose plans are the
// user's own.
type hostPolicy struct {
	exec    *checks.ExecPolicy
	secrets *secrets.Policy
	egress  *egress.Policy
	listen  egress.Listen
	redact  *secrets.Redactor
}

// build checks the flags and returns the policy.
func (f policyFlags) build() (*hostPolicy, error) {
	h := &hostPolicy{redact: &secrets.Redactor{}}
	allowed, err := checks.ParseAllowed(strings.Join(f.allowCommands, ","))
	if err != nil {
		return nil, usageError{fmt.Errorf("--allow-commands: %w", err)}
	}
	h.exec = &checks.ExecPolicy{Allowed: allowed}
	h.egress = &egress.Policy{}
	if h.egress.Allow, h.egress.AllowHosts, err = egress.ParseList(strings.Join(f.egressAllow, ",")); err != nil {
		return nil, usageError{fmt.Errorf("--egress-allow: %w", err)}
	}
	if h.egress.Deny, h.egress.DenyHosts, err = egress.ParseList(strings.Join(f.egressDeny, ",")); err != nil {
		return nil, usageError{fmt.Errorf("--egress-deny: %w", err)}
	}
	nets, hosts, err := egress.ParseList(strings.Join(f.proxyListen, ","))
	if err == nil && len(hosts) > 0 {
		err = fmt.Errorf("%q is not a network: write 127.0.0.0/8, 10.0.0.0/8 or 0.0.0.0/0", hosts[0])
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("--proxy-listen: %w", err)}
	}
	h.listen.Allow = nets
	h.secrets = &secrets.Policy{Redactor: h.redact}
	for _, p := range f.secretEnv {
		if p = strings.TrimSpace(p); p != "" {
			h.secrets.EnvPrefixes = append(h.secrets.EnvPrefixes, p)
		}
	}
	for _, d := range f.secretDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, usageError{fmt.Errorf("--secret-dir %s: %w", d, err)}
		}
		h.secrets.Dirs = append(h.secrets.Dirs, abs)
	}
	return h, nil
}

// admit refuses a plan that asks for what the owner does not allow,
// naming every field at once (a plan.ErrorList: an invalid plan). The
// proxy's upstreams are checked here, when the plan is applied or its
// providers built, not on every proxied request.
func (h *hostPolicy) admit(ctx context.Context, p *canary.Plan) error {
	if h == nil {
		return nil
	}
	var list plan.ErrorList
	add := func(path string, err error) {
		var l plan.ErrorList
		switch {
		case err == nil:
		case errors.As(err, &l):
			list = append(list, l...)
		default:
			list = append(list, &plan.Error{Path: path, Msg: err.Error()})
		}
	}
	add("spec", h.exec.CheckPlan(p))
	add("spec", h.secrets.CheckPlan(p))
	if px := p.Spec.Traffic.Proxy; px != nil {
		listen := px.Listen
		if listen == "" {
			listen = defaultProxyListen
		}
		add("spec.traffic.proxy.listen", h.listen.Check(ctx, listen))
		if px.Admin != "" {
			add("spec.traffic.proxy.admin", h.listen.Check(ctx, px.Admin))
		}
		add("spec.traffic.proxy.stable", h.egress.CheckURL(ctx, px.Stable, nil))
		add("spec.traffic.proxy.canary", h.egress.CheckURL(ctx, px.Canary, nil))
	}
	if len(list) == 0 {
		return nil
	}
	return list
}

// checks is the runner of pre-checks, hooks and approvals under h.
func (h *hostPolicy) checks() *checks.Runner {
	if h == nil {
		return &checks.Runner{}
	}
	return &checks.Runner{Exec: h.exec, Redact: h.redact.Redact, HTTPClient: h.egress.Client(), Secrets: h.secrets.ResolveContext}
}

// limit puts h's policy on env: its secret sources and outbound policy
// (nil h, canary run: env: and file: anything, any destination).
func (h *hostPolicy) limit(env *provs.Env) {
	if h != nil {
		env.Secrets, env.Egress = h.secrets.ResolveContext, h.egress
	}
}

// notifyOptions are the notification senders' options under h.
func (h *hostPolicy) notifyOptions(baseURL string) notify.Options {
	o := notify.Options{BaseURL: baseURL}
	if h != nil {
		o.HTTPClient, o.Secrets, o.Dial = h.egress.Client(), h.secrets.Resolve, h.egress.DialContext
	}
	return o
}
