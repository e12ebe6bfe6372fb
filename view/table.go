package view

import (
	"strconv"
	"time"

	"github.com/canary-dev/canary"
)

// Column titles of the rules table.
const (
	colRule      = "RULE"
	colCanary    = "CANARY"
	colThreshold = "THRESHOLD"
	colStable    = "STABLE"
	colSamples   = "SAMPLES"
	colVerdict   = "VERDICT"
)

// colGap is the space between columns.
const colGap = 2

// minNameWidth is how narrow the rule column gets before columns are
// dropped; lastNameWidth how narrow it gets after.
const (
	minNameWidth  = 16
	lastNameWidth = 6
)

// dropOrder is which columns go, in order, when the table is too wide.
var dropOrder = []string{colSamples, colStable, colThreshold}

type cell struct {
	text string
	st   style
}

type column struct {
	title string
	right bool // right-aligned
	cells []cell
	width int
}

func (c *column) natural() int {
	w := textWidth(c.title)
	for _, x := range c.cells {
		w = max(w, textWidth(x.text))
	}
	return w
}

func (c *column) empty() bool {
	for _, x := range c.cells {
		if x.text != "" {
			return false
		}
	}
	return true
}

// rules adds the rules table: one row per rule of the plan.
func (b *block) rules() {
	if len(b.p.Spec.Rules) == 0 {
		return
	}
	cols := []*column{{title: colRule}, {title: colCanary, right: true}, {title: colThreshold, right: true},
		{title: colStable, right: true}, {title: colSamples, right: true}, {title: colVerdict}}
	for i, r := range b.p.Spec.Rules {
		for j, c := range b.row(i, r) {
			cols[j].cells = append(cols[j].cells, c)
		}
	}
	var kept []*column
	for _, c := range cols {
		if (c.title == colStable || c.title == colSamples) && c.empty() {
			continue
		}
		c.width = c.natural()
		kept = append(kept, c)
	}
	kept = layout(kept, b.width)
	head := make(line, 0, 2*len(kept))
	for i, c := range kept {
		head = append(head, pad(cell{c.title, dim}, c, i == len(kept)-1)...)
	}
	b.emit(head)
	for r := range b.p.Spec.Rules {
		var l line
		for i, c := range kept {
			l = append(l, pad(c.cells[r], c, i == len(kept)-1)...)
		}
		b.emit(l)
	}
}

// pad truncates and aligns x in column c, followed by the gap unless last.
func pad(x cell, c *column, last bool) line {
	t := truncate(x.text, c.width)
	fill := c.width - textWidth(t)
	var l line
	if c.right {
		l.add(padLeft("", fill), plain)
		l.add(t, x.st)
	} else {
		l.add(t, x.st)
		l.add(padRight("", fill), plain)
	}
	if !last {
		l.add(padRight("", colGap), plain)
	}
	return l
}

func tableWidth(cols []*column) int {
	w := colGap * (len(cols) - 1)
	for _, c := range cols {
		w += c.width
	}
	return w
}

// layout fits the table in width: it narrows the rule column to
// minNameWidth, then drops the samples, stable and threshold columns, then
// narrows the rule column further; the line's own truncation cuts the rest.
func layout(cols []*column, width int) []*column {
	if width <= 0 || tableWidth(cols) <= width {
		return cols
	}
	name := cols[0]
	natural := name.width
	narrow := func(least int) {
		least = min(least, natural)
		name.width = min(natural, max(least, width-(tableWidth(cols)-name.width)))
	}
	narrow(minNameWidth)
	for _, title := range dropOrder {
		if tableWidth(cols) <= width {
			return cols
		}
		for i, c := range cols {
			if c.title == title {
				cols = append(cols[:i:i], cols[i+1:]...)
				break
			}
		}
		narrow(minNameWidth)
	}
	if tableWidth(cols) > width {
		narrow(lastNameWidth)
	}
	return cols
}

// row is one rule's cells: name, canary value, threshold, stable value,
// samples, verdict.
func (b *block) row(i int, r canary.Rule) []cell {
	name := r.DisplayName()
	q, op := r.Threshold()
	var rs canary.RuleState
	if i < len(b.st.Rules) {
		rs = b.st.Rules[i]
	}
	ev, found := b.evaluation(name)
	verdict, value, samples := rs.Verdict, rs.Value, rs.Samples
	if found {
		verdict, value, samples = ev.Verdict, ev.Value, ev.Samples
	}
	cells := make([]cell, 6)
	cells[0] = cell{name, plain}
	cells[1] = cell{"–", dim}
	if verdict.Judged() {
		st := plain
		if verdict == canary.VerdictBreach {
			st = bRed
		}
		cells[1] = cell{canary.FormatValue(q.Kind, value), st}
	}
	sym := ">"
	if op == "below" {
		sym = "<"
	}
	cells[2] = cell{sym + " " + q.Text, plain}
	if found && ev.Stable != nil {
		cells[3] = cell{canary.FormatValue(q.Kind, *ev.Stable), plain}
	}
	if samples > 0 || verdict == canary.VerdictInsufficient {
		st := plain
		if verdict == canary.VerdictInsufficient {
			st = yellow
		}
		cells[4] = cell{strconv.FormatInt(samples, 10), st}
	}
	cells[5] = b.verdict(r, rs, ev, found, verdict)
	return cells
}

// evaluation finds rule name's evaluation in the latest ones.
func (b *block) evaluation(name string) (canary.Evaluation, bool) {
	for _, e := range b.last {
		if e.Rule == name {
			return e, true
		}
	}
	return canary.Evaluation{}, false
}

// evaluating reports whether rules are being judged now, so their pending
// timers run on between evaluations.
func (b *block) evaluating() bool {
	return b.st.Phase == canary.PhaseProgressing ||
		(b.st.Phase == canary.PhasePaused && b.st.PausedFrom == canary.PhaseProgressing)
}

// verdict is "pass", "pending 2m30s of 5m", "FIRING 5m30s", ...
func (b *block) verdict(r canary.Rule, rs canary.RuleState, ev canary.Evaluation, found bool, v canary.Verdict) cell {
	firing := rs.Firing || (found && ev.Firing)
	pending := !rs.ActiveAt.IsZero() || (found && ev.PendingFor > 0)
	var held time.Duration
	switch {
	case !rs.ActiveAt.IsZero() && b.evaluating():
		held = b.now.Sub(rs.ActiveAt)
	case found:
		held = ev.PendingFor
	}
	switch {
	case firing:
		s := "FIRING"
		if held > 0 {
			s += " " + dur(held)
		}
		return cell{s, bRed}
	case pending:
		s := "pending " + dur(held) + " of " + dur(b.forDuration(r))
		if v != canary.VerdictBreach && v != "" {
			s += " · " + string(v)
		}
		return cell{s, bYel}
	}
	switch v {
	case canary.VerdictPass:
		return cell{"pass", green}
	case canary.VerdictBreach:
		return cell{"breach", bRed}
	case canary.VerdictInsufficient, canary.VerdictNoData:
		return cell{string(v), yellow}
	case canary.VerdictError:
		return cell{"error", red}
	case "":
		return cell{"waiting", dim}
	}
	return cell{string(v), plain}
}
