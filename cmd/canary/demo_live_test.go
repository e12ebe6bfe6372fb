package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/view"
)

// TestDemoKeepsEveryFinalBlock: the demo runs its scenarios through one
// output, each ending with close; on a terminal every scenario's last
// live block stays on screen (before, the first close stopped the live
// view and the later scenarios drew none).
func TestDemoKeepsEveryFinalBlock(t *testing.T) {
	var buf bytes.Buffer
	o := &output{w: &buf, opts: view.Options{Width: 100}}
	o.live = view.NewLive(&buf, o.opts)
	now := time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)
	for _, name := range []string{"first-scenario", "second-scenario", "third-scenario"} {
		p, err := plan.Parse("demo.yaml", []byte(strings.Replace(ctlPlan, "name: web", "name: "+name, 1)))
		if err != nil {
			t.Fatal(err)
		}
		o.line("━━ " + name + " ━━")
		o.restart()
		o.update(p, engine.New(p, now), nil, now)
		o.close()
	}
	for _, name := range []string{"first-scenario", "second-scenario", "third-scenario"} {
		if !strings.Contains(buf.String(), name+" v2") {
			t.Errorf("no live block of %s on screen:\n%s", name, buf.String())
		}
	}
}
