package plan

import (
	"bytes"
	"strings"
)

// bracket is an opening flow bracket ('[' or '{') at a 1-based position.
type bracket struct {
	char      byte
	line, col int
}

// unclosedBracket finds the innermost flow bracket of kind open ('[' or
// '{') still open at the end of line until (1-based; 0: the whole text),
// so an error the parser reports where it gave up waiting for the
// closing bracket can point at the one the author opened. In block
// context a bracket opens a flow collection only where a node starts (a
// line's first character, after "- " or after ": "); a plain scalar
// (e.g. a query holding {job="a"}), a quoted one and a comment are
// skipped, as are the lines of a block scalar ("|" or ">").
func unclosedBracket(data []byte, open byte, until int) (bracket, bool) {
	s := &bracketScan{}
	for i, text := range bytes.Split(data, []byte("\n")) {
		if until > 0 && i >= until {
			break
		}
		s.line(i+1, string(text))
	}
	for i := len(s.stack) - 1; i >= 0; i-- {
		if s.stack[i].char == open {
			return s.stack[i], true
		}
	}
	return bracket{}, false
}

// bracketScan is unclosedBracket's state across lines.
type bracketScan struct {
	stack []bracket
	// blockIndent is the indentation a block scalar's lines are deeper
	// than, or -1 outside one.
	blockIndent int
	inBlock     bool
	quote       byte // the open quoted scalar's quote, or 0
}

func (s *bracketScan) line(n int, text string) {
	indent := len(text) - len(strings.TrimLeft(text, " "))
	if s.inBlock {
		if strings.TrimSpace(text) == "" || indent > s.blockIndent {
			return
		}
		s.inBlock = false
	}
	nodeStart := true
	for i := indent; i < len(text); i++ {
		c := text[i]
		switch {
		case s.quote != 0:
			s.inQuote(text, &i)
			nodeStart = false
		case c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t'):
			return
		case c == '[' || c == '{':
			if len(s.stack) > 0 || nodeStart {
				s.stack = append(s.stack, bracket{c, n, i + 1})
				nodeStart = true
			}
		case (c == ']' || c == '}') && len(s.stack) > 0:
			s.stack = s.stack[:len(s.stack)-1]
		case c == ',' && len(s.stack) > 0:
			nodeStart = true
		case c == ' ' || c == '\t':
		case c == '-' && nodeStart && (i+1 == len(text) || text[i+1] == ' '):
		case c == ':' && (i+1 == len(text) || text[i+1] == ' '):
			nodeStart = true
		case (c == '"' || c == '\'') && (nodeStart || len(s.stack) > 0 && strings.ContainsRune(" ,[{:", rune(text[i-1]))):
			s.quote = c
			nodeStart = false
		case (c == '|' || c == '>') && nodeStart && len(s.stack) == 0:
			s.inBlock, s.blockIndent = true, indent
			return
		case len(s.stack) == 0 && nodeStart && !isKeyChar(text, i):
			return // a plain scalar value runs to the end of the line
		default:
			nodeStart = false
		}
	}
}

// inQuote moves *i past the quoted scalar's text on this line, closing
// the quote where it ends (a double-quoted scalar escapes with a
// backslash, a single-quoted one doubles its quote).
func (s *bracketScan) inQuote(text string, i *int) {
	for ; *i < len(text); *i++ {
		switch c := text[*i]; {
		case s.quote == '"' && c == '\\':
			*i++
		case c == s.quote && s.quote == '\'' && *i+1 < len(text) && text[*i+1] == '\'':
			*i++
		case c == s.quote:
			s.quote = 0
			return
		}
	}
}

// isKeyChar reports whether the plain text starting at i in block
// context is a mapping key (it has ": " or a final ':' before any
// comment), which the scan must walk through to find its value.
func isKeyChar(text string, i int) bool {
	rest := text[i:]
	if j := strings.Index(rest, " #"); j >= 0 {
		rest = rest[:j]
	}
	return strings.Contains(rest, ": ") || strings.HasSuffix(rest, ":")
}
