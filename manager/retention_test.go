package manager_test

import (
	"context"
	"encoding/json"
	"github.com/canary-dev/canary/api"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/web"
	"github.com/prometheus/client_golang/prometheus"
)

// laterClock is the system clock moved forward by a settable offset: the
// rollouts run in real time, and retention sees them as days old.
type laterClock struct{ offset atomic.Int64 }

func (c *laterClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *laterClock) After(d time.Duration) <-chan time.Time {
	return time.After(d)
}

// TestRetention runs one rollout to the end and keeps another active, then
// moves the clock past the retention: Prune deletes only the finished one
// (counted in canary_pruned_rows_total), the API answers 404 for it saying
// retention removed it, and the active one is untouched and goes on after
// a restart.
func TestRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	st := openStore(t, path)
	w := newWorld()
	clock := &laterClock{}
	reg := prometheus.NewRegistry()
	m, err := manager.New(manager.Config{Store: st, Providers: w.providers, Clock: clock, Registerer: reg,
		Retention: 720 * time.Hour, PruneEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			cancel()
			m.Wait()
			stopped = true
		}
	}
	t.Cleanup(stop)
	for _, a := range []struct{ name, hold string }{{"done", "50ms"}, {"live", "1h"}} {
		if _, err := m.Apply(ctx, planYAML(a.name, "v2", a.hold), false, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, m, "team/done", canary.PhaseSucceeded)
	live := waitPhase(t, m, "team/live", canary.PhaseProgressing)

	// Not old enough yet: nothing goes.
	if res, err := m.Prune(ctx); err != nil || res.Rows() != 0 {
		t.Fatalf("prune before the retention: %v, %v; want nothing", res, err)
	}
	clock.offset.Store(int64(721 * time.Hour))
	res, err := m.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rollouts != 1 || res.Events < 10 {
		t.Errorf("pruned %v, want 1 rollout and its events", res)
	}
	if got := counter(t, reg, "canary_pruned_rows_total", "events"); got != float64(res.Events) {
		t.Errorf("canary_pruned_rows_total{table=events} = %v, want %d", got, res.Events)
	}
	if got := counter(t, reg, "canary_pruned_rows_total", "rollouts"); got != 1 {
		t.Errorf("canary_pruned_rows_total{table=rollouts} = %v, want 1", got)
	}

	h, err := web.New(web.Config{API: m, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/api/v1/rollouts/team/done", "/api/v1/rollouts/team/done/events"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "removed by retention") {
			t.Errorf("GET %s: %d %s; want 404 saying it was removed by retention", path, resp.StatusCode, body)
		}
	}
	resp, err := http.Get(srv.URL + "/api/v1/rollouts/team/live")
	if err != nil {
		t.Fatal(err)
	}
	var got api.Rollout
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	// Active: progressing, or paused by the clock's jump (721h of its 1h hold
	// passed unjudged, which the engine may already have seen).
	active := got.State.Phase == canary.PhaseProgressing || got.State.Phase == canary.PhasePaused
	if err != nil || resp.StatusCode != http.StatusOK || !active {
		t.Fatalf("GET the active rollout: %d %+v, %v", resp.StatusCode, got.State, err)
	}

	// The active rollout resumes after a restart and its log goes on. (The
	// jump of the clock may have paused it for lack of evidence: 721h of
	// its 1h hold passed unjudged. Paused is active too.)
	stop()
	m2, err := manager.New(manager.Config{Store: st, Providers: w.providers, Clock: clock,
		Retention: 720 * time.Hour, PruneEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer func() { cancel2(); m2.Wait() }()
	if err := m2.Start(ctx2); err != nil {
		t.Fatal(err)
	}
	before := live.State.EventSeq
	if r, err := m2.Get(ctx2, "team/live"); err == nil && r.State.Phase == canary.PhasePaused {
		before = r.State.EventSeq
		if _, err := m2.Control(ctx2, "team/live", engine.Command{Kind: engine.CmdResume, Actor: "alice"}); err != nil {
			t.Fatalf("resume team/live after the restart: %v", err)
		}
	}
	canarytest.WaitUntil(t, 20*time.Second, "team/live going on after the restart", func() bool {
		r, err := m2.Get(ctx2, "team/live")
		return err == nil && r.State.EventSeq > before && !r.State.Phase.Terminal()
	})
	evs, err := m2.Events(t.Context(), "team/live", 0, 0)
	if err != nil || len(evs) == 0 || evs[0].Seq != 1 {
		t.Errorf("team/live's log after the prune: %d events from %v, %v; want it whole", len(evs), firstSeq(evs), err)
	}
}

func firstSeq(evs []canary.Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[0].Seq
}

// counter reads a counter with label table=table from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, table string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRetentionNegativeRefused: a negative retention is a mistake, not
// "keep everything".
func TestRetentionNegativeRefused(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	if _, err := manager.New(manager.Config{Store: st, Providers: newWorld().providers, Retention: -time.Hour}); err == nil {
		t.Error("a negative Retention was accepted")
	}
}
