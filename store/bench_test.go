package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// benchState is a snapshot the size of a runbook rollout's: six rules and
// last values.
func benchState(seq int64) canary.State {
	st := state("checkout", seq, canary.PhaseProgressing)
	st.Rules = nil
	for _, name := range []string{"latencyP95 > 600ms", "latencyP95 > 1000ms", "errorRate > 1%",
		"errorRate > 5%", "burnRate > 2x", "burnRate > 5x"} {
		st.Rules = append(st.Rules, canary.RuleState{Name: name, Verdict: canary.VerdictPass, Value: 0.42, Samples: 1200})
	}
	st.LastValues = map[string]float64{"canary.latencyP95": 0.41, "stable.latencyP95": 0.39,
		"canary.errorRate": 0.001, "stable.errorRate": 0.0008}
	return st
}

// benchEvents are an evaluation with every rule's inputs and an action's
// intent and result.
func benchEvents(seq int64) []canary.Event {
	evs := events("checkout", seq, 3, canary.EvEvaluated)
	for _, r := range benchState(0).Rules {
		evs[0].Evaluations = append(evs[0].Evaluations, canary.Evaluation{Rule: r.Name, Metric: "latencyP95",
			Window: time.Minute, Value: 0.41, Samples: 1200, Threshold: 0.6, Op: ">", Verdict: canary.VerdictPass})
	}
	evs[1].Type, evs[1].Action = canary.EvActionIssued, &canary.Action{ID: seq, Kind: canary.ActSetWeight, Weight: 10}
	evs[2].Type, evs[2].Action = canary.EvActionSucceeded, &canary.Action{ID: seq, Kind: canary.ActSetWeight, Weight: 10}
	return evs
}

// BenchmarkCommit measures one runner's commits: a snapshot and 3 events per
// transaction, synchronous=FULL (an fsync per commit).
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r, err := s.Create(ctx, "shop/checkout", []byte("plan"), benchState(0), nil)
	if err != nil {
		b.Fatal(err)
	}
	seq := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Commit(ctx, r.ID, benchState(seq+3), benchEvents(seq+1)); err != nil {
			b.Fatal(err)
		}
		seq += 3
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCommitMany measures commits from many runners at once, as a
// manager running many rollouts makes them: 1,000 goroutines each commit
// an evaluation (a snapshot and its evaluated event) to a rollout of its
// own, in a loop. Concurrent commits share transactions and fsyncs.
func BenchmarkCommitMany(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const rollouts = 1000
	procs := runtime.GOMAXPROCS(0)
	ids := make([]int64, rollouts/procs*procs)
	for i := range ids {
		r, err := s.Create(ctx, fmt.Sprintf("shop/svc-%d", i), []byte("plan"), benchState(0), nil)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(rollouts / procs)
	b.RunParallel(func(pb *testing.PB) {
		id := ids[next.Add(1)-1]
		for seq := int64(1); pb.Next(); seq++ {
			if err := s.Commit(ctx, id, benchState(seq), benchEvents(seq)[:1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkEvents measures reading a page of 100 events, as a server-sent
// event stream or describe does.
func BenchmarkEvents(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r, err := s.Create(ctx, "shop/checkout", []byte("plan"), benchState(0), nil)
	if err != nil {
		b.Fatal(err)
	}
	for seq := int64(0); seq < 300; seq += 3 {
		if err := s.Commit(ctx, r.ID, benchState(seq+3), benchEvents(seq+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		evs, err := s.Events(ctx, r.ID, 100, 100)
		if err != nil || len(evs) != 100 {
			b.Fatalf("got %d events, %v", len(evs), err)
		}
	}
}

// TestEncodeMatchesMarshal checks that the text Commit stores is exactly
// json.Marshal's (HTML-escaped, no trailing newline), from a reused buffer,
// once the event bodies are decompressed.
func TestEncodeMatchesMarshal(t *testing.T) {
	st := benchState(3)
	st.PauseReason = `<b>"paused"</b> & résumé`
	evs := benchEvents(1)
	evs[0].Message = "🚨 ROLLBACK INITIATED: latencyP95 742ms > 600ms"
	for range 3 { // the second and third encodings reuse the pooled buffer
		enc, err := encode(&st, evs)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(st); enc.state != string(want) {
			t.Errorf("state: got\n%s\nwant\n%s", enc.state, want)
		}
		for i, ev := range evs {
			var stored []byte
			switch b := enc.events[i].(type) {
			case string:
				stored = []byte(b)
			case []byte:
				stored = b
			}
			var buf bytes.Buffer
			got, err := bodyJSON(stored, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(ev); string(got) != string(want) {
				t.Errorf("event %d: got\n%s\nwant\n%s", i, got, want)
			}
		}
		enc.release()
	}
}
