package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/canary-dev/canary"
)

// runbookEvaluation is an evaluation event of the runbook's six rules with
// measured values that differ from one evaluation to the next, as real
// metrics do (full float precision; noise compresses worst).
func runbookEvaluation(seq int64, r *rand.Rand) canary.Event {
	type rule struct {
		name      string
		metric    canary.Metric
		threshold float64
		window    time.Duration
	}
	rules := []rule{
		{"latencyP95 > 600ms for 5m", canary.MetricLatencyP95, 0.6, 30 * time.Second},
		{"latencyP95 > 1000ms for 2m", canary.MetricLatencyP95, 1, 30 * time.Second},
		{"errorRate > 1% for 5m", canary.MetricErrorRate, 0.01, 30 * time.Second},
		{"errorRate > 5% for 1m", canary.MetricErrorRate, 0.05, 30 * time.Second},
		{"burnRate > 2x for 10m", canary.MetricBurnRate, 2, 30 * time.Second},
		{"burnRate > 5x for 2m", canary.MetricBurnRate, 5, 30 * time.Second},
	}
	ev := canary.Event{Seq: seq, Time: base.Add(time.Duration(seq) * 15 * time.Second).Add(time.Duration(r.IntN(1e9))),
		Rollout: "checkout", Type: canary.EvEvaluated, Phase: canary.PhaseProgressing, Step: 2, Weight: 25,
		Message: "evaluated 6 rules: 6 pass"}
	for _, ru := range rules {
		stable := r.Float64() * ru.threshold / 2
		ev.Evaluations = append(ev.Evaluations, canary.Evaluation{Rule: ru.name, Metric: ru.metric, Window: ru.window,
			Value: r.Float64() * ru.threshold / 2, Samples: 900 + r.Int64N(300), Threshold: ru.threshold, Op: "above",
			Verdict: canary.VerdictPass, Stable: &stable})
	}
	return ev
}

// TestBodyRoundTrip checks that every kind of event reads back exactly as
// json.Marshal wrote it, through a real store: decoded bodies are byte
// for byte the JSON, and the events equal what was committed.
func TestBodyRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	low, p := 0.01, 0.2
	compare := runbookEvaluation(4, r)
	compare.Evaluations[0].Comparison = &canary.Comparison{Test: "mann-whitney", Data: "requests", Estimate: 0.012,
		Lower: &low, P: p, Tolerance: 0.05, Confidence: 0.95, Relative: true, CanaryN: 1200, StableN: 23000}
	compare.Evaluations[1].PendingFor, compare.Evaluations[1].Firing = 3*time.Minute, true
	compare.Evaluations[2].Verdict, compare.Evaluations[2].Detail = canary.VerdictError, "prometheus: 503 <html>"
	tests := []struct {
		name string
		ev   canary.Event
	}{
		{"evaluation of six rules", runbookEvaluation(1, r)},
		{"comparison, pending and error", compare},
		{"action", canary.Event{Seq: 5, Time: base, Rollout: "checkout", Type: canary.EvActionIssued, Phase: canary.PhaseProgressing,
			Message: "issue set canary weight to 25%", Action: &canary.Action{ID: 7, Kind: canary.ActSetWeight, Weight: 25}}},
		{"tiny", canary.Event{Seq: 6, Type: "x"}},
		{"unicode and HTML", canary.Event{Seq: 7, Time: base, Rollout: "checkout", Type: canary.EvRollbackStarted,
			Urgency: canary.UrgencyCritical, Message: "🚨 ROLLBACK INITIATED: latencyP95 742ms > 600ms <b>&</b> résumé",
			Actor: "ops", Error: strings.Repeat("é", 3000)}},
		// Larger than the encoder's 64 KiB window.
		{"large", canary.Event{Seq: 8, Time: base, Type: canary.EvHookFailed, Message: incompressible(100 << 10)}},
	}
	s, _ := openTest(t)
	ctx := context.Background()
	rl := create(t, s, "shop/checkout")
	var evs []canary.Event
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			stored := compressBody(nil, want)
			var buf bytes.Buffer
			got, err := bodyJSON(stored, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded body:\n got %s\nwant %s", got, want)
			}
			t.Logf("%d bytes of JSON stored in %d", len(want), len(stored))
		})
		tt.ev.Seq = int64(i + 2)
		evs = append(evs, tt.ev)
	}
	if err := s.Commit(ctx, rl.ID, state("checkout", int64(len(evs)+1), canary.PhaseProgressing), evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, rl.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if i >= len(got) || !sameJSON(t, got[i], evs[i]) {
			t.Errorf("event %d read back differs from the one committed", i+2)
		}
	}
	// All but "large": random letters, which S2 (no entropy coding)
	// cannot shrink, so it stays text.
	if n := count(t, s, `SELECT count(*) FROM events WHERE rollout_id = ? AND seq > 1 AND typeof(body) = 'blob'`, rl.ID); n != len(evs)-1 {
		t.Errorf("%d compressed bodies, want %d", n, len(evs)-1)
	}
}

// TestBodyNotShrunkStaysText: a body that DEFLATE cannot shrink is stored
// as its JSON text, and reads back.
func TestBodyNotShrunkStaysText(t *testing.T) {
	body := []byte(`{"k":"` + incompressible(20) + `"}`)
	stored := compressBody(nil, body)
	if !bytes.Equal(stored, body) {
		t.Fatalf("stored %q, want the text itself %q", stored, body)
	}
	got, err := bodyJSON(stored, new(bytes.Buffer))
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("got %q, %v; want %q", got, err, body)
	}
}

// sameJSON compares two events by their JSON (what readers get).
func sameJSON(t *testing.T, a, b canary.Event) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// zstdEncoder writes bodyZstdV1 bodies as canary did from schema version
// 5 to 8 (codec.go), for the tests that read them.
var zstdEncoder = func() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderDictRaw(zstdDictIDV1, eventDict),
		zstd.WithEncoderCRC(false),
		zstd.WithAllLitEntropyCompression(true),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderConcurrency(min(runtime.GOMAXPROCS(0), 4)))
	if err != nil {
		panic(err)
	}
	return enc
}()

// compressBodyZstd is compressBody as it was until schema version 8:
// bodyZstdV1, or the JSON itself when that is not smaller.
func compressBodyZstd(dst []byte, body []byte) []byte {
	start := len(dst)
	dst = append(dst, bodyZstdV1)
	dst = zstdEncoder.EncodeAll(body, dst)
	if len(dst)-start >= len(body) {
		return append(dst[:start], body...)
	}
	return dst
}

// TestEvaluationBodySize bounds what a runbook evaluation event costs in
// the store: at most a third of its JSON.
func TestEvaluationBodySize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var text, stored int
	for i := range 200 {
		b, _ := json.Marshal(runbookEvaluation(int64(i+1), r))
		text += len(b)
		stored += len(compressBody(nil, b))
	}
	t.Logf("evaluation event: %d bytes of JSON, %d stored", text/200, stored/200)
	if stored*3 > text {
		t.Errorf("stored %d bytes per evaluation event, want at most a third of its %d bytes of JSON", stored/200, text/200)
	}
}

// TestJSONBodiesStillRead opens a database of schema version 3, whose
// bodies are all JSON text: it migrates, its events read as before, and
// new events (compressed) continue the same log.
func TestJSONBodiesStillRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "canary.db")
	db, err := sql.Open("sqlite", dsn(Config{Path: path, BusyTimeout: DefaultBusyTimeout}, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations[:3], false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO rollouts (name, generation, plan, plan_sha256, phase, event_seq, state, created_at, updated_at)
		VALUES ('shop/checkout', 1, 'plan', 'x', 'Progressing', 2, '{"name":"checkout","eventSeq":2}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	old := []canary.Event{runbookEvaluation(1, rand.New(rand.NewPCG(5, 6))), events("checkout", 2, 1, canary.EvStepStarted)[0]}
	for _, ev := range old {
		body, _ := json.Marshal(ev)
		if _, err := db.ExecContext(ctx, `INSERT INTO events (rollout_id, seq, time, type, body) VALUES (1, ?, ?, ?, ?)`,
			ev.Seq, nanos(ev.Time), string(ev.Type), string(body)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := count(t, s, `SELECT version FROM schema_version`); v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
	next := runbookEvaluation(3, rand.New(rand.NewPCG(7, 8)))
	if err := s.Commit(ctx, 1, state("checkout", 3, canary.PhaseProgressing), []canary.Event{next}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append(old, next)
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameJSON(t, got[i], want[i]) {
			t.Errorf("event %d: got %+v, want %+v", i+1, got[i], want[i])
		}
	}
	if n := count(t, s, `SELECT count(*) FROM events WHERE typeof(body) = 'blob'`); n != 1 {
		t.Errorf("%d compressed bodies, want 1 (the new one)", n)
	}
}

// TestUnknownBodyEncoding: a body in a form this binary does not know (a
// newer canary's) is an error that says so, not garbage.
func TestUnknownBodyEncoding(t *testing.T) {
	var ev canary.Event
	err := decodeBody([]byte{0x7f, 1, 2, 3}, &ev, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "newer canary") {
		t.Errorf("got %v, want an error naming a newer canary", err)
	}
	for _, tag := range []byte{bodyFlateV1, bodyZstdV1, bodyS2DictV1} {
		err = decodeBody([]byte{tag, 0xff, 0xff}, &ev, new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), "decode event") {
			t.Errorf("corrupt body tagged %#x: got %v, want a decode error", tag, err)
		}
	}
	if !reflect.DeepEqual(ev, canary.Event{}) {
		t.Errorf("event filled from a bad body: %+v", ev)
	}
}

// BenchmarkEventBody measures compressing and decompressing one runbook
// evaluation event, and reports its stored size.
func BenchmarkEventBody(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i], _ = json.Marshal(runbookEvaluation(int64(i+1), r))
	}
	compress := func(name string, f func(dst, body []byte) []byte) {
		b.Run(name, func(b *testing.B) {
			var dst []byte
			var stored, text int
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				dst = f(dst[:0], bodies[i%len(bodies)])
				stored += len(dst)
				text += len(bodies[i%len(bodies)])
				i++
			}
			b.ReportMetric(float64(stored)/float64(i), "stored-B/event")
			b.ReportMetric(float64(text)/float64(i), "json-B/event")
		})
	}
	compress("compress", compressBody)
	compress("compress-zstdV1", compressBodyZstd)
	decompress := func(name string, stored []byte) {
		b.Run(name, func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bodyJSON(stored, &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	decompress("decompress", compressBody(nil, bodies[0]))
	decompress("decompress-zstdV1", compressBodyZstd(nil, bodies[0]))
	// An old bodyFlateV1 body (a larger event: 1,653 bytes of JSON).
	b.Run("decompress-flateV1", func(b *testing.B) {
		stored, err := os.ReadFile("testdata/body-flate-v1.bin")
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bodyJSON(stored, &buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCompressBodyRoundTrip feeds the codec long runs, copies from up to
// 80 KB back (beyond the 64 KiB window), pieces of the dictionary and
// random bytes; each input must come back.
func TestCompressBodyRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	compressed, long := 0, 0
	for n := range 300 {
		var b []byte
		for size := r.IntN(120000); len(b) < size; {
			switch k := r.IntN(4); {
			case k == 0 || len(b) == 0:
				for range r.IntN(50) {
					b = append(b, byte(r.IntN(256)))
				}
			case k == 1:
				i := r.IntN(len(eventDictV1))
				b = append(b, eventDictV1[i:min(len(eventDictV1), i+r.IntN(300))]...)
			case k == 2:
				b = append(b, bytes.Repeat([]byte{byte(r.IntN(256))}, r.IntN(700))...)
			default:
				from := max(0, len(b)-1-r.IntN(80000))
				l := r.IntN(600)
				for j := range l { // may overlap what it appends
					b = append(b, b[from+j])
				}
			}
		}
		// Both forms: the one written today, and bodyZstdV1, still read.
		for _, f := range []struct {
			tag      byte
			compress func(dst, body []byte) []byte
		}{{bodyS2DictV1, compressBody}, {bodyZstdV1, compressBodyZstd}} {
			stored := f.compress(nil, b)
			if len(b) > 0 && stored[0] != f.tag && !bytes.Equal(stored, b) {
				t.Fatalf("input %d, form %#x: stored neither compressed nor as is", n, f.tag)
			}
			if len(b) == 0 || stored[0] != f.tag {
				continue
			}
			got, err := bodyJSON(stored, new(bytes.Buffer))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("input %d (%d bytes), form %#x: round trip failed: %v", n, len(b), f.tag, err)
			}
			compressed++
			if len(b) > zstdWindow {
				long++
			}
		}
	}
	if compressed < 500 || long < 100 {
		t.Errorf("only %d inputs compressed, %d longer than the window: the test does not test much", compressed, long)
	}
}

// TestCompressBodyConcurrent: the shared encoder and decoder serve many
// goroutines at once (run with -race).
func TestCompressBodyConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var buf bytes.Buffer
			var stored []byte
			for i := range 50 {
				want, _ := json.Marshal(runbookEvaluation(int64(i+1), r))
				stored = compressBody(stored[:0], want)
				got, err := bodyJSON(stored, &buf)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("goroutine %d, body %d: round trip failed: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFlateV1BodiesStillRead: bodies that canary's own DEFLATE encoder
// wrote (tag bodyFlateV1, schema versions 4 and later, before
// bodyZstdV1) still read, directly and through a real store.
// testdata/body-flate-v1.bin is such a body as stored, and
// testdata/body-flate-v1.json the JSON it was made from.
func TestFlateV1BodiesStillRead(t *testing.T) {
	stored, err := os.ReadFile("testdata/body-flate-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/body-flate-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if stored[0] != bodyFlateV1 {
		t.Fatalf("fixture starts with %#x, want bodyFlateV1", stored[0])
	}
	got, err := bodyJSON(stored, new(bytes.Buffer))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}

	s, _ := openTest(t)
	ctx := context.Background()
	rl := create(t, s, "shop/checkout")
	var old canary.Event
	if err := json.Unmarshal(want, &old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO events (rollout_id, seq, time, type, body) VALUES (?, ?, ?, ?, ?)`,
		rl.ID, old.Seq, nanos(old.Time), string(old.Type), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE rollouts SET event_seq = ? WHERE id = ?`, old.Seq, rl.ID); err != nil {
		t.Fatal(err)
	}
	next := runbookEvaluation(old.Seq+1, rand.New(rand.NewPCG(7, 8)))
	if err := s.Commit(ctx, rl.ID, state("checkout", next.Seq, canary.PhaseProgressing), []canary.Event{next}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, rl.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	if !sameJSON(t, evs[0], old) {
		t.Errorf("old DEFLATE event: got %+v, want %+v", evs[0], old)
	}
	if !sameJSON(t, evs[1], next) {
		t.Errorf("new event: got %+v, want %+v", evs[1], next)
	}
	var tag []byte
	if err := s.w.QueryRowContext(ctx, `SELECT substr(body, 1, 1) FROM events WHERE rollout_id = ? AND seq = ?`, rl.ID, next.Seq).Scan(&tag); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tag, []byte{bodyS2DictV1}) {
		t.Errorf("new body starts with %x, want %#x", tag, bodyS2DictV1)
	}
}

// TestZstdBodiesStillRead opens a database of schema version 8, whose
// compressed bodies are bodyZstdV1 (and its snapshot S2): it migrates to
// the current version, its events read as they were written, and the
// next commit continues the log with a bodyS2DictV1 body.
func TestZstdBodiesStillRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "canary.db")
	db, err := sql.Open("sqlite", dsn(Config{Path: path, BusyTimeout: DefaultBusyTimeout}, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations[:8], false); err != nil {
		t.Fatal(err)
	}
	st, _ := json.Marshal(state("checkout", 2, canary.PhaseProgressing))
	if _, err := db.ExecContext(ctx, `INSERT INTO rollouts (name, generation, plan, plan_sha256, phase, event_seq, state, created_at, updated_at)
		VALUES ('shop/checkout', 1, 'plan', 'x', 'Progressing', 2, ?, 1, 1)`, compressState(nil, st)); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	old := []canary.Event{runbookEvaluation(1, r), runbookEvaluation(2, r)}
	for _, ev := range old {
		body, _ := json.Marshal(ev)
		stored := compressBodyZstd(nil, body)
		if stored[0] != bodyZstdV1 {
			t.Fatalf("fixture body %d not zstd", ev.Seq)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO events (rollout_id, seq, time, type, body) VALUES (1, ?, ?, ?, ?)`,
			ev.Seq, nanos(ev.Time), string(ev.Type), stored); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := count(t, s, `SELECT version FROM schema_version`); v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
	next := runbookEvaluation(3, r)
	if err := s.Commit(ctx, 1, state("checkout", 3, canary.PhaseProgressing), []canary.Event{next}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append(old, next)
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameJSON(t, got[i], want[i]) {
			t.Errorf("event %d: got %+v, want %+v", i+1, got[i], want[i])
		}
	}
	var tags []byte
	for seq := 1; seq <= 3; seq++ {
		var tag []byte
		if err := s.w.QueryRowContext(ctx, `SELECT substr(body, 1, 1) FROM events WHERE rollout_id = 1 AND seq = ?`, seq).Scan(&tag); err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag...)
	}
	if want := []byte{bodyZstdV1, bodyZstdV1, bodyS2DictV1}; !bytes.Equal(tags, want) {
		t.Errorf("bodies' forms %x, want %x (two old zstd, the new one S2)", tags, want)
	}
}

// TestS2DictV1Fixture: a bodyS2DictV1 body as this version stored it
// (testdata/body-s2dict-v1.bin, made from testdata/body-s2dict-v1.json)
// decodes to its JSON. The dictionary and its first repeat offset are
// part of the format: a change to either (or to how s2 reads them) fails
// here instead of on users' stored events.
func TestS2DictV1Fixture(t *testing.T) {
	stored, err := os.ReadFile("testdata/body-s2dict-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/body-s2dict-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if stored[0] != bodyS2DictV1 {
		t.Fatalf("fixture starts with %#x, want bodyS2DictV1", stored[0])
	}
	got, err := bodyJSON(stored, new(bytes.Buffer))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
}
