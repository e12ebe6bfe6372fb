package main

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// TestOperatorDeployArgs parses the arguments deploy/operator's Deployment
// gives `canary operator` (kubectl apply -k, and the release's
// canary-operator.yaml) with the operator's own flags: they are all known,
// and the policy they give is the safe default: no commands, any
// destination but link-local and cloud metadata addresses (169.254.169.254
// refused, an ordinary address allowed). The chart renders the same
// arguments by default (deploy/chart_test.go TestChartDefaults).
func TestOperatorDeployArgs(t *testing.T) {
	data, err := os.ReadFile("../../deploy/operator/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct{ Args []string }
				}
			}
		}
	}
	doc, _, _ := strings.Cut(string(data), "\n---")
	if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || len(cs[0].Args) < 2 || cs[0].Args[0] != "operator" {
		t.Fatalf("containers %+v: want one running `canary operator`", cs)
	}
	var f operatorFlags
	fs := pflag.NewFlagSet("operator", pflag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse(cs[0].Args[1:]); err != nil {
		t.Fatalf("canary operator %s: %v", strings.Join(cs[0].Args[1:], " "), err)
	}
	for _, name := range []string{"allow-commands", "egress-allow", "egress-deny"} {
		if !fs.Changed(name) {
			t.Errorf("deploy/operator does not write --%s: write it (empty) so it is visible where to set it", name)
		}
	}
	h, err := f.pol.build()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.exec.Allowed) != 0 {
		t.Errorf("deploy/operator allows commands %v by default, want none", h.exec.Allowed)
	}
	if err := h.egress.Check("metadata", netip.MustParseAddr("169.254.169.254")); err == nil {
		t.Error("deploy/operator's egress policy lets plans reach 169.254.169.254")
	}
	if err := h.egress.Check("prometheus.monitoring", netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Errorf("deploy/operator's egress policy refuses an in-cluster address: %v", err)
	}
}
