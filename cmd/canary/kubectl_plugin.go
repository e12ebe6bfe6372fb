package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// pluginName is the name kubectl finds canary by as a plugin: a symlink
// (or copy) of the binary called kubectl-canary on PATH makes
// `kubectl canary …` run it.
const pluginName = "kubectl-canary"

// asKubectlPlugin says whether canary was started as kubectl-canary.
func asKubectlPlugin(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == pluginName
}

// kubectlPluginArgs turns `kubectl canary CMD ARGS` into canary's
// arguments: the commands that read and control rollouts act on Rollout
// resources (--kube); the ones that have no Kubernetes form say what does
// it there.
func kubectlPluginArgs(args []string) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	switch cmd := args[0]; cmd {
	case "get", "describe", "pause", "resume", "promote", "approve", "abort", "retry":
		return append(append([]string{}, args...), "--kube"), nil
	case "apply":
		return nil, usageError{fmt.Errorf("kubectl canary apply: a plan is a Rollout resource: kubectl apply -f PLAN")}
	case "delete":
		return nil, usageError{fmt.Errorf("kubectl canary delete: kubectl delete rollout NAME")}
	case "events":
		return nil, usageError{fmt.Errorf("kubectl canary events: on Kubernetes a rollout's decisions are Kubernetes Events " +
			"(kubectl events --for rollout/NAME); its last decisions are in kubectl canary describe NAME")}
	case "report":
		return nil, usageError{fmt.Errorf("kubectl canary report: a report needs the rollout's whole event log, which the operator " +
			"does not keep (its status holds the last decisions, Kubernetes Events expire): use kubectl canary describe NAME " +
			"and kubectl events --for rollout/NAME, or run the plan with canary serve for reports")}
	}
	return args, nil
}
