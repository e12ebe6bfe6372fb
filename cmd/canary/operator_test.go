package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/operator"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// TestOperatorCmd runs `canary operator` against a test API server with
// the CRD installed: it serves its probes and reconciles a Rollout (here
// an invalid one, which needs no traffic provider) until stopped.
func TestOperatorCmd(t *testing.T) {
	env, kc := kubeEnv(t, true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probes := ln.Addr().String()
	_ = ln.Close()

	ctx, cancel := context.WithCancel(t.Context())
	cmd := newOperatorCmd()
	cmd.SetArgs([]string{"--kubeconfig", kc, "--metrics-bind-address", "0", "--health-probe-bind-address", probes, "--log-level", "debug"})
	logs := &canarytest.Buffer{}
	cmd.SetOut(t.Output())
	cmd.SetErr(io.MultiWriter(t.Output(), logs))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("canary operator: %v", err)
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + probes + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz on %s: %v", probes, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "broken", "namespace": "default"},
		"spec":     map[string]any{"version": "v2"},
	}}
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(operator.GVK)
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: "default", Name: "broken"}, got); err != nil {
			t.Fatal(err)
		}
		if phase, _, _ := unstructured.NestedString(got.Object, "status", "phase"); phase == operator.PhaseInvalid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout's status is %v, want phase Invalid", got.Object["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	// --log-level=debug: the reconciler's V(1) line for this rollout.
	for !strings.Contains(logs.String(), `"msg":"reconciled"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no debug line \"reconciled\" with --log-level=debug in:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOperatorLogger: --log-level picks what reaches the log: debug
// shows V(1) lines, info hides them, error keeps only errors.
func TestOperatorLogger(t *testing.T) {
	tests := []struct {
		level                string
		debug, info, errline bool
	}{
		{"debug", true, true, true},
		{"info", false, true, true},
		{"", false, true, true},
		{"error", false, false, true},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		log, err := operatorLogger(&b, tt.level)
		if err != nil {
			t.Fatalf("%q: %v", tt.level, err)
		}
		log.V(1).Info("debug-line")
		log.Info("info-line")
		log.Error(errors.New("boom"), "error-line")
		for line, want := range map[string]bool{"debug-line": tt.debug, "info-line": tt.info, "error-line": tt.errline} {
			if got := strings.Contains(b.String(), line); got != want {
				t.Errorf("--log-level=%q: %s logged %v, want %v", tt.level, line, got, want)
			}
		}
	}
}

// TestOperatorFlagErrors: bad --log-level and --max-concurrent-reconciles
// values fail before anything starts, saying what to write.
func TestOperatorFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "verbose"}, "use debug, info or error"},
		{[]string{"--max-concurrent-reconciles", "0"}, "must be 1 or more"},
	}
	for _, tt := range tests {
		cmd := newOperatorCmd()
		cmd.SetArgs(append(tt.args, "--kubeconfig", "/nonexistent"))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
}
