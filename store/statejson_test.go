package store

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// sameStateJSON fails unless appendStateJSON writes st as json.Marshal
// does (or declines it where json.Marshal fails).
func sameStateJSON(t *testing.T, what string, st *canary.State) {
	t.Helper()
	want, err := json.Marshal(st)
	got, ok := appendStateJSON([]byte("prefix"), st)
	if err != nil {
		if ok {
			t.Fatalf("%s: json.Marshal fails (%v) but appendStateJSON wrote %s", what, err, got)
		}
		return
	}
	if !ok {
		t.Fatalf("%s: appendStateJSON declined what json.Marshal writes: %s", what, want)
	}
	if got = bytes.TrimPrefix(got, []byte("prefix")); !bytes.Equal(got, want) {
		t.Fatalf("%s: appendStateJSON differs from json.Marshal\ngot  %s\nwant %s", what, got, want)
	}
}

// fill sets every field reachable from v (structs, pointers, slices of
// two, maps of two) to a value drawn from r, so that no field is
// omitted: a field appendStateJSON does not write fails the comparison.
func fill(v reflect.Value, r *rand.Rand, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
			t := time.Unix(r.Int64N(4e9), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), r, depth)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), r, depth)
	case reflect.Slice:
		if depth > 3 {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), r, depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, r, depth+1)
			fill(e, r, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		words := []string{"Progressing", "shop/checkout", "latencyP95 > 600ms", "a&b", `q"uote\`, "é", "\u2028", "tab\t", "\xff",
			"", "p95 <600ms & >1s", "\x01\b\f\n\r\x1f\x7f", "日本\u2029", "ok\u00e9\U0001F600", "a\xc3"}
		v.SetString(words[r.IntN(len(words))])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(r.Int64N(1<<40) - 1<<39 + 1)
	case reflect.Float64:
		floats := []float64{0.25, 1e-7, 3e21, 123456.789, -2.5e-9, r.Float64(), r.NormFloat64() * 1e6}
		v.SetFloat(floats[r.IntN(len(floats))])
	default:
		panic("fill: no value for " + v.Type().String())
	}
}

// TestStateJSONSameAsEncodingJSON: canary's own encoder of a snapshot
// writes exactly encoding/json's bytes, for states with every field set
// (by reflection: a field added to canary.State or RuleState without
// being written fails here), for the zero state, for runbook rollouts'
// states, and it declines (the store then uses encoding/json) what
// encoding/json refuses.
func TestStateJSONSameAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		var st canary.State
		fill(reflect.ValueOf(&st).Elem(), r, 0)
		sameStateJSON(t, "every field", &st)
		if i == 0 {
			if n := len(st.Rules[0].Windows); n != 2 {
				t.Fatalf("fill: %d windows, want 2", n)
			}
		}
	}
	sameStateJSON(t, "zero", &canary.State{})
	sameStateJSON(t, "empty rules", &canary.State{Rules: []canary.RuleState{}, LastValues: map[string]float64{}})
	for seq := int64(1); seq <= 50; seq++ {
		st := runbookState("shop/checkout", seq, r)
		sameStateJSON(t, "runbook", &st)
	}
	var st canary.State
	fill(reflect.ValueOf(&st).Elem(), r, 0)
	refused := map[string]func(*canary.State){
		"NaN value":       func(s *canary.State) { s.Rules[1].Value = math.NaN() },
		"infinite burn":   func(s *canary.State) { inf := math.Inf(1); s.BaselineBurn = &inf },
		"year 10000":      func(s *canary.State) { s.LastEvalAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year -1":         func(s *canary.State) { s.Rules[0].ActiveAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"offset 24h":      func(s *canary.State) { s.CreatedAt = s.CreatedAt.In(time.FixedZone("z", 24*3600)) },
		"offset seconds":  func(s *canary.State) { s.CreatedAt = s.CreatedAt.In(time.FixedZone("z", 3600+7)) },
		"NaN last value":  func(s *canary.State) { s.LastValues["x"] = math.NaN() },
		"invalid UTF-8":   func(s *canary.State) { s.Name = "a\xffb" },
		"HTML in a rule":  func(s *canary.State) { s.Rules[0].Name = "p95 <600ms & >1s" },
		"offset 23h59m":   func(s *canary.State) { s.CreatedAt = s.CreatedAt.In(time.FixedZone("z", -(23*3600 + 59*60))) },
		"year 0":          func(s *canary.State) { s.UpdatedAt = time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC) },
		"year 9999 UTC-1": func(s *canary.State) { s.UpdatedAt = time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("m", -3600)) },
	}
	for what, change := range refused {
		s := st
		s.Rules = append([]canary.RuleState(nil), st.Rules...)
		s.LastValues = map[string]float64{}
		change(&s)
		sameStateJSON(t, what, &s)
	}
}

// TestEventJSONSameAsEncodingJSON: the same for events, with every
// field set, the zero event, runbook evaluations, and what json refuses.
func TestEventJSONSameAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	same := func(what string, ev *canary.Event) {
		t.Helper()
		want, err := json.Marshal(ev)
		got, ok := appendEventJSON(nil, ev)
		switch {
		case err != nil && ok:
			t.Fatalf("%s: json.Marshal fails (%v) but appendEventJSON wrote %s", what, err, got)
		case err == nil && !ok:
			t.Fatalf("%s: appendEventJSON declined what json.Marshal writes: %s", what, want)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("%s: appendEventJSON differs from json.Marshal\ngot  %s\nwant %s", what, got, want)
		}
	}
	for range 300 {
		var ev canary.Event
		fill(reflect.ValueOf(&ev).Elem(), r, 0)
		same("every field", &ev)
	}
	same("zero", &canary.Event{})
	for seq := int64(1); seq <= 50; seq++ {
		ev := runbookEvaluation(seq, r)
		same("runbook", &ev)
	}
	var ev canary.Event
	fill(reflect.ValueOf(&ev).Elem(), r, 0)
	ev.Evaluations[1].Threshold = math.NaN()
	same("NaN threshold", &ev)
	ev.Evaluations[1].Threshold = 1
	*ev.Evaluations[0].ShortValue = math.Inf(1)
	same("infinite short value", &ev)
	*ev.Evaluations[0].ShortValue = 1
	ev.Time = time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	same("year 12000", &ev)
}

// TestEncodeStateFallsBack: a snapshot canary's encoder declines is still
// stored, through encoding/json, and one json refuses is an error.
func TestEncodeStateFallsBack(t *testing.T) {
	st := runbookState("shop/<checkout>", 12, rand.New(rand.NewPCG(5, 6)))
	e, err := encode(&st, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.release()
	st.Rules[2].Value = math.Inf(-1)
	if e, err = encode(&st, nil); err == nil {
		e.release()
		t.Fatal("a state with an infinite value encoded")
	}
}
