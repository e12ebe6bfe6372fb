package operator

import (
	"strings"
	"testing"

	"github.com/canary-dev/canary/engine"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want engine.Command
	}{
		{"pause", engine.Command{Kind: engine.CmdPause, Actor: Actor}},
		{" resume ", engine.Command{Kind: engine.CmdResume, Actor: Actor}},
		{"promote-full", engine.Command{Kind: engine.CmdPromote, Full: true, Actor: Actor}},
		{"abort-immediate: error spike", engine.Command{Kind: engine.CmdAbort, Immediate: true, Actor: Actor, Reason: "error spike"}},
		{"abort", engine.Command{Kind: engine.CmdAbort, Actor: Actor}},
		{"approve", engine.Command{Kind: engine.CmdApprove, Actor: Actor}},
		{"retry", engine.Command{Kind: engine.CmdRetry, Actor: Actor}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseCommand("explode"); err == nil || !strings.Contains(err.Error(), "pause, resume") {
		t.Errorf("ParseCommand(explode) = %v; want the list of commands", err)
	}
}

func TestPlanOf(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "web", "namespace": "shop", "uid": "x", "resourceVersion": "7",
			"labels": map[string]any{"team": "a"}, "annotations": map[string]any{AnnotationCommand: "pause"}},
		"spec": map[string]any{
			"version":  "v2",
			"traffic":  map[string]any{"gatewayAPI": map[string]any{"httpRoute": "web", "stableService": "web", "canaryService": "web-canary"}},
			"steps":    []any{map[string]any{"weight": int64(10), "hold": "1m"}, map[string]any{"weight": int64(100)}},
			"analysis": map[string]any{"metrics": map[string]any{"prometheus": map[string]any{"address": "http://prom:9090"}}},
			"rules":    []any{map[string]any{"metric": "errorRate", "above": "1%", "action": "rollback-immediate"}},
		},
		"status": map[string]any{"phase": "Progressing"},
	}}
	p, err := PlanOf(u)
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Name != "web" || p.Metadata.Namespace != "shop" || p.Metadata.Labels["team"] != "a" || p.Spec.Traffic.GatewayAPI.Port != 80 {
		t.Errorf("plan = %+v (want defaults applied)", p)
	}
	u.Object["spec"].(map[string]any)["stepz"] = []any{}
	if _, err := PlanOf(u); err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Errorf("unknown spec field: %v", err)
	}
}

// TestCommandAnnotationRoundTrip: every control written as an annotation
// reads back as the same command (the actor is the operator's).
func TestCommandAnnotationRoundTrip(t *testing.T) {
	for _, c := range []engine.Command{
		{Kind: engine.CmdPause, Reason: "a\nb"}, {Kind: engine.CmdResume}, {Kind: engine.CmdApprove},
		{Kind: engine.CmdPromote}, {Kind: engine.CmdPromote, Full: true}, {Kind: engine.CmdAbort},
		{Kind: engine.CmdAbort, Immediate: true, Reason: "spike"}, {Kind: engine.CmdRetry},
	} {
		got, err := ParseCommand(CommandAnnotation(c))
		want := c
		want.Actor, want.Reason = Actor, strings.ReplaceAll(c.Reason, "\n", " ")
		if err != nil || got != want {
			t.Errorf("CommandAnnotation(%+v) = %q, read back as %+v, %v", c, CommandAnnotation(c), got, err)
		}
	}
}
