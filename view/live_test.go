package view

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/canary-dev/canary/engine"
)

// TestLiveRedrawBytes pins the exact bytes of two updates with a
// permanent line between them, the second block one line taller.
func TestLiveRedrawBytes(t *testing.T) {
	d := newDrive(t, runbookPlan())
	d.runTo(t0.Add(10 * minute))
	var buf bytes.Buffer
	live := NewLive(&buf, Options{Width: 100})

	if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
		t.Fatal(err)
	}
	first := d.status(100)
	if n := strings.Count(first, "\n"); n != 11 {
		t.Fatalf("first block has %d lines, want 11:\n%s", n, first)
	}
	if err := live.Println("+10m      PAUSED       step 1    5%  ⏸ paused at step 1 (5%): paused by alice\n"); err != nil {
		t.Fatal(err)
	}
	d.control(engine.Command{Kind: engine.CmdPause, Actor: "alice"})
	d.runTo(t0.Add(11 * minute))
	if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
		t.Fatal(err)
	}
	second := d.status(100)
	if n := strings.Count(second, "\n"); n != 12 {
		t.Fatalf("second block has %d lines, want 12 (the pause reason added one):\n%s", n, second)
	}
	if err := live.Println("after"); err != nil {
		t.Fatal(err)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	// After Close the block stays; lines go below it and updates do nothing.
	if err := live.Println("closed"); err != nil {
		t.Fatal(err)
	}
	if err := live.Update(d.Plan, d.State, d.Last, d.Now.Add(minute)); err != nil {
		t.Fatal(err)
	}

	want := first +
		"\x1b[11A\x1b[J" + "+10m      PAUSED       step 1    5%  ⏸ paused at step 1 (5%): paused by alice\n" + first +
		"\x1b[11A\x1b[J" + second +
		"\x1b[12A\x1b[J" + "after\n" + second +
		"closed\n"
	if got := buf.String(); got != want {
		t.Errorf("bytes differ\n got: %q\nwant: %q", got, want)
	}
}

func TestLiveSkipsIdenticalBlock(t *testing.T) {
	d := newDrive(t, runbookPlan())
	d.runTo(t0.Add(10 * minute))
	var buf bytes.Buffer
	live := NewLive(&buf, Options{Width: 80})
	for range 3 {
		if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := buf.String(), Status(d.Plan, d.State, d.Last, d.Now, 80); got != want {
		t.Errorf("three identical updates wrote\n%q\nwant one block\n%q", got, want)
	}
}

// TestLiveHeight cuts a block taller than the terminal, so the redraw can
// reach its top.
func TestLiveHeight(t *testing.T) {
	d := newDrive(t, runbookPlan())
	d.runTo(t0.Add(10 * minute))
	var buf bytes.Buffer
	live := NewLive(&buf, Options{Width: 100, Height: 6})
	if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
		t.Fatal(err)
	}
	full := strings.SplitAfter(d.status(100), "\n")
	want := strings.Join(full[:4], "") + "… 7 more lines (enlarge the terminal)\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if err := live.Println("x"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimPrefix(buf.String(), want); !strings.HasPrefix(got, "\x1b[5A\x1b[J") {
		t.Errorf("redraw after a 5-line block starts %q, want ESC[5A ESC[J", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestLiveWriteError(t *testing.T) {
	d := newDrive(t, runbookPlan())
	live := NewLive(failingWriter{}, Options{Width: 80})
	err := live.Update(d.Plan, d.State, d.Last, d.Now)
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("Update error = %v, want the writer's", err)
	}
}

// screen is a minimal terminal: text, newline, ESC[nA (cursor up) and
// ESC[J (clear to the end of the screen). It fails on a cursor move or
// clear anywhere but the start of a line, which would corrupt the redraw.
type screen struct {
	rows []string
	y    int // cursor row
	col  int // cursor column, in bytes
	bad  string
}

var csi = regexp.MustCompile(`^\x1b\[(\d*)([AJ])`)

func (s *screen) Write(p []byte) (int, error) {
	b := string(p)
	for len(b) > 0 {
		if m := csi.FindStringSubmatch(b); m != nil {
			if s.col != 0 {
				s.bad = fmt.Sprintf("escape %q at column %d", m[0], s.col)
			}
			if m[2] == "A" {
				n, _ := strconv.Atoi(m[1])
				s.y -= n
				if s.y < 0 {
					s.bad = "cursor moved above the screen"
					s.y = 0
				}
			} else {
				s.rows = s.rows[:min(s.y, len(s.rows))]
			}
			b = b[len(m[0]):]
			continue
		}
		i := strings.IndexAny(b, "\n\x1b")
		switch {
		case i == 0 && b[0] == '\n':
			s.y++
			s.col = 0
			b = b[1:]
			continue
		case i == 0:
			s.bad = fmt.Sprintf("unknown escape in %q", b)
			return len(p), nil
		case i < 0:
			i = len(b)
		}
		for len(s.rows) <= s.y {
			s.rows = append(s.rows, "")
		}
		if len(s.rows[s.y]) != s.col {
			s.bad = fmt.Sprintf("text %q written over row %d", b[:i], s.y)
		}
		s.rows[s.y] += b[:i]
		s.col += i
		b = b[i:]
	}
	return len(p), nil
}

// TestLiveConcurrent has goroutines print lines and update the block at
// once; the screen must end with every line once, in each goroutine's
// order, and one whole block below them.
func TestLiveConcurrent(t *testing.T) {
	a := newDrive(t, runbookPlan())
	a.runTo(t0.Add(10 * minute))
	b := newDrive(t, runbookPlan())
	b.runTo(t0.Add(40 * minute))
	final := a.status(80)

	scr := &screen{}
	live := NewLive(scr, Options{Width: 80})
	const n = 200
	var wg sync.WaitGroup
	for _, src := range []string{"a", "b"} {
		wg.Go(func() {
			for i := range n {
				if err := live.Println(fmt.Sprintf("%s-%d", src, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, d := range []*drive{a, b} {
		wg.Go(func() {
			for range n {
				if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := live.Update(a.Plan, a.State, a.Last, a.Now); err != nil {
		t.Fatal(err)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if scr.bad != "" {
		t.Fatal(scr.bad)
	}
	if len(scr.rows) < 2*n {
		t.Fatalf("screen has %d rows, want at least %d", len(scr.rows), 2*n)
	}
	next := map[string]int{}
	for _, r := range scr.rows[:2*n] {
		src, num, _ := strings.Cut(r, "-")
		if i, err := strconv.Atoi(num); err != nil || i != next[src] {
			t.Fatalf("row %q out of order (want %s-%d)", r, src, next[src])
		}
		next[src]++
	}
	gotBlock := strings.Join(scr.rows[2*n:], "\n") + "\n"
	if gotBlock != final {
		t.Errorf("screen ends with\n%s\nwant the last update's block\n%s", gotBlock, final)
	}
	if scr.y != len(scr.rows) {
		t.Errorf("cursor on row %d, want %d (below the block)", scr.y, len(scr.rows))
	}
}

// TestLiveNotATerminal falls back to 80 columns for a plain writer.
func TestLiveNotATerminal(t *testing.T) {
	d := scenarios[0].setup(t)
	var buf bytes.Buffer
	live := NewLive(&buf, Options{})
	if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), d.status(defaultWidth); got != want {
		t.Errorf("got:\n%s\nwant the 80-column block:\n%s", got, want)
	}
}
