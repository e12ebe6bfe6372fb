package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	canary "github.com/canary-dev/canary"
)

// TestDecodeErrors covers strict decoding: types, units, unknown and
// duplicate keys.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"duration spelled out", with(t, edit{"hold: 1m", "hold: 5 min"}),
			[]string{`plan.yaml:13:13: spec.steps[0].hold: "5 min" is not a duration (use a number and a unit, e.g. 30s, 5m, 1h30m)`}},
		{"duration without unit", with(t, edit{"hold: 1m", "hold: 30"}),
			[]string{`plan.yaml:13:13: spec.steps[0].hold: "30" is not a duration (use a number and a unit, e.g. 30s, 5m, 1h30m)`}},
		{"percentage without sign", with(t, edit{"", "  slo: {objective: 99.9}\n"}),
			[]string{`plan.yaml:19:20: spec.slo.objective: "99.9" is not a percentage (write it with a % sign, e.g. 1%)`}},
		{"threshold garbage", with(t, edit{"above: 1%", "above: lots"}),
			[]string{`plan.yaml:17:14: spec.rules[0].above: "lots" is not a threshold (use a latency like 600ms, a percentage like 1%, a multiplier like 2x, or a number)`}},
		// The weight must be a number, not a percentage or a quoted string.
		{"weight with percent sign", with(t, edit{"weight: 10\n", "weight: 10%\n"}),
			[]string{`plan.yaml:12:15: spec.steps[0].weight: "10%" is not a whole number: write an integer without quotes or units, e.g. 5`}},
		{"weight quoted", with(t, edit{"weight: 10\n", "weight: \"10\"\n"}),
			[]string{`plan.yaml:12:15: spec.steps[0].weight: "10" is not a whole number: write an integer without quotes or units, e.g. 5`}},
		{"weight fractional", with(t, edit{"weight: 10\n", "weight: 10.5\n"}),
			[]string{`plan.yaml:12:15: spec.steps[0].weight: "10.5" is not a whole number: write an integer without quotes or units, e.g. 5`}},
		{"weight too large", with(t, edit{"weight: 10\n", "weight: 99999999999999999999\n"}),
			[]string{`plan.yaml:12:15: spec.steps[0].weight: 99999999999999999999 is out of range: write a smaller whole number`}},
		{"boolean spelled yes", with(t, edit{"      hold: 1m\n", "      hold: 1m\n      approval: {manual: yes}\n"}),
			[]string{`plan.yaml:14:26: spec.steps[0].approval.manual: "yes" is not a boolean: write true or false, without quotes`}},
		{"mapping for a string", with(t, edit{"version: v2", "version: {tag: v2}"}),
			[]string{`plan.yaml:6:12: spec.version: got a mapping, want a string: write a single value (quote it if it contains ": ", "{" or "[")`}},
		{"list for a duration", with(t, edit{"hold: 1m", "hold: [1m]"}),
			[]string{`plan.yaml:13:13: spec.steps[0].hold: got a list, want a duration such as 30s: write a single value (quote it if it contains ": ", "{" or "[")`}},
		{"scalar for a list", with(t, edit{"", "  notify:\n    - {audience: eng, slack: {webhookURL: env:A}, on: rolledBack}\n"}),
			[]string{`plan.yaml:20:55: spec.notify[0].on: got "rolledBack", want a list: write [rolledBack], or put each item on its own line starting with "- "`}},
		{"list for a mapping", with(t, edit{"    proxy:\n", "    - proxy:\n"}),
			[]string{`plan.yaml:8:5: spec.traffic: got a list, want a mapping with the fields proxy, helm, gatewayAPI, replicas, istio, nginxIngress: remove the "- " in front of the fields`}},
		{"scalar for a mapping", with(t, edit{"", "  rollback: 5m\n"}),
			[]string{`plan.yaml:19:13: spec.rollback: got "5m", want a mapping with the fields drain: write the fields on the following lines, indented under the key`}},
		{"scalar for a string map", with(t, edit{"name: demo", "name: demo\n  labels: team"}),
			[]string{`plan.yaml:5:11: metadata.labels: got "team", want a mapping of names to values: write one "name: value" per line, indented under the key`}},
		{"unknown field near a known one", with(t, edit{"action: rollback-gradual", "action: rollback-gradual\n      fro: 5m"}),
			[]string{`plan.yaml:19:7: spec.rules[0].fro: unknown field "fro": did you mean "for"?`}},
		{"unknown field in other case", with(t, edit{"version: v2", "Version: v2"}),
			// One error per typo: the suggestion, not also "spec.version: required".
			[]string{`plan.yaml:6:3: spec.Version: unknown field "Version": did you mean "version"? (names are case-sensitive)`}},
		{"misspelled interval", with(t, edit{"  steps:", "  analysis:\n    intreval: 1s\n  steps:"}, edit{"action: rollback-gradual", "action: rollback-gradual\n      for: 5s"}),
			// Not also the rules' "for is shorter than analysis.interval
			// (30s)" that the default interval would cause.
			[]string{`plan.yaml:12:5: spec.analysis.intreval: unknown field "intreval": did you mean "interval"?`}},
		{"unknown field far from any", with(t, edit{"", "  replicas: 3\n"}),
			[]string{`plan.yaml:19:3: spec.replicas: unknown field "replicas": remove it; the fields here are version, traffic, featureFlag, preChecks, hooks, strategy, steps, analysis, slo, rules, rollback, actionTimeout, notify, cleanup`}},
		{"settings for builtin metrics", with(t, edit{"", "  analysis: {metrics: {builtin: {port: 1}}}\n"}),
			[]string{`plan.yaml:19:34: spec.analysis.metrics.builtin.port: unknown field "port": this mapping takes no fields: remove it`}},
		{"duplicate key", with(t, edit{"      action: rollback-gradual\n", "      action: rollback-gradual\n      above: 2%\n"}),
			[]string{`plan.yaml:19:7: spec.rules[0].above: duplicate key "above" (first at line 17): remove one of them`}},
		{"duplicate map key", with(t, edit{"name: demo", "name: demo\n  labels: {team: a, team: b}"}),
			[]string{`plan.yaml:5:21: metadata.labels[team]: duplicate key "team" (first at line 5): remove one of them`}},
		{"merge key", "base: &b {name: demo}\n" + strings.Replace(basePlan, "  name: demo\n", "  <<: *b\n", 1),
			[]string{
				`plan.yaml:1:1: base: unknown field "base": remove it; the fields here are apiVersion, kind, metadata, spec`,
				`plan.yaml:5:3: metadata.<<: merge keys (<<) are not supported: write the fields out (aliases such as *name work for whole values)`,
				`plan.yaml:5:3: metadata.name: required: name the rollout, e.g. recoveryos-elite`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, tt.data, tt.want)
		})
	}
}

// TestExplicitZero checks that a zero Defaults would replace is rejected
// rather than silently meaning the default.
func TestExplicitZero(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"explicit zero interval", with(t, edit{"", "  analysis: {interval: 0s}\n"}),
			[]string{`plan.yaml:19:24: spec.analysis.interval: 0s means "use the default" (30s) here: omit the field for the default, or write a value above 0`}},
		{"explicit zero minRequests", with(t, edit{"", "  analysis: {minRequests: 0}\n"}),
			[]string{`plan.yaml:19:27: spec.analysis.minRequests: 0 means "use the default" (100) here: omit the field for the default, or write a value above 0`}},
		{"explicit zero drain", with(t, edit{"", "  rollback: {drain: 0}\n"}),
			[]string{`plan.yaml:19:21: spec.rollback.drain: 0 means "use the default" (5m) here: omit the field for the default, or write a value above 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, tt.data, tt.want)
		})
	}
}

// TestFileErrors covers problems of the file as a whole: documents and
// YAML syntax.
func TestFileErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"root is a list", "- apiVersion: canary.dev/v1alpha1\n",
			[]string{`plan.yaml:1:1: got a list, want a mapping with the fields apiVersion, kind, metadata, spec: remove the "- " in front of the fields`}},
		{"empty file", "", []string{`plan.yaml:1:1: the file holds no plan: write one starting with apiVersion: canary.dev/v1alpha1 and kind: Rollout`}},
		{"only comments", "# nothing yet\n", []string{`plan.yaml:1:1: the file holds no plan: write one starting with apiVersion: canary.dev/v1alpha1 and kind: Rollout`}},
		{"only a document marker", "---\n", []string{`plan.yaml:1:1: the file holds no plan: write one starting with apiVersion: canary.dev/v1alpha1 and kind: Rollout`}},
		{"two documents", basePlan + "---\n" + basePlan,
			[]string{`plan.yaml:19:1: a second YAML document starts here, but a plan file holds exactly one: put each plan in its own file`}},
		{"syntax error", with(t, edit{"version: v2", "version: [v2"}),
			[]string{`plan.yaml:6:12: invalid YAML: did not find expected ',' or ']': the '[' here is not closed: close it with ']', or write the items one per line as "- item"`}},
		{"tab indentation", with(t, edit{"  name: demo", "\tname: demo"}),
			[]string{`plan.yaml:4:1: invalid YAML: found character that cannot start any token: indent with spaces, not tabs, and quote values that start with @, ` + "`" + ` or %`}},
		{"unknown anchor", with(t, edit{"version: v2", "version: *v"}),
			[]string{`plan.yaml: invalid YAML: unknown anchor 'v' referenced: define the anchor with &name before using *name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, tt.data, tt.want)
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		data string
		// check inspects the parsed plan.
		check func(p *canary.Plan) (got, want any)
	}{
		{"trailing document marker", basePlan + "---\n",
			func(p *canary.Plan) (any, any) { return p.Metadata.Name, "demo" }},
		{"null value as absent", with(t, edit{"", "  featureFlag:\n"}),
			func(p *canary.Plan) (any, any) { return p.Spec.FeatureFlag == nil, true }},
		{"alias for a value", with(t, edit{"name: demo", "name: &n demo"}, edit{"version: v2", "version: *n"}),
			func(p *canary.Plan) (any, any) { return p.Spec.Version, "demo" }},
		{"number as a string", with(t, edit{"version: v2", "version: 2"}),
			func(p *canary.Plan) (any, any) { return p.Spec.Version, "2" }},
		{"hexadecimal integer", with(t, edit{"weight: 10\n", "weight: 0xA\n"}),
			func(p *canary.Plan) (any, any) { return p.Spec.Steps[0].Weight, 10 }},
		{"plain number threshold", with(t, edit{"metric: errorRate\n      above: 1%", "metric: requestRate\n      below: 5"}),
			func(p *canary.Plan) (any, any) { return p.Spec.Rules[0].Below.Value, 5.0 }},
		{"JSON", `{"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "demo"},
			"spec": {"version": "v2", "traffic": {"proxy": {"stable": "http://a", "canary": "http://b"}},
			"steps": [{"weight": 50, "hold": "1m"}, {"weight": 100}],
			"rules": [{"metric": "errorRate", "above": "1%", "action": "pause"}]}}`,
			func(p *canary.Plan) (any, any) { return p.Spec.Steps[0].Hold.D().String(), "1m0s" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("plan.yaml", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: got %v, want no error", err)
			}
			if got, want := tt.check(p); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestAliasExpansionBounded feeds a plan whose aliases expand a small
// file quadratically: 1000 audiences, each with the same 200 recipients.
func TestAliasExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(basePlan + "  notify:\n    - &A {audience: a, email: {to: &L [")
	for i := range 200 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("x@example.com")
	}
	b.WriteString("]}}\n")
	for range 1000 {
		b.WriteString("    - *A\n")
	}
	_, err := Parse("plan.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than 100000 values") {
		t.Errorf("Parse: got %.300v, want an error about alias expansion", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"everything", Error{File: "plan.yaml", Line: 14, Col: 7, Path: "spec.rules[2].for", Msg: "bad"}, "plan.yaml:14:7: spec.rules[2].for: bad"},
		{"no column", Error{File: "plan.yaml", Line: 3, Msg: "bad"}, "plan.yaml:3: bad"},
		{"no position", Error{File: "plan.yaml", Msg: "bad"}, "plan.yaml: bad"},
		{"path only", Error{Path: "spec.version", Msg: "bad"}, "spec.version: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrorsAs checks what callers such as `canary validate` rely on.
func TestErrorsAs(t *testing.T) {
	_, err := Parse("plan.yaml", []byte(with(t, edit{"kind: Rollout", "kind: Job"}, edit{"hold: 1m", "hold: 1 m"})))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("errors.As(%T, *ErrorList): got false, want true", err)
	}
	if len(list) != 2 {
		t.Errorf("got %d errors, want 2", len(list))
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 2 {
		t.Errorf("errors.As(*Error): got %v, want the first error (line 2)", one)
	}
	if got := canary.ErrorCode(err); got != canary.EINVALID {
		t.Errorf("canary.ErrorCode: got %q, want %q", got, canary.EINVALID)
	}
	if got, want := err.Error(), list[0].Error()+"\n"+list[1].Error(); got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(path, []byte(with(t, edit{"kind: Rollout", "kind: Job"})), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var list ErrorList
	if !errors.As(err, &list) || list[0].File != path {
		t.Errorf("Load(bad plan): got %v, want an ErrorList naming %s", err, path)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing): got %v, want os.ErrNotExist", err)
	}
}
