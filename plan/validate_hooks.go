package plan

import (
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strings"

	canary "github.com/canary-dev/canary"
	"github.com/itchyny/gojq"
)

// hookPoints are the values of a hook's at.
var hookPoints = []string{canary.HookBeforeRollout, canary.HookAfterStep, canary.HookOnRollback, canary.HookPromote, canary.HookAfterPromotion}

var httpMethodRE = regexp.MustCompile(`^[A-Z]+$`)

func (v *validator) preChecks(checks []canary.PreCheck, path string) {
	seen := v.names("pre-check")
	for i, c := range checks {
		cpath := fmt.Sprintf("%s[%d]", path, i)
		if v.required(cpath+".name", c.Name, "name the check, e.g. staging healthy") {
			seen.check(cpath, cpath+".name", c.Name)
		}
		v.url(cpath+".url", c.URL, "the URL to GET, e.g. http://staging.recoveryos.com/elite/metrics")
		if c.JQ != "" {
			if err := compileJQ(c.JQ); err != nil {
				v.add(cpath+".jq", "%q is not a valid jq expression (%v): fix it, e.g. .avg_success_rate >= 0.99", c.JQ, err)
			}
		}
		v.nonNegative(cpath+".timeout", c.Timeout)
	}
}

func compileJQ(expr string) error {
	q, err := gojq.Parse(expr)
	if err != nil {
		return err
	}
	_, err = gojq.Compile(q)
	return err
}

// hooks checks hooks (cleanup=false) or cleanup entries (cleanup=true).
func (v *validator) hooks(hooks []canary.Hook, path string, cleanup bool) {
	what := "hook"
	if cleanup {
		what = "cleanup"
	}
	seen := v.names(what)
	for i, h := range hooks {
		hpath := fmt.Sprintf("%s[%d]", path, i)
		if v.required(hpath+".name", h.Name, "name the "+what+" entry, e.g. remove canary config") {
			seen.check(hpath, hpath+".name", h.Name)
		}
		switch {
		case cleanup && h.At != "":
			v.add(hpath+".at", "cleanup entries run at the end of the rollout and take no at: remove it (or move the entry to hooks)")
		case cleanup:
		case h.At == "":
			v.add(hpath+".at", "required: write when the hook runs: %s", orList(hookPoints))
		case !isOneOf(h.At, hookPoints):
			v.add(hpath+".at", "%q is not a hook point: write %s", h.At, orList(hookPoints))
		}
		v.hookAction(&h, hpath)
		v.nonNegative(hpath+".timeout", h.Timeout)
	}
}

func (v *validator) hookAction(h *canary.Hook, path string) {
	switch {
	case h.HTTP == nil && len(h.Command) == 0:
		v.add(path, "set exactly one of http (a request) or command (a program and its arguments)")
	case h.HTTP != nil && len(h.Command) > 0:
		v.add(path+".command", "only one of http and command may be set, but http is set too: remove one of them")
	}
	if h.HTTP != nil {
		v.url(path+".http.url", h.HTTP.URL, "the URL to call, e.g. http://deploy.example.com/hooks/canary")
		if m := h.HTTP.Method; m != "" && !httpMethodRE.MatchString(m) {
			v.add(path+".http.method", "%q is not an HTTP method: write it in capitals, e.g. POST", m)
		}
	}
	if len(h.Command) > 0 && strings.TrimSpace(h.Command[0]) == "" {
		v.add(path+".command[0]", "required: the first item is the program to run (no shell), e.g. kubectl")
	}
	v.hookEnv(h, path)
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// hookEnv checks a command hook's env: variable names and references.
func (v *validator) hookEnv(h *canary.Hook, path string) {
	if len(h.Env) > 0 && len(h.Command) == 0 {
		v.add(path+".env", "only command hooks take env: remove it, or send the value in the http hook's body")
		return
	}
	names := make([]string, 0, len(h.Env))
	for name := range h.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		epath := path + ".env." + name
		switch {
		case !envNameRE.MatchString(name):
			v.add(epath, "%q is not an environment variable name: use letters, digits and _, e.g. API_TOKEN", name)
		case name == "PATH" || name == "HOME" || name == "LANG":
			v.add(epath, "%s is set by the host that runs the command: use another name", name)
		default:
			v.secret(epath, h.Env[name])
		}
	}
}

func (v *validator) notify(audiences []canary.Audience, path string) {
	seen := v.names("audience")
	for i := range audiences {
		a := &audiences[i]
		apath := fmt.Sprintf("%s[%d]", path, i)
		if v.required(apath+".audience", a.Audience, "name the audience, e.g. engineering") {
			seen.check(apath, apath+".audience", a.Audience)
		}
		if a.Slack == nil && a.Email == nil && a.Webhook == nil && a.PagerDuty == nil {
			v.add(apath, "set at least one channel: slack, email, webhook or pagerduty")
		}
		v.channels(a, apath)
		for j, on := range a.On {
			v.eventType(fmt.Sprintf("%s.on[%d]", apath, j), on)
		}
		v.urgency(apath+".minUrgency", a.MinUrgency)
	}
}

func (v *validator) channels(a *canary.Audience, path string) {
	if s := a.Slack; s != nil {
		v.secretRequired(path+".slack.webhookURL", s.WebhookURL, "env:CANARY_SECRET_SLACK_WEBHOOK")
	}
	if e := a.Email; e != nil {
		if len(e.To) == 0 {
			v.add(path+".email.to", "required: list at least one recipient, e.g. [product@example.com]")
		}
		for j, to := range e.To {
			v.email(fmt.Sprintf("%s.email.to[%d]", path, j), to)
		}
		if e.From != "" {
			v.email(path+".email.from", e.From)
		}
		v.hostPort(path+".email.smtp", e.SMTP)
		v.secret(path+".email.password", e.Password)
		switch e.TLS {
		case "", canary.EmailSTARTTLS, canary.EmailImplicitTLS:
		case canary.EmailNoTLS:
			if e.Username != "" {
				v.add(path+".email.username", "not allowed with tls: none: the password would cross the network in clear text; "+
					"use tls: starttls (the default) or tls, or remove username")
			}
		default:
			v.add(path+".email.tls", "%q is not a TLS mode: write starttls (the default), tls (implicit TLS, port 465) or none (plain text, no username)", string(e.TLS))
		}
	}
	if w := a.Webhook; w != nil {
		if strings.HasPrefix(w.URL, "env:") || strings.HasPrefix(w.URL, "file:") || strings.HasPrefix(w.URL, "secret:") {
			v.secret(path+".webhook.url", canary.SecretRef(w.URL)) // a URL that embeds a token, kept as a secret
		} else {
			v.url(path+".webhook.url", w.URL, "the URL to post to, e.g. https://hooks.example.com/canary")
		}
		v.secret(path+".webhook.secret", w.Secret)
	}
	if pd := a.PagerDuty; pd != nil {
		v.secretRequired(path+".pagerduty.routingKey", pd.RoutingKey, "env:CANARY_SECRET_PD_ROUTING_KEY")
		v.url(path+".pagerduty.url", pd.URL, "")
	}
}

func (v *validator) secretRequired(path string, s canary.SecretRef, example string) {
	if s == "" {
		v.add(path, "required: write a reference to the secret, e.g. %s", example)
		return
	}
	v.secret(path, s)
}

func (v *validator) email(path, addr string) {
	if a, err := mail.ParseAddress(addr); err != nil || a.Address == "" {
		v.add(path, "%q is not an email address: write e.g. product@example.com", addr)
	}
}

func (v *validator) eventType(path, on string) {
	if on == AllEvents {
		return
	}
	names := make([]string, len(canary.EventTypes))
	for i, t := range canary.EventTypes {
		if string(t) == on {
			return
		}
		names[i] = string(t)
	}
	fix := "write all, or one of " + strings.Join(names, ", ")
	if s := closest(on, names); s != "" {
		fix = fmt.Sprintf("did you mean %q? (or write all, or another event type)", s)
	}
	v.add(path, "%q is not an event type: %s", on, fix)
}

// closest returns the candidate nearest to s, if one is near enough to be
// a likely typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
