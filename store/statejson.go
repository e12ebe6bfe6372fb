package store

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/canary-dev/canary"
)

// appendStateJSON appends st's JSON to dst, byte for byte what
// encoding/json writes for it (json.Marshal, and Encoder.Encode without
// its newline), or reports ok false when it cannot promise that (a
// non-finite float, a time json would refuse): the caller then encodes with encoding/json.
//
// A snapshot is rewritten at every commit: encoding/json's reflection
// over a runbook rollout's ~4.6 KB of state (six rules, their last ten
// windows of counts) was ~10% of canary's CPU at 1,000 rollouts evaluated
// every second (BENCHMARKS.md, "Rollouts at scale"). The rare parts
// (outstanding actions, baseline evidence) still go through
// encoding/json. statejson_test.go compares the two on states with every
// field set (found by reflection, so a new field fails it until it is
// written here too) and on the states of real rollouts.
func appendStateJSON(dst []byte, st *canary.State) (_ []byte, ok bool) {
	w := jw{b: dst, ok: true}
	w.b = append(w.b, `{"name":`...)
	w.str(st.Name)
	w.key(`"version":`)
	w.str(st.Version)
	w.key(`"phase":`)
	w.str(string(st.Phase))
	if st.PausedFrom != "" {
		w.key(`"pausedFrom":`)
		w.str(string(st.PausedFrom))
	}
	if st.PauseReason != "" {
		w.key(`"pauseReason":`)
		w.str(st.PauseReason)
	}
	w.timeZ(`"pausedAt":`, st.PausedAt)
	w.key(`"step":`)
	w.int(int64(st.Step))
	w.timeZ(`"stepStartedAt":`, st.StepStartedAt)
	w.key(`"judged":`)
	w.int(int64(st.Judged))
	w.key(`"evaluations":`)
	w.int(int64(st.Evaluations))
	w.key(`"judgedTime":`)
	w.int(int64(st.JudgedTime))
	w.timeZ(`"lastEvalAt":`, st.LastEvalAt)
	w.intE(`"tick":`, int64(st.Tick))
	w.intE(`"outageTime":`, int64(st.OutageTime))
	w.key(`"weight":`)
	w.int(int64(st.Weight))
	w.key(`"flagPercent":`)
	w.int(int64(st.FlagPercent))
	w.key(`"flagEnabled":`)
	w.bool(st.FlagEnabled)
	w.boolE(`"holdDone":`, st.HoldDone)
	w.boolE(`"approved":`, st.Approved)
	w.timeZ(`"approvalSince":`, st.ApprovalSince)
	w.timeZ(`"approvalAskAt":`, st.ApprovalAskAt)
	w.key(`"rules":`)
	w.rules(st.Rules)
	w.timeZ(`"nextEvalAt":`, st.NextEvalAt)
	if len(st.Outstanding) > 0 {
		w.key(`"outstanding":`)
		w.marshal(st.Outstanding)
	}
	w.timeZ(`"failingSince":`, st.FailingSince)
	w.timeZ(`"retryAt":`, st.RetryAt)
	w.strE(`"lastError":`, st.LastError)
	w.boolE(`"escalated":`, st.Escalated)
	w.key(`"actionSeq":`)
	w.int(st.ActionSeq)
	w.key(`"eventSeq":`)
	w.int(st.EventSeq)
	w.strE(`"stage":`, st.Stage)
	w.strE(`"rollbackKind":`, st.RollbackKind)
	w.strE(`"rollbackReason":`, st.RollbackReason)
	w.strE(`"rollbackUrgency":`, string(st.RollbackUrgency))
	w.timeZ(`"drainUntil":`, st.DrainUntil)
	if st.BaselineBurn != nil {
		w.key(`"baselineBurn":`)
		w.float(*st.BaselineBurn)
	}
	w.intE(`"baselineRequests":`, st.BaselineRequests)
	w.boolE(`"baselineTaken":`, st.BaselineTaken)
	w.boolE(`"extended":`, st.Extended)
	if len(st.LastValues) > 0 {
		w.key(`"lastValues":`)
		w.floats(st.LastValues)
	}
	w.strE(`"outcome":`, string(st.Outcome))
	w.timeZ(`"createdAt":`, st.CreatedAt)
	w.timeZ(`"updatedAt":`, st.UpdatedAt)
	w.timeZ(`"finishedAt":`, st.FinishedAt)
	w.b = append(w.b, '}')
	return w.b, w.ok
}

// jw appends JSON as encoding/json writes it; ok turns false at the
// first value it cannot write the same way.
type jw struct {
	b  []byte
	ok bool
}

func (w *jw) key(k string) { w.b = append(append(w.b, ','), k...) }

func (w *jw) int(v int64) { w.b = strconv.AppendInt(w.b, v, 10) }

func (w *jw) intE(k string, v int64) {
	if v != 0 {
		w.key(k)
		w.int(v)
	}
}

func (w *jw) bool(v bool) { w.b = strconv.AppendBool(w.b, v) }

func (w *jw) boolE(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

func (w *jw) strE(k, v string) {
	if v != "" {
		w.key(k)
		w.str(v)
	}
}

// str writes s as encoding/json does with HTML escaping: '"' and '\\'
// and control characters escaped, '<', '>' and '&' as \u003c, \u003e,
// \u0026. A string with invalid UTF-8 or U+2028/U+2029 (which json
// rewrites) goes through encoding/json.
func (w *jw) str(s string) {
	start := len(w.b)
	w.b = append(w.b, '"')
	done := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
				w.b = w.b[:start]
				w.marshal(s)
				return
			}
			i += n
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			i++
			continue
		}
		w.b = append(w.b, s[done:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\b':
			w.b = append(w.b, '\\', 'b')
		case '\f':
			w.b = append(w.b, '\\', 'f')
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		case '\t':
			w.b = append(w.b, '\\', 't')
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		done = i
	}
	w.b = append(append(w.b, s[done:]...), '"')
}

const hexDigits = "0123456789abcdef"

// floats writes a map of floats as encoding/json does: keys sorted.
func (w *jw) floats(m map[string]float64) {
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.b = append(w.b, '{')
	for i, k := range keys {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.str(k)
		w.b = append(w.b, ':')
		w.float(m[k])
	}
	w.b = append(w.b, '}')
}

// timeZ writes a time field that is omitted when zero (omitzero), as
// time.Time's MarshalJSON does: RFC 3339 with nanoseconds, for years 0
// to 9999 (outside them json fails, and so does this).
func (w *jw) timeZ(k string, t time.Time) {
	if t.IsZero() {
		return
	}
	w.key(k)
	w.time(t)
}

// time writes t as time.Time's MarshalJSON does.
func (w *jw) time(t time.Time) {
	n0 := len(w.b) + 1
	w.b = t.AppendFormat(append(w.b, '"'), time.RFC3339Nano)
	// time's MarshalJSON refuses what RFC 3339 cannot say: a year not of
	// four digits, a zone offset of 24 hours or more, or with seconds.
	b := w.b
	switch {
	case b[n0+len("9999")] != '-':
		w.ok = false
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		if ('0' <= c && c <= '9') || 10*(b[len(b)-5]-'0')+(b[len(b)-4]-'0') >= 24 {
			w.ok = false
		}
	}
	w.b = append(w.b, '"')
}

// float writes v as encoding/json's float64 encoder does.
func (w *jw) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		w.ok = false
		return
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	start := len(w.b)
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		n := len(w.b) - start
		if n >= 4 && w.b[len(w.b)-4] == 'e' && w.b[len(w.b)-3] == '-' && w.b[len(w.b)-2] == '0' {
			w.b[len(w.b)-2] = w.b[len(w.b)-1]
			w.b = w.b[:len(w.b)-1]
		}
	}
}

// marshal writes v through encoding/json (HTML-escaped, as the Encoder).
func (w *jw) marshal(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.ok = false
		return
	}
	w.b = append(w.b, b...)
}

func (w *jw) rules(rs []canary.RuleState) {
	if rs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i := range rs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.rule(&rs[i])
	}
	w.b = append(w.b, ']')
}

func (w *jw) rule(r *canary.RuleState) {
	w.b = append(w.b, `{"name":`...)
	w.str(r.Name)
	w.strE(`"verdict":`, string(r.Verdict))
	w.timeZ(`"activeAt":`, r.ActiveAt)
	w.boolE(`"firing":`, r.Firing)
	w.intE(`"streak":`, int64(r.Streak))
	w.intE(`"streakTick":`, int64(r.StreakTick))
	if len(r.Windows) > 0 {
		w.key(`"windows":[`)
		for i := range r.Windows {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			wc := &r.Windows[i]
			w.b = append(w.b, `{"tick":`...)
			w.int(int64(wc.Tick))
			w.key(`"requests":`)
			w.int(wc.Requests)
			w.key(`"hits":`)
			w.int(wc.Hits)
			w.intE(`"hitsHigh":`, wc.HitsHigh)
			w.intE(`"canary":`, wc.Canary)
			w.intE(`"stable":`, wc.Stable)
			w.intE(`"stableHits":`, wc.StableHits)
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.key(`"value":`)
	w.float(r.Value)
	w.key(`"samples":`)
	w.int(r.Samples)
	w.strE(`"detail":`, r.Detail)
	if r.Baseline != nil {
		w.key(`"baseline":`)
		w.marshal(r.Baseline)
	}
	w.b = append(w.b, '}')
}
