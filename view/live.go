package view

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"golang.org/x/term"
)

// defaultWidth is Live's width when it is neither set nor a terminal's.
const defaultWidth = 80

// Live keeps a rollout's status block at the bottom of a terminal and
// redraws it in place: each Update moves the cursor up over the block
// (ESC [ N A), clears to the end of the screen (ESC [ J) and writes the new
// block; Println does the same, writes a permanent line where the block
// was and draws the block again below it. Every redraw is one Write. The
// block's lines never exceed the width, so none wraps and N is exact.
//
// A Live is safe for concurrent use. Close leaves the last block on
// screen; after it Println writes plain lines and Update does nothing.
type Live struct {
	mu     sync.Mutex
	w      io.Writer
	opts   Options
	fd     int  // the terminal's file descriptor, when w is one
	isTerm bool // whether fd is a terminal
	block  string
	lines  int // lines of the block on screen
	closed bool
}

// NewLive returns a Live that draws on w. When opts.Width or opts.Height
// is 0 and w is a terminal (an *os.File, say), the terminal's size is
// read at each redraw, so the block follows a resized window.
func NewLive(w io.Writer, opts Options) *Live {
	l := &Live{w: w, opts: opts}
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		l.fd = int(f.Fd())
		l.isTerm = term.IsTerminal(l.fd)
	}
	return l
}

// size is the width and height to draw in (height 0: no limit).
func (l *Live) size() (width, height int) {
	width, height = l.opts.Width, l.opts.Height
	if (width <= 0 || height <= 0) && l.isTerm {
		if tw, th, err := term.GetSize(l.fd); err == nil {
			if width <= 0 {
				width = tw
			}
			if height <= 0 {
				height = th
			}
		}
	}
	if width <= 0 {
		width = defaultWidth
	}
	return width, max(height, 0)
}

// Update redraws the block for the rollout's state at now (see Render).
// An identical block is not redrawn.
func (l *Live) Update(plan *canary.Plan, st canary.State, last []canary.Evaluation, now time.Time) error {
	width, height := l.size()
	block := Render(plan, st, last, now, Options{Color: l.opts.Color, Width: width})
	block = clip(block, width, height)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || block == l.block {
		return nil
	}
	l.block = block
	return l.write(l.erase() + block)
}

// Println writes line as a permanent line above the block, which is
// drawn again below it. A trailing newline of line is dropped.
func (l *Live) Println(line string) error {
	line = strings.TrimSuffix(line, "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.write(line + "\n")
	}
	return l.write(l.erase() + line + "\n" + l.block)
}

// Close leaves the last block on screen, with the cursor below it.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// erase returns the escape sequences that move to the top of the block on
// screen and clear from there; the caller must then write it again (or a
// new one).
func (l *Live) erase() string {
	if l.lines == 0 {
		return ""
	}
	return fmt.Sprintf("\x1b[%dA\x1b[J", l.lines)
}

// write writes s in one call and records the block's height.
func (l *Live) write(s string) error {
	l.lines = strings.Count(l.block, "\n")
	if _, err := io.WriteString(l.w, s); err != nil {
		return fmt.Errorf("draw status: %w", err)
	}
	return nil
}

// clip cuts block to height−1 lines, so that a redraw can move up over all
// of it (the terminal cannot move the cursor into lines scrolled off the
// top); height 0 means no limit.
func clip(block string, width, height int) string {
	if height <= 0 {
		return block
	}
	lines := strings.SplitAfter(block, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	keep := height - 1
	if len(lines) <= keep {
		return block
	}
	if keep <= 0 {
		return ""
	}
	hidden := len(lines) - keep + 1
	more := fmt.Sprintf("… %d more lines (enlarge the terminal)", hidden)
	return strings.Join(lines[:keep-1], "") + truncate(more, width) + "\n"
}
