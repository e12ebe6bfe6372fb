package flags

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/canary-dev/canary"
)

// OpenFeature error codes used in OFREP failure responses.
const (
	OFREPFlagNotFound        = "FLAG_NOT_FOUND"
	OFREPParseError          = "PARSE_ERROR"
	OFREPTargetingKeyMissing = "TARGETING_KEY_MISSING"
	OFREPInvalidContext      = "INVALID_CONTEXT"
	OFREPGeneral             = "GENERAL"
)

// ofrepSuccess is an OFREP evaluationSuccess: a boolean value with its
// reason, variant and metadata.
type ofrepSuccess struct {
	Key      string         `json:"key"`
	Value    bool           `json:"value"`
	Reason   string         `json:"reason"`
	Variant  string         `json:"variant"`
	Metadata map[string]any `json:"metadata"`
}

// ofrepFailure is an OFREP evaluationFailure (or flagNotFound); Key is
// omitted only in a bulk request's failure.
type ofrepFailure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode"`
	ErrorDetails string `json:"errorDetails,omitempty"`
}

// ofrepGeneral is an OFREP generalErrorResponse (500).
type ofrepGeneral struct {
	ErrorDetails string `json:"errorDetails"`
}

// evalContext is the part of an OFREP evaluation context canary uses.
type evalContext struct {
	targetingKey string
}

// ofrepError is a request-level OFREP failure.
type ofrepError struct {
	code, details string
}

// Error returns the code and details.
func (e *ofrepError) Error() string { return e.code + ": " + e.details }

// readContext decodes an OFREP request body, {"context": {...}}. An empty
// body, a missing or null context mean no context. Other top-level fields
// are ignored: the OFREP schema leaves the request open, and a newer
// client must not lose its flags over a field canary does not know.
func readContext(r io.Reader) (evalContext, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return evalContext{}, &ofrepError{OFREPParseError, fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
		}
		return evalContext{}, &ofrepError{OFREPParseError, "reading the request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return evalContext{}, nil
	}
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return evalContext{}, &ofrepError{OFREPParseError, "the request body is not a JSON object (" + jsonProblem(err) + `): send {"context": {"targetingKey": "user-1"}}`}
	}
	if _, err := dec.Token(); err != io.EOF {
		return evalContext{}, &ofrepError{OFREPParseError, "the request body has more after its JSON object"}
	}
	raw := bytes.TrimSpace(req.Context)
	if len(raw) == 0 || string(raw) == "null" {
		return evalContext{}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return evalContext{}, &ofrepError{OFREPInvalidContext, "context is not a JSON object"}
	}
	var ec evalContext
	if tk, ok := fields["targetingKey"]; ok && string(bytes.TrimSpace(tk)) != "null" {
		if err := json.Unmarshal(tk, &ec.targetingKey); err != nil {
			return evalContext{}, &ofrepError{OFREPInvalidContext, "context.targetingKey is not a string"}
		}
	}
	return ec, nil
}

// evaluateOFREP evaluates f for ec: a success, or a failure with its
// HTTP status.
func evaluateOFREP(f Flag, ec evalContext) (any, int) {
	ev, err := Evaluate(f, ec.targetingKey)
	if err != nil {
		return ofrepFailure{Key: f.Name, ErrorCode: OFREPTargetingKeyMissing, ErrorDetails: fmt.Sprintf(
			"flag %s is at %d%%: its value depends on the user, so the evaluation context needs a targetingKey (the sticky key the proxy splits by, e.g. the X-User-ID)",
			f.Name, f.RolloutPercentage)}, http.StatusBadRequest
	}
	md := map[string]any{"rolloutPercentage": f.RolloutPercentage, "environment": f.Environment, "version": f.Version}
	if ev.Bucket >= 0 {
		md["bucket"] = ev.Bucket
	}
	return ofrepSuccess{Key: f.Name, Value: ev.Value, Reason: ev.Reason, Variant: ev.Variant, Metadata: md}, http.StatusOK
}

// ofrepOne serves POST /ofrep/v1/evaluate/flags/{key}.
func (h *Handler) ofrepOne(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authorize(w, r, false); !ok {
		return
	}
	key := r.PathValue("key")
	ec, err := readContext(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		oe := err.(*ofrepError)
		writeJSON(w, http.StatusBadRequest, ofrepFailure{Key: key, ErrorCode: oe.code, ErrorDetails: oe.details})
		return
	}
	f, err := h.cfg.Store.GetFlag(r.Context(), key)
	if canary.ErrorCode(err) == canary.ENOTFOUND {
		writeJSON(w, http.StatusNotFound, ofrepFailure{Key: key, ErrorCode: OFREPFlagNotFound,
			ErrorDetails: fmt.Sprintf("flag %s not found: create it with POST /feature-flags/%s", clipped(key), clipped(key))})
		return
	}
	if err != nil {
		h.ofrepInternal(w, r, err)
		return
	}
	res, status := evaluateOFREP(f, ec)
	writeJSON(w, status, res)
}

// ofrepBulk serves POST /ofrep/v1/evaluate/flags: every flag for one
// context, in name order, with an ETag of the result; a request whose
// If-None-Match carries that ETag gets 304 Not Modified.
func (h *Handler) ofrepBulk(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authorize(w, r, false); !ok {
		return
	}
	ec, err := readContext(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		oe := err.(*ofrepError)
		writeJSON(w, http.StatusBadRequest, ofrepFailure{ErrorCode: oe.code, ErrorDetails: oe.details})
		return
	}
	fl, err := h.cfg.Store.ListFlags(r.Context())
	if err != nil {
		h.ofrepInternal(w, r, err)
		return
	}
	res := struct {
		Flags []any `json:"flags"`
	}{Flags: make([]any, 0, len(fl))}
	for _, f := range fl {
		item, _ := evaluateOFREP(f, ec)
		res.Flags = append(res.Flags, item)
	}
	body, err := marshal(res)
	if err != nil {
		h.ofrepInternal(w, r, err)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// etagMatch reports whether an If-None-Match header lists etag (weakly
// compared) or is "*".
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// ofrepConfiguration serves GET /ofrep/v1/configuration: canary's flags
// are booleans and may be polled (bulk, with ETags) every second.
func (h *Handler) ofrepConfiguration(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authorize(w, r, false); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "canary",
		"capabilities": map[string]any{
			"cacheInvalidation": map[string]any{"polling": map[string]any{"enabled": true, "minPollingIntervalMs": 1000}},
			"flagEvaluation":    map[string]any{"supportedTypes": []string{"boolean"}},
		},
	})
}

func (h *Handler) ofrepInternal(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Logger.Error("OFREP: evaluation failed", "path", r.URL.Path, "err", err)
	details := "internal error (logged by the server)"
	if canary.ErrorCode(err) == canary.EUNAVAILABLE {
		details = err.Error()
	}
	writeJSON(w, http.StatusInternalServerError, ofrepGeneral{ErrorDetails: details})
}
