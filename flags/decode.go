package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/canary-dev/canary"
)

// updateExample is shown in errors about the body.
const updateExample = `{"enabled": true, "rollout_percentage": 5, "environment": "production"}`

// decodeUpdate reads a POST /feature-flags/{name} body strictly: one JSON
// object with only the fields enabled (true or false), rollout_percentage
// (a whole number), environment (a string) and reason (a string); none may
// be null. Every problem is reported at once, code invalid; a body over
// the size limit returns the *http.MaxBytesError.
func decodeUpdate(r io.Reader) (Update, string, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return Update{}, "", err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Update{}, "", canary.Errorf(canary.EINVALID, "the body is empty: send a JSON object, e.g. %s", updateExample)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return Update{}, "", canary.Errorf(canary.EINVALID, "the body is not a JSON object (%s): send e.g. %s", jsonProblem(err), updateExample)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Update{}, "", canary.Errorf(canary.EINVALID, "the body has more after its JSON object: send exactly one object")
	}
	var u Update
	var reason string
	var problems []string
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := bytes.TrimSpace(raw[k])
		var err error
		switch k {
		case "enabled":
			var b bool
			err = literal(v, &b, "true or false")
			u.Enabled = &b
		case "rollout_percentage":
			var p int
			p, err = wholeNumber(v)
			u.RolloutPercentage = &p
		case "environment":
			var s string
			err = literal(v, &s, `a string, e.g. "production"`)
			u.Environment = &s
		case "reason":
			err = literal(v, &reason, `a string, e.g. "phase 3: 10%"`)
		default:
			err = errors.New("unknown field: the fields are enabled, rollout_percentage, environment and reason")
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", strconv.Quote(k), err))
		}
	}
	if len(problems) > 0 {
		return Update{}, "", canary.Errorf(canary.EINVALID, "%s", strings.Join(problems, "; "))
	}
	return u, reason, nil
}

// literal decodes a non-null JSON value of v's type.
func literal(v json.RawMessage, into any, want string) error {
	if string(v) == "null" || json.Unmarshal(v, into) != nil {
		return fmt.Errorf("%s is not %s", clipped(string(v)), want)
	}
	return nil
}

// wholeNumber decodes a JSON integer written without fraction or exponent,
// e.g. 10 (not 10.0, 1e1 or "10"). The range is checked by Update.Validate.
func wholeNumber(v json.RawMessage) (int, error) {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number from 0 to 100", clipped(string(v)))
	}
	return n, nil
}

// jsonProblem describes a decoding error briefly.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "it is null"
	case errors.As(err, &syn):
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	case errors.As(err, &typ):
		return "it is a JSON " + typ.Value
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too early"
	}
	return err.Error()
}

// clipped shortens a user's input for an error message.
func clipped(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
