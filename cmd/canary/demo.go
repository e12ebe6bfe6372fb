package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/proxy"
	"github.com/canary-dev/canary/sample"
	"github.com/spf13/cobra"
)

// demoPlan is the runbook's plan compressed from minutes to seconds: the
// same five steps, the same six rows of the decision matrix, the same four
// audiences. %[1]s and %[2]s are the stable and canary URLs.
const demoPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: recoveryos-elite, namespace: demo}
spec:
  version: v1.0.0-elite
  traffic:
    proxy: {listen: "127.0.0.1:8080", stable: "%[1]s", canary: "%[2]s", stickyHeader: X-User-ID}
  featureFlag: {name: release_20250814, environment: production}
  preChecks:
    - {name: staging healthy, url: "%[1]s/elite/metrics", jq: ".avg_success_rate >= 0.99"}
    - {name: flags present, url: "%[1]s/elite/system-status", jq: ".features != null"}
  steps:
    - {weight: 5, hold: %[3]s}
    - {weight: 10, hold: %[3]s}
    - {weight: 25, hold: %[3]s}
    - {weight: 50, hold: %[3]s}
    - {weight: 100}
  analysis: {interval: 1s, minRequests: 50}
  slo: {objective: 99.9%%, latencyP95: 600ms, errorRate: 1%%}
  rules:
    - {metric: latencyP95, above: 600ms,  window: 5s, for: 5s,  action: rollback-gradual,   urgency: medium}
    - {metric: latencyP95, above: 1000ms, window: 5s, for: 2s,  action: rollback-immediate, urgency: high}
    - {metric: errorRate,  above: 1%%,    window: 5s, for: 5s,  action: rollback-gradual,   urgency: medium}
    - {metric: errorRate,  above: 5%%,    window: 5s, for: 1s,  action: rollback-immediate, urgency: critical}
    - {metric: burnRate,   above: 2x,     window: 5s, for: 10s, action: rollback-gradual,   urgency: medium}
    - {metric: burnRate,   above: 5x,     window: 5s, for: 2s,  action: rollback-immediate, urgency: high}
  rollback: {drain: 3s}
  notify:
    - {audience: engineering, slack: {webhookURL: "env:CANARY_SECRET_SLACK_WEBHOOK"}, on: [stepCompleted, paused, rollbackStarted, rolledBack, promoted, preChecksFailed]}
    - {audience: product, email: {to: [product@recoveryos.com]}, on: [stepCompleted, promoted, rolledBack]}
    - {audience: clinical, email: {to: [clinical@recoveryos.com]}, on: [rolledBack]}
    - {audience: on-call, pagerduty: {routingKey: "env:CANARY_SECRET_PD_ROUTING_KEY"}, on: [rolledBack], minUrgency: high}
`

// strategyRules are the demo's rules for the strategy scenarios: the
// runbook's error and latency rows (no burn rows: blue/green's switch
// leaves the stable without traffic to compare).
const strategyRules = `  analysis: {interval: 1s, minRequests: 50}
  rules:
    - {metric: latencyP95, above: 600ms,  window: 5s, for: 5s,  action: rollback-gradual,   urgency: medium}
    - {metric: latencyP95, above: 1000ms, window: 5s, for: 2s,  action: rollback-immediate, urgency: high}
    - {metric: errorRate,  above: 1%%,    window: 5s, for: 5s,  action: rollback-gradual,   urgency: medium}
    - {metric: errorRate,  above: 5%%,    window: 5s, for: 1s,  action: rollback-immediate, urgency: critical}
  rollback: {drain: 3s}
`

// abPlan is an A/B release: the internal users (X-User-ID user-1…) first,
// whatever the weight, then 25% of everyone else, then all.
const abPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: recoveryos-ab, namespace: demo}
spec:
  version: v1.0.0-elite
  traffic:
    proxy: {listen: "127.0.0.1:8080", stable: "%[1]s", canary: "%[2]s", stickyHeader: X-User-ID}
  steps:
    - {match: [{header: {name: X-User-ID, prefix: user-1}}], hold: %[3]s}
    - {weight: 25, match: [{header: {name: X-User-ID, prefix: user-1}}], hold: %[3]s}
    - {weight: 100}
` + strategyRules

// blueGreenPlan is a mirrored blue/green release with a preview address.
const blueGreenPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: recoveryos-bluegreen, namespace: demo}
spec:
  version: v1.0.0-elite
  strategy: {blueGreen: {preview: "127.0.0.1:0", scaleDownDelay: %[3]s}}
  traffic:
    proxy: {listen: "127.0.0.1:8080", stable: "%[1]s", canary: "%[2]s"}
  steps:
    - {mirror: 100%%, hold: %[3]s}
    - {weight: 100}
` + strategyRules

// scenario is one story the demo tells.
type scenario struct {
	name  string
	title string
	story string
	// group selects it with --scenario: "" for all, else the group's name.
	group string
	// plan is the plan's template (default demoPlan): %[1]s the stable's
	// URL, %[2]s the canary's, %[3]s the hold.
	plan string
	// canary is the canary service's behaviour at the start.
	canary sample.Config
	// atStep, when set, changes the canary's behaviour when step index
	// atStep starts.
	atStep     int
	errRate    float64
	latency    sample.LatencyDist
	wantPhase  canary.Phase
	wantKind   string
	faultLabel string
}

var (
	fast = sample.LatencyDist{Median: 40 * time.Millisecond, P95: 120 * time.Millisecond}
	slow = sample.LatencyDist{Median: 450 * time.Millisecond, P95: 800 * time.Millisecond}
)

func demoScenarios() []scenario {
	return []scenario{
		{name: "healthy", title: "a healthy release",
			story:     "The canary is as good as the stable: it is promoted step by step, 5% → 100%.",
			canary:    sample.Config{Latency: fast, ErrorRate: 0.0002},
			atStep:    -1,
			wantPhase: canary.PhaseSucceeded},
		{name: "errors", title: "a bad release: 5xx jumps to 20%",
			story:  "At the 25% step the canary starts failing 20% of requests: an immediate rollback.",
			canary: sample.Config{Latency: fast, ErrorRate: 0.0002},
			atStep: 2, errRate: 0.2, latency: fast,
			wantPhase: canary.PhaseRolledBack, wantKind: canary.ActionRollbackImmediate,
			faultLabel: "canary 5xx rate jumps to 20%"},
		{name: "latency", title: "a slow release: P95 ~800ms",
			story:     "The canary answers with a P95 near 800ms (SLO 600ms): a gradual rollback with a drain.",
			canary:    sample.Config{Latency: slow, ErrorRate: 0.0002},
			atStep:    -1,
			wantPhase: canary.PhaseRolledBack, wantKind: canary.ActionRollbackGradual},
		{name: "ab", group: "ab", plan: abPlan, title: "an A/B release: internal users first",
			story:     "Users whose X-User-ID starts with user-1 (the internal testers, about 22%) reach the new version whatever the weight; then 25% of everyone else too; promoted.",
			canary:    sample.Config{Latency: fast, ErrorRate: 0.0002},
			atStep:    -1,
			wantPhase: canary.PhaseSucceeded},
		{name: "bluegreen", group: "ab", plan: blueGreenPlan, title: "a mirrored blue/green release",
			story:     "The new version gets no users, only a copy of every request (responses discarded) and a preview address; its rules pass, all traffic switches at once, the old version is kept for the scale-down delay, then promoted.",
			canary:    sample.Config{Latency: fast, ErrorRate: 0.0002},
			atStep:    -1,
			wantPhase: canary.PhaseSucceeded},
		{name: "bluegreen-bad", group: "ab", plan: blueGreenPlan, title: "a bad blue/green release, caught on mirrored traffic",
			story:     "The new version fails 20% of the copied requests: rolled back before the switch, so no user ever saw it.",
			canary:    sample.Config{Latency: fast, ErrorRate: 0.2},
			atStep:    -1,
			wantPhase: canary.PhaseRolledBack, wantKind: canary.ActionRollbackImmediate},
	}
}

type demoFlags struct {
	runFlags
	scenario string
	rps      float64
	hold     time.Duration
}

func newDemoCmd() *cobra.Command {
	f := demoFlags{scenario: "all", rps: 1000, hold: 6 * time.Second}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Show a promotion and two automatic rollbacks on this machine, in about a minute",
		Long: `Demo starts everything on 127.0.0.1: a stable and a canary sample service,
the built-in proxy, a load generator with user keys, and the runbook's plan
compressed from minutes to seconds (the same five steps, six rules and four
audiences). It shows a healthy promotion, a bad release rolled back
immediately and a slow one rolled back gradually, with the notifications
each would send. Exit code 0 when every scenario ended as expected.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDemo(c.Context(), c.OutOrStdout(), f)
		},
	}
	c.Flags().StringVar(&f.scenario, "scenario", f.scenario, "healthy, errors, latency or all (those three); ab for the strategies: an A/B release and a mirrored blue/green, healthy and bad (or one of ab, bluegreen, bluegreen-bad)")
	c.Flags().Float64Var(&f.rps, "rps", f.rps, "requests per second the load generator sends through the proxy")
	c.Flags().DurationVar(&f.hold, "hold", f.hold, "hold of each step")
	c.Flags().StringVarP(&f.output, "output", "o", "", "output format: text or json (one event per line)")
	c.Flags().BoolVar(&f.noColor, "no-color", false, "no colors")
	return c
}

func runDemo(ctx context.Context, w io.Writer, f demoFlags) error {
	var todo []scenario
	for _, s := range demoScenarios() {
		if (f.scenario == "all" && s.group == "") || f.scenario == s.name || f.scenario == s.group {
			todo = append(todo, s)
		}
	}
	switch {
	case len(todo) == 0:
		return usageError{fmt.Errorf("--scenario %q: use healthy, errors, latency, all, or ab (A/B and blue/green: ab, bluegreen, bluegreen-bad)", f.scenario)}
	case f.rps < 50 || f.rps > 5000:
		return usageError{fmt.Errorf("--rps %v: use 50 to 5000", f.rps)}
	case f.hold < 2*time.Second || f.hold > 10*time.Minute:
		return usageError{fmt.Errorf("--hold %v: use 2s to 10m", f.hold)}
	}
	out := newOutput(w, f.runFlags)
	var summary []string
	failed := 0
	for i, s := range todo {
		out.line(fmt.Sprintf("\n━━ Scenario %d/%d: %s ━━\n%s", i+1, len(todo), s.title, s.story))
		out.restart()
		res, err := playScenario(ctx, s, f, out)
		if err != nil {
			return err
		}
		ok := res.st.Phase == s.wantPhase && res.st.RollbackKind == s.wantKind
		mark := "✓"
		if !ok {
			mark, failed = "✗", failed+1
		}
		line := fmt.Sprintf("%s %-*s %-11s %-19s in %5.1fs — %d requests: %d stable, %d canary, %d 5xx seen by users",
			mark, nameWidth(todo), s.name, res.st.Phase, strings.TrimPrefix(res.st.RollbackKind, "rollback-"), res.took.Seconds(),
			res.load.Requests, res.load.Tracks["stable"].Requests, res.load.Tracks["canary"].Requests, res.load.Status5xx)
		summary = append(summary, line)
		out.line(line)
	}
	out.line("\n━━ Summary ━━\n" + strings.Join(summary, "\n"))
	if failed > 0 {
		return &outcomeError{code: ExitRolledBack, msg: fmt.Sprintf("canary demo: %d scenario(s) did not end as expected", failed)}
	}
	return nil
}

// nameWidth is the width of the summary's name column: at least 8.
func nameWidth(todo []scenario) int {
	w := 8
	for _, s := range todo {
		w = max(w, len(s.name))
	}
	return w
}

type scenarioResult struct {
	st   canary.State
	took time.Duration
	load loadgen.Result
}

// playScenario starts the services, the proxy and the load for one
// scenario, runs the rollout and stops everything.
func playScenario(ctx context.Context, s scenario, f demoFlags, out *output) (scenarioResult, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stable, err := sample.Start(sctx, "127.0.0.1:0", sample.Config{Name: "recoveryos", Version: "v0.9.3", Latency: fast, ErrorRate: 0.0002, Seed: 1})
	if err != nil {
		return scenarioResult{}, fmt.Errorf("start the stable sample service: %w", err)
	}
	cc := s.canary
	cc.Name, cc.Version, cc.Seed = "recoveryos", "v1.0.0-elite", 2
	can, err := sample.Start(sctx, "127.0.0.1:0", cc)
	if err != nil {
		return scenarioResult{}, fmt.Errorf("start the canary sample service: %w", err)
	}
	tmpl := s.plan
	if tmpl == "" {
		tmpl = demoPlan
	}
	p, err := plan.Parse("demo.yaml", []byte(fmt.Sprintf(tmpl, stable.URL(), can.URL(), canary.FormatDuration(f.hold))))
	if err != nil {
		return scenarioResult{}, fmt.Errorf("the demo's own plan is invalid: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return scenarioResult{}, err
	}
	pv, err := wire(sctx, p, wireOptions{listener: ln})
	if err != nil {
		return scenarioResult{}, err
	}
	defer pv.Close()
	gen, err := loadgen.Start(sctx, loadgen.Config{Target: "http://" + pv.ProxyAddr + "/elite/insights", Rate: f.rps,
		Concurrency: 512, Users: 5000, Duration: 10 * time.Minute})
	if err != nil {
		return scenarioResult{}, err
	}
	out.line(fmt.Sprintf("  stable %s (v0.9.3), canary %s (v1.0.0-elite), proxy http://%s, load %v req/s from 5000 users",
		stable.URL(), can.URL(), pv.ProxyAddr, f.rps))
	if pv.PreviewAddr != "" {
		out.line(fmt.Sprintf("  preview http://%s: always the new version, never counted", pv.PreviewAddr))
	}
	if s.atStep >= 0 {
		out.onEvent = func(ev canary.Event) {
			if ev.Type == canary.EvStepStarted && ev.Step == s.atStep {
				_ = can.Service().SetBehavior(s.errRate, s.latency)
				out.line(fmt.Sprintf("  ⚡ fault injected: %s", s.faultLabel))
			}
		}
	}
	start := time.Now()
	st, err := execute(sctx, p, pv, out, canary.State{}, nil, &notify.Console{Println: out.line}) // the demo's audiences are fake: print only
	out.onEvent = nil
	res := scenarioResult{st: st, took: time.Since(start), load: gen.Stop()}
	printMirrorStats(out, p, pv)
	return res, err
}

// printMirrorStats says what became of the copies a plan with routes
// mirrored through the built-in proxy.
func printMirrorStats(out *output, p *canary.Plan, pv *providers) {
	px, ok := pv.Router.(*proxy.Proxy)
	if !ok || !p.UsesRoutes() {
		return
	}
	if ms := px.MirrorStats(); ms.Sent+ms.Failed+ms.Dropped > 0 {
		out.line(fmt.Sprintf("  mirrored copies: %d answered by the new version, %d unanswered, %d dropped (queue full); users saw none", ms.Sent, ms.Failed, ms.Dropped))
	}
}
