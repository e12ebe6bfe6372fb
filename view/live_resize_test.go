package view

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// reflowScreen is a terminal that reflows its lines when its window is
// resized, as tmux, VTE (GNOME Terminal), iTerm2 and Windows Terminal do:
// it keeps the lines written (each ended by a newline) and lays them out
// on rows of its current width, so a line wider than the window wraps
// onto more rows. It understands text, newline and the redraw's ESC[nA
// followed by ESC[J at the start of a row; moving up into the middle of a
// wrapped line and clearing keeps that line's rows above the cursor, the
// fragment a person sees.
type reflowScreen struct {
	width int
	lines []string // finished lines
	cur   string   // the line being written
	up    int      // rows the cursor was moved up, pending ESC[J
	bad   string
}

var redrawCSI = regexp.MustCompile(`^\x1b\[(\d*)([AJ])`)

func (s *reflowScreen) size() (width, height int) { return s.width, 50 }

// rowsOf is how many rows line takes at the screen's width.
func (s *reflowScreen) rowsOf(line string) int {
	return max(1, (textWidth(line)+s.width-1)/s.width)
}

func (s *reflowScreen) Write(p []byte) (int, error) {
	b := string(p)
	for len(b) > 0 {
		if m := redrawCSI.FindStringSubmatch(b); m != nil {
			if s.cur != "" {
				s.bad = fmt.Sprintf("escape %q in the middle of a line", m[0])
			}
			if m[2] == "A" {
				s.up, _ = strconv.Atoi(m[1])
			} else {
				s.clear()
			}
			b = b[len(m[0]):]
			continue
		}
		i := strings.IndexAny(b, "\n\x1b")
		switch {
		case i == 0 && b[0] == '\n':
			s.lines = append(s.lines, s.cur)
			s.cur = ""
			b = b[1:]
			continue
		case i == 0:
			s.bad = fmt.Sprintf("unknown escape in %q", b)
			return len(p), nil
		case i < 0:
			i = len(b)
		}
		s.cur += b[:i]
		b = b[i:]
	}
	return len(p), nil
}

// clear removes everything from the row s.up rows above the cursor.
func (s *reflowScreen) clear() {
	for s.up > 0 {
		if len(s.lines) == 0 {
			s.bad = "cursor moved above the screen"
			break
		}
		last := s.lines[len(s.lines)-1]
		s.lines = s.lines[:len(s.lines)-1]
		r := s.rowsOf(last)
		if s.up < r {
			// Within a wrapped line: its first rows stay.
			s.cur, _ = cut(last, (r-s.up)*s.width)
		}
		s.up -= min(r, s.up)
	}
	s.up = 0
}

// TestLiveRedrawAfterResize draws the block in a 100-column window, makes
// the window 60 columns wide (the block's 70-column table rows now wrap
// onto two rows each) and later 120: every redraw must leave exactly the
// permanent lines and the latest block on screen, no fragment of an older
// block. Moving up by the block's line count instead of its rows at the
// new width left its top lines behind (seen with `canary demo` in tmux).
func TestLiveRedrawAfterResize(t *testing.T) {
	d := newDrive(t, runbookPlan())
	d.runTo(t0.Add(10 * minute))
	scr := &reflowScreen{width: 100}
	live := NewLive(scr, Options{})
	live.termSize = scr.size
	var permanent []string

	check := func(when string) {
		t.Helper()
		if scr.bad != "" {
			t.Fatalf("%s: %s", when, scr.bad)
		}
		want := append(append([]string{}, permanent...), strings.Split(strings.TrimSuffix(d.status(scr.width), "\n"), "\n")...)
		if got := append(scr.lines, scr.cur); strings.Join(got, "\n") != strings.Join(append(want, ""), "\n") {
			t.Fatalf("%s: the screen (%d columns) shows\n%s\nwant the permanent lines and the latest block:\n%s",
				when, scr.width, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	println := func(line string) {
		t.Helper()
		if err := live.Println(line); err != nil {
			t.Fatal(err)
		}
		permanent = append(permanent, line)
	}
	update := func() {
		t.Helper()
		if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
			t.Fatal(err)
		}
	}

	update()
	check("first draw")
	if w := textWidth(strings.Split(d.status(100), "\n")[4]); w <= 60 {
		t.Fatalf("the table's header is %d columns wide at 100: the test needs rows wider than 60", w)
	}
	println("+10m     event before the resize")
	check("a line above the block")

	scr.width = 60
	d.runTo(t0.Add(11 * minute))
	update()
	check("redraw after narrowing to 60 columns")
	println("+11m     event after the resize")
	check("a line after narrowing")

	scr.width = 120
	d.runTo(t0.Add(12 * minute))
	update()
	check("redraw after widening to 120 columns")
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
}
