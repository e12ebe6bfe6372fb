package plan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"unicode/utf8"

	goccy "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// MaxSize is the largest plan file, in bytes: the same bound `canary
// serve` puts on a plan sent to its API, so a plan the CLI accepts is one
// the server accepts.
const MaxSize = 1 << 20

// ReadFile reads a plan file, refusing one larger than MaxSize. Every
// problem (missing, unreadable, too large) is an ErrorList naming the file,
// so commands report it like any other problem of the plan (exit code 2).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer f.Close()
	return readAll(path, f)
}

// ReadAll reads a plan from r (standard input) under the same bound.
func ReadAll(name string, r io.Reader) ([]byte, error) { return readAll(name, r) }

func readAll(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fileError(name, err)
	}
	if len(data) > MaxSize {
		return nil, ErrorList{{File: name, Msg: fmt.Sprintf(
			"the file is larger than %d bytes (1 MiB), the most a plan may be (canary serve refuses larger ones too): is this the right file?", MaxSize)}}
	}
	return data, nil
}

// fileError says why a plan file cannot be read. It keeps the cause
// (errors.Is(err, fs.ErrNotExist) holds for a missing file).
func fileError(name string, err error) error {
	msg := "cannot read the file: "
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg += pe.Err.Error()
	} else {
		msg += err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg += ": check the path"
	case errors.Is(err, fs.ErrPermission):
		msg += ": check the file's permissions"
	}
	return fileErrorList{ErrorList{{File: name, Msg: msg}}, err}
}

// fileErrorList is an ErrorList that also unwraps to the read error.
type fileErrorList struct {
	ErrorList
	cause error
}

func (l fileErrorList) Unwrap() []error { return []error{l.ErrorList, l.cause} }

// notText finds the first byte of data that cannot be in a YAML plan (a
// control character or invalid UTF-8) and returns an error at its line
// and column, or nil.
func notText(file string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		bad := r == utf8.RuneError && size <= 1
		if !bad && r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			bad = true
		}
		if bad {
			return &Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf(
				"byte 0x%02x is not text: a plan is a YAML text file (UTF-8); is this the right file?", data[i])}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}

// syntaxPosition asks a second YAML parser, one that reports columns,
// where a file the first parser rejected at line (0: unknown) goes wrong.
// It keeps line and adds the column when the second parser agrees on the
// line, takes both when the first gave none, and else returns line alone.
func syntaxPosition(data []byte, line int) (int, int) {
	col := 0
	func() {
		defer func() { _ = recover() }() // third-party code on hostile input
		_, err := parser.ParseBytes(data, 0)
		var se *goccy.SyntaxError
		if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil {
			return
		}
		if pos := se.Token.Position; pos.Line == line || line == 0 {
			line, col = pos.Line, pos.Column
		}
	}()
	return line, col
}
