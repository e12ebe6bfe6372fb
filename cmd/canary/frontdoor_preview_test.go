package main

import (
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestFrontDoorRefusesPreview: canary serve's front door has no preview
// listener, so a blue/green plan with a preview is refused with the field
// named, not run with the preview silently missing.
func TestFrontDoorRefusesPreview(t *testing.T) {
	p := &canary.Plan{Spec: canary.Spec{
		Traffic:  canary.Traffic{Proxy: &canary.ProxyTraffic{Listen: "127.0.0.1:8080", Stable: "http://127.0.0.1:9001", Canary: "http://127.0.0.1:9002"}},
		Strategy: canary.Strategy{BlueGreen: &canary.BlueGreen{Preview: "127.0.0.1:8082"}},
	}}
	_, _, ok, err := (&frontDoors{}).attach(t.Context(), p)
	if !ok || canary.ErrorCode(err) != canary.EINVALID || !strings.Contains(err.Error(), "strategy.blueGreen.preview") {
		t.Errorf("attach: got ok=%v err=%v, want ok and an invalid error naming strategy.blueGreen.preview", ok, err)
	}
}
