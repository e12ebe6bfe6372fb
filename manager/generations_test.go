package manager_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/engine"
)

// TestGenerations: NAME@GEN reads one generation (get, events,
// notifications), commands act on the latest only, and Delete removes
// what it names: one generation, or all of them, never a part of an
// active name.
func TestGenerations(t *testing.T) {
	m, _ := newManager(t, openStore(t, filepath.Join(t.TempDir(), "c.db")), newWorld())
	ctx := t.Context()
	for _, v := range []string{"v1", "v2", "v3"} {
		if _, err := m.Apply(ctx, planYAML("web", v, "50ms"), false, "alice"); err != nil {
			t.Fatalf("apply %s: %v", v, err)
		}
		waitPhase(t, m, "team/web", canary.PhaseSucceeded)
	}
	for gen, v := range map[int]string{1: "v1", 2: "v2", 3: "v3"} {
		r, err := m.Get(ctx, api.WithGeneration("team/web", gen))
		if err != nil || r.Generation != gen || r.State.Version != v {
			t.Errorf("get team/web@%d: generation %d %s, %v; want %d %s", gen, r.Generation, r.State.Version, err, gen, v)
		}
		evs, err := m.Events(ctx, api.WithGeneration("team/web", gen), 0, 0)
		if err != nil || len(evs) == 0 || evs[0].Seq != 1 || int64(len(evs)) != r.State.EventSeq {
			t.Errorf("events of team/web@%d: %d events (state seq %d), %v", gen, len(evs), r.State.EventSeq, err)
		}
		if _, err := m.Notifications(ctx, api.WithGeneration("team/web", gen), api.NotificationOptions{}); err != nil {
			t.Errorf("notifications of team/web@%d: %v", gen, err)
		}
	}
	if r, _ := m.Get(ctx, "team/web"); r.Generation != 3 {
		t.Errorf("the bare name is generation %d, want the latest, 3", r.Generation)
	}
	_, err := m.Get(ctx, "team/web@7")
	if canary.ErrorCode(err) != canary.ENOTFOUND || !strings.Contains(err.Error(), "has no generation 7 (it has generations 1, 2 and 3)") {
		t.Errorf("get team/web@7: %v", err)
	}
	if _, err := m.Get(ctx, "team/web@x"); canary.ErrorCode(err) != canary.EINVALID {
		t.Errorf("get team/web@x: %v, want invalid", err)
	}
	_, err = m.Control(ctx, "team/web@1", engine.Command{Kind: engine.CmdRetry, Actor: "alice"})
	if canary.ErrorCode(err) != canary.ECONFLICT || !strings.Contains(err.Error(), "commands act on the latest generation only") {
		t.Errorf("retry team/web@1: %v, want a conflict naming the latest", err)
	}

	res, err := m.Delete(ctx, "team/web@2")
	if err != nil || !slices.Equal(res.Generations, []int{2}) {
		t.Fatalf("delete team/web@2: %+v, %v", res, err)
	}
	if _, err := m.Get(ctx, "team/web@2"); canary.ErrorCode(err) != canary.ENOTFOUND {
		t.Errorf("generation 2 is still there: %v", err)
	}
	if r, err := m.Get(ctx, "team/web@1"); err != nil || r.State.Version != "v1" {
		t.Errorf("deleting generation 2 touched generation 1: %+v, %v", r, err)
	}
	if list, _ := m.List(ctx, api.ListOptions{}); len(list) != 2 {
		t.Errorf("list has %d rollouts after deleting one of 3 generations, want 2", len(list))
	}

	// A fourth generation runs: deleting the name removes nothing.
	if _, err := m.Apply(ctx, planYAML("web", "v4", "10s"), false, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = m.Delete(ctx, "team/web")
	if canary.ErrorCode(err) != canary.ECONFLICT || !strings.Contains(err.Error(), "generation 4 of team/web is") {
		t.Errorf("delete while generation 4 runs: %v, want a conflict naming it", err)
	}
	if list, _ := m.List(ctx, api.ListOptions{}); len(list) != 3 {
		t.Errorf("a refused delete removed something: %d rollouts left, want 3", len(list))
	}
	// Abort once traffic has moved: an abort while still Pending ends
	// Failed (nothing to roll back), not RolledBack.
	waitPhase(t, m, "team/web", canary.PhaseProgressing)
	if _, err := m.Control(ctx, "team/web@4", engine.Command{Kind: engine.CmdAbort, Immediate: true, Actor: "alice"}); err != nil {
		t.Fatalf("abort team/web@4 (the latest): %v", err)
	}
	waitPhase(t, m, "team/web", canary.PhaseRolledBack)
	res, err = m.Delete(ctx, "team/web")
	if err != nil || !slices.Equal(res.Generations, []int{1, 3, 4}) || res.Name != "team/web" {
		t.Fatalf("delete team/web: %+v, %v; want generations 1, 3 and 4", res, err)
	}
	if list, _ := m.List(ctx, api.ListOptions{}); len(list) != 0 {
		t.Errorf("%d rollouts left after deleting the name", len(list))
	}
}
