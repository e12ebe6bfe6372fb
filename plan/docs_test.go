package plan_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/plan/internal/docgen"
)

func loadModel(t *testing.T) *docgen.Model {
	t.Helper()
	m, err := docgen.Load("..")
	if err != nil {
		t.Fatalf("docgen.Load: %v", err)
	}
	return m
}

// TestDocsUpToDate regenerates the reference and the schema in memory and
// compares them with the committed files.
func TestDocsUpToDate(t *testing.T) {
	m := loadModel(t)
	schema, err := m.Schema()
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]byte{"../docs/plan.md": m.Markdown(), "../docs/plan.schema.json": schema} {
		got, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./plan", strings.TrimPrefix(file, "../"))
		}
	}
}

// TestDocsCoverEveryField checks that the reference names the fields a
// plan can have, with their defaults.
func TestDocsCoverEveryField(t *testing.T) {
	m := loadModel(t)
	paths := map[string]docgen.Field{}
	for _, f := range m.Fields {
		paths[f.Path] = f
	}
	tests := []struct {
		path, typ, doc string
		required       bool
	}{
		{"apiVersion", "string", "canary.dev/v1alpha1", true},
		{"spec.rules[].for", "duration", "Default: analysis.interval.", false},
		{"spec.rules[].above", "threshold", "Latencies as durations", false},
		{"spec.analysis.minRequests", "integer", "Default: 100.", false},
		{"spec.traffic.helm.set", "map of names to strings", "helm --set", false},
		{"spec.notify[].on", "list of strings", "Default: all.", false},
		{"spec.notify[].slack.webhookURL", "secret reference", "env:NAME", true},
		{"spec.cleanup[].command", "list of strings", "no shell", false},
		{"spec.steps[].weight", "integer", "1 to 100", false},
		{"spec.steps[].match[].header.regex", "string", "RE2", false},
		{"spec.strategy.blueGreen.scaleDownDelay", "duration", "Default: 5m.", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, ok := paths[tt.path]
			if !ok {
				t.Fatalf("no field %s in the reference", tt.path)
			}
			if f.Type != tt.typ || f.Required != tt.required || !strings.Contains(f.Doc, tt.doc) {
				t.Errorf("got %s %v %q, want %s %v and a doc containing %q", f.Type, f.Required, f.Doc, tt.typ, tt.required, tt.doc)
			}
		})
	}
}

// TestSchemaEnumsValidate checks every value the schema offers for a
// plain-string enum against the validator: an editor must never suggest a
// value canary validate rejects. Event types come from the root package's
// source, so a new canary.Ev* constant fails here until the validator
// knows it.
func TestSchemaEnumsValidate(t *testing.T) {
	enum := schemaEnums(t)
	tests := []struct {
		def, prop string
		plan      func(v string) string
	}{
		{"Rule", "action", func(v string) string { return rule("action: " + v) }},
		{"Rule", "urgency", func(v string) string { return rule("action: pause, urgency: " + v) }},
		{"Rule", "vs", func(v string) string {
			return strings.Replace(rule("action: pause, vs: "+v), "errorRate, above: 1%", "burnRate, above: 2x", 1)
		}},
		{"Hook", "at", func(v string) string {
			return rule("action: pause") + "  hooks: [{name: h, at: " + v + ", command: [x]}]\n"
		}},
		{"FeatureFlag", "provider", func(v string) string {
			url := ", url: http://flags"
			if v == plan.ProviderBuiltin {
				url = ""
			}
			return rule("action: pause") + "  featureFlag: {name: f, provider: " + v + url + "}\n"
		}},
		{"Audience", "on", func(v string) string {
			return rule("action: pause") + "  notify: [{audience: a, slack: {webhookURL: env:A}, on: [" + v + "]}]\n"
		}},
		{"Audience", "minUrgency", func(v string) string {
			return rule("action: pause") + "  notify: [{audience: a, slack: {webhookURL: env:A}, minUrgency: " + v + "}]\n"
		}},
	}
	for _, tt := range tests {
		vals := enum(tt.def, tt.prop)
		if len(vals) < 2 {
			t.Errorf("%s.%s: got enum %v, want at least 2 values", tt.def, tt.prop, vals)
		}
		for _, v := range vals {
			t.Run(tt.def+"."+tt.prop+"="+v, func(t *testing.T) {
				if _, err := plan.Parse("plan.yaml", []byte(tt.plan(v))); err != nil {
					t.Errorf("schema value %q rejected:\n%v", v, err)
				}
			})
		}
	}
}

// schemaEnums returns a lookup of the generated schema's enums by
// definition and property (for lists, the items' enum).
func schemaEnums(t *testing.T) func(def, prop string) []string {
	t.Helper()
	schema, err := loadModel(t).Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum  []string `json:"enum"`
				Items struct {
					Enum []string `json:"enum"`
				} `json:"items"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		t.Fatal(err)
	}
	return func(def, prop string) []string {
		p := s.Defs[def].Properties[prop]
		if len(p.Enum) > 0 {
			return p.Enum
		}
		return p.Items.Enum
	}
}

// rule returns a valid plan whose one rule ends with the given fields.
func rule(fields string) string {
	return `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: demo}
spec:
  version: v2
  traffic: {proxy: {stable: http://a, canary: http://b}}
  steps: [{weight: 50, hold: 1m}, {weight: 100}]
  rules:
    - {metric: errorRate, above: 1%, ` + fields + `}
`
}
