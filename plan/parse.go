package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	canary "github.com/canary-dev/canary"
	"go.yaml.in/yaml/v3"
)

// Load reads and parses the plan file at path. A file that cannot be read
// or is larger than MaxSize is reported as an ErrorList too (which unwraps
// to the read error), like a plan with problems.
func Load(path string) (*canary.Plan, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes, validates and defaults a plan written in YAML (or JSON,
// which is YAML too). filename is only used in error positions.
//
// Decoding is strict: unknown fields, duplicate keys, values of the wrong
// type, a second document and an empty file are errors. Parse collects
// every problem, decoding and validation alike, and returns them as an
// ErrorList sorted by position; validation judges the plan as written, and
// Defaults is applied only to a valid plan.
func Parse(filename string, data []byte) (*canary.Plan, error) {
	root, errs := parseYAML(filename, data)
	if root == nil {
		return nil, errs
	}
	d := newDecoder(filename)
	p := new(canary.Plan)
	d.value(root, "", reflect.ValueOf(p).Elem())
	errs = append(errs, d.errs...)
	if !d.bad[""] {
		inner := d.badAncestors()
		for _, e := range Validate(p) {
			// A value that failed to decode is left zero; what validation
			// says about it, or about its parent ("set exactly one of"),
			// the decoding error already says better.
			if d.covered(e.Path) || inner[e.Path] || d.followsTypo(e) {
				continue
			}
			d.locate(e)
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	Defaults(p)
	return p, nil
}

// covered reports whether path or one of its ancestors failed to decode.
func (d *decoder) covered(path string) bool {
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parent(path)
	}
}

// followsTypo reports whether a validation error is about a field the
// plan misspelled (its "did you mean" already says it), or follows from
// that field's default: "rules[0].for: 5s is shorter than
// analysis.interval (30s)" when "intreval: 1s" was written.
func (d *decoder) followsTypo(e *Error) bool {
	for m := range d.meant {
		if e.Path == m || strings.HasPrefix(e.Path, m+".") || strings.HasPrefix(e.Path, m+"[") {
			return true
		}
		if rel := strings.TrimPrefix(m, "spec."); rel != m && strings.Contains(e.Msg, rel) {
			return true
		}
	}
	return false
}

// badAncestors returns the paths that enclose a value that failed to
// decode.
func (d *decoder) badAncestors() map[string]bool {
	anc := map[string]bool{}
	for path := range d.bad {
		for path != "" {
			path = parent(path)
			anc[path] = true
		}
	}
	return anc
}

// locate gives a validation error the position of the node at its path,
// or, for a field that was not written, of the nearest enclosing one (the
// mapping it is missing from).
func (d *decoder) locate(e *Error) {
	e.File = d.file
	for path := e.Path; ; path = parent(path) {
		if n := d.nodes[path]; n != nil {
			e.Line, e.Col = n.Line, n.Column
			return
		}
		if path == "" {
			return
		}
	}
}

// parent strips the last element of a path: a.b[2].c → a.b[2] → a.b → a.
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// parseYAML returns the root node of the file's only document, with any
// problems of the file as a whole. A nil root means there is nothing to
// decode.
func parseYAML(file string, data []byte) (root *yaml.Node, errs ErrorList) {
	defer func() {
		// The YAML parser is third-party code: turn any panic on hostile
		// input into an error rather than crash the caller.
		if r := recover(); r != nil {
			root, errs = nil, ErrorList{{File: file, Msg: fmt.Sprintf("the YAML parser failed (%v): check the file's syntax", r)}}
		}
	}()
	if e := notText(file, data); e != nil {
		return nil, ErrorList{e}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{emptyFile(file)}
		}
		return nil, ErrorList{syntaxError(file, data, err)}
	}
	if emptyDoc(&doc) {
		return nil, ErrorList{emptyFile(file)}
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxError(file, data, err))
			break
		}
		if !emptyDoc(&next) {
			errs = append(errs, &Error{File: file, Line: next.Line, Col: next.Column,
				Msg: "a second YAML document starts here, but a plan file holds exactly one: put each plan in its own file"})
			break
		}
	}
	return doc.Content[0], errs
}

func emptyFile(file string) *Error {
	return &Error{File: file, Line: 1, Col: 1, Msg: "the file holds no plan: write one starting with apiVersion: " + canary.APIVersion + " and kind: " + canary.Kind}
}

// emptyDoc reports whether a document node holds nothing (a bare "---" or
// only comments).
func emptyDoc(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return isNull(n) && n.Value == "" && len(n.Content) == 0
}

// parserProblems are the messages of the YAML parser, whose line numbers
// are 0-based (go.yaml.in/yaml/v3 parserc.go).
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

var yamlErrorRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError turns a YAML parser error into an Error with its line, a
// column where a second parser can tell it, and a hint on the usual cause.
func syntaxError(file string, data []byte, err error) *Error {
	e := &Error{File: file, Msg: err.Error()}
	if m := yamlErrorRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if parserProblems[e.Msg] {
			// The parser (unlike the scanner) reports 0-based lines, and
			// none at all for the first line.
			e.Line++
		}
	}
	reported := e.Line
	e.Line, e.Col = syntaxPosition(data, e.Line)
	hint := syntaxHint(e.Msg)
	if b, ok := unclosedFlow(data, e.Msg, reported); ok {
		e.Line, e.Col = b.line, b.col
		hint = unclosedHint[b.char]
	}
	e.Msg = "invalid YAML: " + e.Msg + ": " + hint
	return e
}

var unclosedHint = map[byte]string{
	'[': "the '[' here is not closed: close it with ']', or write the items one per line as \"- item\"",
	'{': "the '{' here is not closed: close it with '}', or write the fields as an indented block",
}

// unclosedFlow finds, for the parser's "did not find expected ',' or
// ']'" (or '}'), the bracket the author left open up to the reported line.
func unclosedFlow(data []byte, msg string, line int) (bracket, bool) {
	switch msg {
	case "did not find expected ',' or ']'":
		return unclosedBracket(data, '[', line)
	case "did not find expected ',' or '}'":
		return unclosedBracket(data, '{', line)
	}
	return bracket{}, false
}

func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "cannot start any token"):
		return "indent with spaces, not tabs, and quote values that start with @, ` or %"
	case strings.Contains(msg, "mapping values are not allowed"):
		return "quote values that contain \": \", or check the indentation"
	case strings.Contains(msg, "unknown anchor"):
		return "define the anchor with &name before using *name"
	case strings.Contains(msg, "did not find expected"):
		return "check the indentation and that brackets and quotes are closed"
	}
	return "check the indentation and quoting on this line and the one before"
}
