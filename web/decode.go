package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/engine"
)

// MaxReason is the longest reason a command may carry, in bytes.
const MaxReason = 1024

// MaxLabel is the longest namespace or name: a DNS label.
const MaxLabel = 63

// ControlBody is the optional JSON body of the control routes. Unknown
// fields are rejected.
type ControlBody struct {
	// Full promotes straight to 100% (promote only).
	Full bool `json:"full,omitempty"`
	// Immediate rolls back at once instead of gradually (abort only).
	Immediate bool `json:"immediate,omitempty"`
	// Reason is recorded with the command: one line, at most MaxReason bytes.
	Reason string `json:"reason,omitempty"`
}

// decodeControl turns a control route's body into the command of kind.
// An empty body is a command without options. Every refusal is a
// *canary.Error with code invalid.
func decodeControl(kind engine.CommandKind, body []byte) (engine.Command, error) {
	cmd := engine.Command{Kind: kind}
	if len(bytes.TrimSpace(body)) == 0 {
		return cmd, nil
	}
	var b ControlBody
	if err := decodeStrict(body, &b); err != nil {
		return cmd, err
	}
	switch {
	case b.Full && kind != engine.CmdPromote:
		return cmd, canary.Errorf(canary.EINVALID, "\"full\" applies to promote only, not %s", kind)
	case b.Immediate && kind != engine.CmdAbort:
		return cmd, canary.Errorf(canary.EINVALID, "\"immediate\" applies to abort only, not %s", kind)
	case len(b.Reason) > MaxReason:
		return cmd, canary.Errorf(canary.EINVALID, "the reason is %d bytes long; at most %d", len(b.Reason), MaxReason)
	case strings.IndexFunc(b.Reason, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0:
		return cmd, canary.Errorf(canary.EINVALID, "the reason must be one line of printable text")
	}
	cmd.Full, cmd.Immediate, cmd.Reason = b.Full, b.Immediate, b.Reason
	return cmd, nil
}

// decodeStrict decodes exactly one JSON object into v, rejecting unknown
// fields, wrong types and trailing data, with messages for people.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return canary.Errorf(canary.EINVALID, "the body is not a valid command: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return canary.Errorf(canary.EINVALID, "the body holds more than one JSON value; send one object")
	}
	return nil
}

// jsonProblem rewrites encoding/json's errors for people.
func jsonProblem(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("%s must be a %s, not a JSON %s", truncate(typ.Field, 64), typ.Type, typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("want a JSON object {\"full\":bool,\"immediate\":bool,\"reason\":string}, not a JSON %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return "unknown field " + truncate(f, 64) + " (a command takes full, immediate and reason)"
	}
	return truncate(msg, 200)
}

// readBody reads the whole request body, at most limit bytes (a
// *http.MaxBytesError beyond: 413), after checking its Content-Type is
// one of want (an absent Content-Type is accepted).
func readBody(w http.ResponseWriter, r *http.Request, limit int64, want ...string) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !contains(want, mt) {
			return nil, unsupportedMedia(ct, strings.Join(want, " or "))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, canary.Errorf(canary.EINVALID, "read the request body: %v", err)
	}
	return body, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Media types accepted for plans and commands. Plans also take curl's
// default for --data-binary, application/x-www-form-urlencoded: the body
// is read as the plan, never as a form (a token in a header is still
// needed, so a cross-site form post cannot apply anything).
var (
	planTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "application/json", "text/plain",
		"application/x-www-form-urlencoded"}
	controlTypes = []string{"application/json"}
)

// rolloutName is the "namespace/name" of the request's path, both checked
// as DNS labels, so no name the manager sees holds a separator, a dot or
// anything else a path could be made of. A {name} of "name@GEN" names
// one generation: "namespace/name@GEN" (api.SplitGeneration).
func rolloutName(r *http.Request) (string, error) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	name, gen, ok := strings.Cut(name, "@")
	if err := checkLabel("namespace", ns); err != nil {
		return "", err
	}
	if err := checkLabel("name", name); err != nil {
		return "", err
	}
	full := ns + "/" + name
	if !ok {
		return full, nil
	}
	base, n, err := api.SplitGeneration(full + "@" + gen)
	if err != nil || len(gen) > 9 {
		return "", canary.Errorf(canary.EINVALID, "the generation %q after '@' must be a whole number from 1 (as in %s@2)", gen, name)
	}
	return api.WithGeneration(base, n), nil
}

// checkLabel checks s as a DNS label: 1 to 63 of a-z, 0-9 and '-', not
// starting or ending with '-'.
func checkLabel(what, s string) error {
	switch {
	case s == "":
		return canary.Errorf(canary.EINVALID, "the %s is empty", what)
	case len(s) > MaxLabel:
		return canary.Errorf(canary.EINVALID, "the %s is %d bytes long; at most %d (a DNS label)", what, len(s), MaxLabel)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return canary.Errorf(canary.EINVALID, "the %s %q has the character %q; use lower-case letters, digits and '-'",
				what, s, rune(c))
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return canary.Errorf(canary.EINVALID, "the %s %q starts or ends with '-'", what, s)
	}
	return nil
}

// intParam reads the integer query parameter key, def when absent,
// refusing values outside min..max.
func intParam(r *http.Request, key string, def, min, max int64) (int64, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < min || v > max {
		return 0, canary.Errorf(canary.EINVALID, "?%s=%q: want a whole number from %d to %d", key, truncate(s, 32), min, max)
	}
	return v, nil
}

// boolParam reads the boolean query parameter key (absent: false).
func boolParam(r *http.Request, key string) (bool, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, canary.Errorf(canary.EINVALID, "?%s=%q: want true or false", key, truncate(s, 32))
	}
	return v, nil
}

func phaseParam(r *http.Request) (canary.Phase, error) {
	s := r.URL.Query().Get("phase")
	if s == "" {
		return "", nil
	}
	for _, p := range canary.Phases {
		if strings.EqualFold(string(p), s) {
			return p, nil
		}
	}
	names := make([]string, len(canary.Phases))
	for i, p := range canary.Phases {
		names[i] = string(p)
	}
	return "", canary.Errorf(canary.EINVALID, "?phase=%q is not a phase (use one of %s)", truncate(s, 32), strings.Join(names, ", "))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// byteSize is "1 MiB", "64 KiB" or "100 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}
