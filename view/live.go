package view

import (
	"fmt"
	"io"
	"regexp"
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
// block's lines never exceed the width they are drawn at, so none wraps
// then; N counts the rows the block takes at the width of the redraw, as
// a terminal that reflows its lines (tmux, VTE, iTerm2, Windows Terminal)
// shows it once its window is made narrower: a block drawn 100 columns
// wide takes more rows at 70, and moving up only its line count left its
// top lines on screen.
//
// A Live is safe for concurrent use. Close leaves the last block on
// screen; after it Println writes plain lines and Update does nothing.
type Live struct {
	mu     sync.Mutex
	w      io.Writer
	opts   Options
	fd     int    // the terminal's file descriptor, when w is one
	isTerm bool   // whether fd is a terminal
	block  string // the block on screen
	closed bool
	// termSize, when set, replaces the terminal's size (tests).
	termSize func() (width, height int)
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
	if (width <= 0 || height <= 0) && (l.isTerm || l.termSize != nil) {
		if tw, th, err := l.terminalSize(); err == nil {
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

func (l *Live) terminalSize() (width, height int, err error) {
	if l.termSize != nil {
		width, height = l.termSize()
		return width, height, nil
	}
	return term.GetSize(l.fd)
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
	erase := l.erase(width)
	l.block = block
	return l.write(erase + block)
}

// Println writes line as a permanent line above the block, which is
// drawn again below it. A trailing newline of line is dropped.
func (l *Live) Println(line string) error {
	line = strings.TrimSuffix(line, "\n")
	width, _ := l.size()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.write(line + "\n")
	}
	return l.write(l.erase(width) + line + "\n" + l.block)
}

// Close leaves the last block on screen, with the cursor below it.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// erase returns the escape sequences that move to the top of the block on
// screen, as a terminal width columns wide shows it, and clear from there;
// the caller must then write it again (or a new one).
func (l *Live) erase(width int) string {
	n := rows(l.block, width)
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("\x1b[%dA\x1b[J", n)
}

// rows is how many rows of a terminal width columns wide block takes: a
// line wider than the terminal (drawn when it was wider) wraps onto
// more than one.
func rows(block string, width int) int {
	n := 0
	for line := range strings.Lines(block) {
		w := textWidth(sgr.ReplaceAllString(strings.TrimSuffix(line, "\n"), ""))
		n += max(1, (w+width-1)/max(width, 1))
	}
	return n
}

// sgr matches the escape sequences of a styled block.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// write writes s in one call.
func (l *Live) write(s string) error {
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
