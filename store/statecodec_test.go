package store

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// runbookState is the snapshot of a runbook rollout (six rules) after a
// few minutes of evaluations: the four threshold rules on error counts
// keep their last ten windows, as the engine does (poolWindows), and the
// last values of both tracks. Its JSON is ~4.6 KB.
func runbookState(name string, seq int64, r *rand.Rand) canary.State {
	st := state(name, seq, canary.PhaseProgressing)
	st.Rules = nil
	for _, rule := range []string{"latencyP95 > 600ms for 5m", "latencyP95 > 1000ms for 2m",
		"errorRate > 1% for 5m", "errorRate > 5% for 1m", "burnRate > 2x for 10m", "burnRate > 5x for 2m"} {
		rs := canary.RuleState{Name: rule, Verdict: canary.VerdictPass, Value: r.Float64(), Samples: 1000}
		if !strings.HasPrefix(rule, "latency") {
			for tick := int(seq) - 9; tick <= int(seq); tick++ {
				w := canary.WindowCounts{Tick: tick, Requests: 1000 + r.Int64N(50), Hits: r.Int64N(3),
					Canary: 1000 + r.Int64N(50), Stable: 1000 + r.Int64N(50)}
				w.HitsHigh = w.Hits
				if strings.HasPrefix(rule, "burn") {
					w.Requests, w.StableHits = w.Canary+w.Stable, r.Int64N(3)
				}
				rs.Windows = append(rs.Windows, w)
			}
		}
		st.Rules = append(st.Rules, rs)
	}
	st.LastValues = map[string]float64{}
	for _, m := range []string{"latencyP95", "errorRate", "burnRate"} {
		st.LastValues["canary:"+m], st.LastValues["stable:"+m] = r.Float64(), r.Float64()
	}
	st.LastEvalAt = base.Add(time.Duration(seq) * time.Second)
	return st
}

// storedState is rollout id's state column as stored, and its type.
func storedState(t *testing.T, s *Store, id int64) ([]byte, string) {
	t.Helper()
	var raw []byte
	var typ string
	if err := s.w.QueryRowContext(context.Background(),
		`SELECT state, typeof(state) FROM rollouts WHERE id = ?`, id).Scan(&raw, &typ); err != nil {
		t.Fatal(err)
	}
	return raw, typ
}

// sameState fails unless got and want have the same JSON.
func sameState(t *testing.T, got, want canary.State) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("state read back differs:\n got %s\nwant %s", g, w)
	}
}

// TestStateStoredCompressed: a small snapshot stays JSON text (SQLite's
// JSON functions read it); a runbook rollout's, rewritten at every
// evaluation, is stored as S2 in under half its JSON (~40%; ~17% with
// the identical counts of the synthetic benchmark), so plan and state fit
// one page; both read back exactly, and so does a large
// snapshot stored as JSON text by an earlier canary.
func TestStateStoredCompressed(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	if raw, typ := storedState(t, s, r.ID); typ != "text" || raw[0] != '{' {
		t.Errorf("small state stored as %s %q, want JSON text", typ, raw[:1])
	}
	if count(t, s, `SELECT count(*) FROM rollouts WHERE json_extract(state, '$.phase') = 'Progressing'`) != 1 {
		t.Error("json_extract does not read the small state")
	}

	big := runbookState(r.Name, 2, rand.New(rand.NewPCG(1, 2)))
	text, _ := json.Marshal(big)
	if err := s.Commit(ctx, r.ID, big, events(r.Name, 2, 1, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	raw, typ := storedState(t, s, r.ID)
	if typ != "blob" || raw[0] != stateS2V1 || len(raw)*2 > len(text) {
		t.Errorf("runbook state stored as %s of %d bytes tagged %#x, want an S2 blob under half its %d bytes of JSON",
			typ, len(raw), raw[0], len(text))
	}
	t.Logf("runbook state: %d bytes of JSON, %d stored", len(text), len(raw))
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got.State, big)

	// An earlier canary's large JSON snapshot still reads.
	if _, err := s.w.ExecContext(ctx, `UPDATE rollouts SET state = ? WHERE id = ?`, string(text), r.ID); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Get(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	sameState(t, got.State, big)
}

// TestCorruptStateIsAnError: a compressed snapshot that does not decode
// fails the read naming the rollout; nothing panics.
func TestCorruptStateIsAnError(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	for _, bad := range [][]byte{{stateS2V1, 0xff, 0xff, 0xff}, {stateS2V1}, {0x7f, 1, 2}} {
		if _, err := s.w.ExecContext(ctx, `UPDATE rollouts SET state = ? WHERE id = ?`, bad, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, r.ID); err == nil || !strings.Contains(err.Error(), "decode state of rollout") {
			t.Errorf("state %x: got %v, want a decode error naming the rollout", bad, err)
		}
	}
}

// BenchmarkStateCodec compares what a commit pays for a runbook
// rollout's snapshot: its JSON, then S2 (stored) or zstd with the event
// dictionary (not used for snapshots), and reading it back.
func BenchmarkStateCodec(b *testing.B) {
	st := runbookState("shop/checkout", 40, rand.New(rand.NewPCG(1, 2)))
	text, _ := json.Marshal(st)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendStateJSON", func(b *testing.B) { // canary's own, as encode uses it
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var ok bool
			if buf, ok = appendStateJSON(buf[:0], &st); !ok {
				b.Fatal("declined")
			}
		}
	})
	var dst []byte
	b.Run("s2", func(b *testing.B) {
		for b.Loop() {
			dst = compressState(dst[:0], text)
		}
		b.ReportMetric(float64(len(dst)), "stored-B")
		b.ReportMetric(float64(len(text)), "json-B")
	})
	b.Run("zstd", func(b *testing.B) {
		for b.Loop() {
			dst = compressBody(dst[:0], text)
		}
		b.ReportMetric(float64(len(dst)), "stored-B")
	})
	b.Run("read-s2", func(b *testing.B) {
		stored := compressState(nil, text)
		var buf bytes.Buffer
		for b.Loop() {
			if _, err := bodyJSON(stored, &buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncode measures the part of a commit done before its
// transaction: a runbook rollout's snapshot and its evaluation event
// marshalled and compressed.
func BenchmarkEncode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	st := runbookState("shop/checkout", 40, r)
	evs := []canary.Event{runbookEvaluation(40, r)}
	b.ReportAllocs()
	for b.Loop() {
		e, err := encode(&st, evs)
		if err != nil {
			b.Fatal(err)
		}
		e.release()
	}
}
