package operator

import (
	"errors"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/egress"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/secrets"
)

// policyDefaults fills the owner's policy: no commands, the default
// outbound policy, a fresh Redactor, notifications through the policy.
func (cfg *Config) policyDefaults() {
	if cfg.Exec == nil {
		cfg.Exec = &checks.ExecPolicy{}
	}
	if cfg.Egress == nil {
		cfg.Egress = &egress.Policy{}
	}
	if cfg.Redactor == nil {
		cfg.Redactor = &secrets.Redactor{}
	}
	if cfg.NotifyHTTPClient == nil {
		cfg.NotifyHTTPClient = cfg.Egress.Client()
	}
}

// admit refuses a plan that asks for what the operator's owner does not
// allow: commands not in --allow-commands, secret references other than
// Kubernetes Secrets of the rollout's namespace. Every field is named at
// once; the Rollout becomes Invalid with them.
func (r *Reconciler) admit(p *canary.Plan) error {
	var list plan.ErrorList
	for _, err := range []error{r.cfg.Exec.CheckPlan(p), kubernetesOnly.CheckPlan(p)} {
		var l plan.ErrorList
		if errors.As(err, &l) {
			list = append(list, l...)
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list
}
