package view

import "strings"

// style is an ANSI SGR parameter list ("1;31"); empty is plain.
type style string

// The styles the block uses.
const (
	plain  style = ""
	bold   style = "1"
	dim    style = "2"
	red    style = "31"
	green  style = "32"
	yellow style = "33"
	cyan   style = "36"
	bRed   style = "1;31"
	bGreen style = "1;32"
	bYel   style = "1;33"
	bCyan  style = "1;36"
)

// seg is a run of text in one style.
type seg struct {
	text string
	st   style
}

// line is one line of the block as styled runs, so that width and
// truncation are computed on the text alone and escape sequences are only
// added when rendering.
type line []seg

// add appends text in style st.
func (l *line) add(text string, st style) { *l = append(*l, seg{text, st}) }

func (l line) width() int {
	n := 0
	for _, s := range l {
		n += textWidth(s.text)
	}
	return n
}

// fit truncates l to w columns, ending it with "…" when cut; w ≤ 0 means
// no limit.
func (l line) fit(w int) line {
	if w <= 0 || l.width() <= w {
		return l
	}
	var out line
	left := w - 1
	for _, s := range l {
		tw := textWidth(s.text)
		if tw <= left {
			out = append(out, s)
			left -= tw
			continue
		}
		head, _ := cut(s.text, left)
		out = append(out, seg{head + ellipsis, s.st})
		return out
	}
	return out
}

// render writes l, with SGR sequences when color is set. Trailing spaces
// are dropped so lines do not carry padding.
func (l line) render(color bool) string {
	l = l.trimRight()
	var b strings.Builder
	for _, s := range l {
		if color && s.st != plain && strings.TrimSpace(s.text) != "" {
			b.WriteString("\x1b[" + string(s.st) + "m" + s.text + "\x1b[0m")
			continue
		}
		b.WriteString(s.text)
	}
	return b.String()
}

// trimRight drops trailing spaces.
func (l line) trimRight() line {
	out := append(line(nil), l...)
	for len(out) > 0 {
		last := &out[len(out)-1]
		last.text = strings.TrimRight(last.text, " ")
		if last.text != "" {
			break
		}
		out = out[:len(out)-1]
	}
	return out
}
