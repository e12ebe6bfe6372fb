package main

import (
	"slices"
	"strings"
	"testing"
)

// TestKubectlPluginArgs: as kubectl-canary, the reading and control
// commands get --kube, and apply, delete, events and report say what does
// their work on Kubernetes.
func TestKubectlPluginArgs(t *testing.T) {
	for _, argv0 := range []string{"/usr/local/bin/kubectl-canary", "kubectl-canary", `C:\bin\kubectl-canary.exe`} {
		if !asKubectlPlugin(strings.ReplaceAll(argv0, `\`, "/")) {
			t.Errorf("%s is not taken for the plugin", argv0)
		}
	}
	for _, argv0 := range []string{"/usr/bin/canary", "kubectl", "kubectl-canary-old"} {
		if asKubectlPlugin(argv0) {
			t.Errorf("%s is taken for the plugin", argv0)
		}
	}
	tests := []struct {
		args    []string
		want    []string
		wantErr string
	}{
		{[]string{"get", "-n", "apps"}, []string{"get", "-n", "apps", "--kube"}, ""},
		{[]string{"describe", "apps/web"}, []string{"describe", "apps/web", "--kube"}, ""},
		{[]string{"abort", "apps/web", "--immediate"}, []string{"abort", "apps/web", "--immediate", "--kube"}, ""},
		{[]string{"promote", "web", "--full"}, []string{"promote", "web", "--full", "--kube"}, ""},
		{[]string{"version"}, []string{"version"}, ""},
		{nil, nil, ""},
		{[]string{"apply", "-f", "plan.yaml"}, nil, "kubectl apply -f PLAN"},
		{[]string{"delete", "web"}, nil, "kubectl delete rollout NAME"},
		{[]string{"events", "web"}, nil, "kubectl events --for rollout/NAME"},
		{[]string{"report", "web"}, nil, "canary serve"},
	}
	for _, tt := range tests {
		got, err := kubectlPluginArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != ExitInvalid {
				t.Errorf("%v: error %v (exit %d), want one saying %q (exit %d)", tt.args, err, exitCode(err), tt.wantErr, ExitInvalid)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v: got %v %v, want %v", tt.args, got, err, tt.want)
		}
	}
}
