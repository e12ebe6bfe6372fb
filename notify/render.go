package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// where says where the rollout was at ev, as a label and a value: "Step",
// "2, 10% of traffic"; or, once it has ended, "Outcome", "RolledBack at
// step 2".
func where(ev canary.Event) (label, value string) {
	if ev.Phase.Terminal() {
		return "Outcome", fmt.Sprintf("%s at step %d", ev.Phase, ev.Step+1)
	}
	return "Step", fmt.Sprintf("%d, %d%% of traffic", ev.Step+1, ev.Weight)
}

// whereInline is where for a line of text: "step 2, 10% of traffic".
func whereInline(ev canary.Event) string {
	label, value := where(ev)
	if label == "Step" {
		return "step " + value
	}
	return value
}

// valueText formats an evaluation's canary value in its metric's unit, or
// "—" when the verdict judged nothing (too few requests, no data, error).
func valueText(e canary.Evaluation) string {
	if !e.Verdict.Judged() {
		return "—"
	}
	return canary.FormatValue(e.Metric.Kind(), e.Value)
}

// stableText formats an evaluation's stable value, "—" when not measured.
func stableText(e canary.Evaluation) string {
	if e.Stable == nil {
		return "—"
	}
	return canary.FormatValue(e.Metric.Kind(), *e.Stable)
}

// thresholdText is "> 600ms" or "< 50".
func thresholdText(e canary.Evaluation) string {
	op := ">"
	if e.Op == "below" {
		op = "<"
	}
	return op + " " + canary.FormatValue(e.Metric.Kind(), e.Threshold)
}

// verdictText is the verdict, with "firing" for a firing breach.
func verdictText(e canary.Evaluation) string {
	if e.Firing {
		return string(e.Verdict) + " (firing)"
	}
	return string(e.Verdict)
}

// table lays rows out in columns separated by two spaces; the first row
// is the header. Widths count runes.
func table(rows [][]string, indent string) string {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(indent)
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", widths[i]-len([]rune(c))+2))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// evaluationRows are an evaluation table's rows, header first.
func evaluationRows(evals []canary.Evaluation) [][]string {
	rows := [][]string{{"Rule", "Canary", "Stable", "Threshold", "Canary requests", "Verdict"}}
	for _, e := range evals {
		rows = append(rows, []string{e.Rule, valueText(e), stableText(e), thresholdText(e),
			fmt.Sprint(e.Samples), verdictText(e)})
	}
	return rows
}

// timeText is the event's time in UTC, to the second.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// marshal is json.Marshal without escaping <, > and & (rule names are
// full of ">"), for bodies people read.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
