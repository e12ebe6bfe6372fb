package main

import (
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestFrontDoorRefusesMirrorBodies: canary serve's shared front door
// mirrors only GET and HEAD, so a plan opting in to bodies is refused with
// the field named, not run with the bodies silently left out.
func TestFrontDoorRefusesMirrorBodies(t *testing.T) {
	p := &canary.Plan{Spec: canary.Spec{
		Traffic:  canary.Traffic{Proxy: &canary.ProxyTraffic{Listen: "127.0.0.1:8080", Stable: "http://127.0.0.1:9001", Canary: "http://127.0.0.1:9002"}},
		Strategy: canary.Strategy{MirrorBodies: 64 << 10},
	}}
	_, _, ok, err := (&frontDoors{}).attach(t.Context(), p)
	if !ok || canary.ErrorCode(err) != canary.EINVALID || !strings.Contains(err.Error(), "strategy.mirrorBodies") {
		t.Errorf("attach: got ok=%v err=%v, want ok and an invalid error naming strategy.mirrorBodies", ok, err)
	}
}
