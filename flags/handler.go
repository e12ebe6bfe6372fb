package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/canary-dev/canary"
)

// DefaultMaxBodyBytes is Config.MaxBodyBytes' default.
const DefaultMaxBodyBytes = 64 << 10

// ReasonHeader carries the reason for a change when the body has none:
// Client sends it, so that a strict external flag service (which would
// refuse an unknown "reason" field) can still be told why.
const ReasonHeader = "X-Canary-Reason"

// AnonymousActor is the actor recorded when Config.Authorize is nil or
// returns an empty actor.
const AnonymousActor = "anonymous"

// ErrForbidden, returned (or wrapped) by Config.Authorize, answers 403: the
// caller is known but may not do this (e.g. a read-only token writing).
// Any other Authorize error answers 401 with WWW-Authenticate: Bearer,
// except a *canary.Error with code unavailable or internal (503, 500).
var ErrForbidden = errors.New("forbidden")

// Config configures NewHandler.
type Config struct {
	// Store holds the flags. Required.
	Store Store
	// Authorize checks a request before it is served and names its actor
	// (recorded in the history of the changes it makes), e.g. "token ops".
	// write is true for POST /feature-flags/{name} and false for reads
	// and OFREP evaluations. Default nil: every request is allowed, as
	// AnonymousActor (for tests and a loopback demo).
	Authorize func(r *http.Request, write bool) (actor string, err error)
	// MaxBodyBytes caps request bodies; larger ones answer 413. Default:
	// DefaultMaxBodyBytes (64 KiB).
	MaxBodyBytes int64
	// Logger receives internal errors (500s). Default: slog.Default().
	Logger *slog.Logger
}

// Handler serves the runbook's flag API and OFREP over a Store; see the
// package documentation for the routes. Mount it at the root of a
// ServeMux, or on the prefixes "/feature-flags", "/feature-flags/" and
// "/ofrep/".
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler, or code invalid when cfg lacks a Store.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, canary.Errorf(canary.EINVALID, "flags handler: Config.Store is required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /feature-flags", h.list)
	m.HandleFunc("GET /feature-flags/{$}", h.list)
	m.HandleFunc("GET /feature-flags/{name}", h.get)
	m.HandleFunc("GET /feature-flags/{name}/history", h.get)
	m.HandleFunc("POST /feature-flags/{name}", h.update)
	m.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", h.ofrepOne)
	m.HandleFunc("POST /ofrep/v1/evaluate/flags", h.ofrepBulk)
	m.HandleFunc("GET /ofrep/v1/configuration", h.ofrepConfiguration)
	// Known paths with another method: 405 with Allow, as JSON.
	for path, allow := range map[string]string{
		"/feature-flags": "GET, HEAD", "/feature-flags/{name}": "GET, HEAD, POST",
		"/feature-flags/{name}/history": "GET, HEAD", "/ofrep/v1/evaluate/flags/{key}": "POST",
		"/ofrep/v1/evaluate/flags": "POST", "/ofrep/v1/configuration": "GET, HEAD",
	} {
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here: use "+allow)
		})
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, canary.ENOTFOUND, "no such path "+r.URL.Path+
			": the flag API is /feature-flags/{name} and OFREP is /ofrep/v1/evaluate/flags[/{key}]")
	})
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// authorize runs Config.Authorize and answers the request itself when it
// refuses; ok is false then.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, write bool) (actor string, ok bool) {
	if h.cfg.Authorize == nil {
		return AnonymousActor, true
	}
	actor, err := h.cfg.Authorize(r, write)
	if err == nil {
		if actor == "" {
			actor = AnonymousActor
		}
		return actor, true
	}
	switch code := canary.ErrorCode(err); {
	case errors.Is(err, ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
	case code == canary.EUNAVAILABLE:
		writeError(w, http.StatusServiceUnavailable, code, err.Error())
	case code == canary.EINTERNAL && errors.As(err, new(*canary.Error)):
		h.internal(w, r, err)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="canary"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
	}
	return "", false
}

// flagView is a flag as GET shows it, with its history when asked.
type flagView struct {
	Flag
	History []Change `json:"history,omitempty"`
}

// listView is GET /feature-flags.
type listView struct {
	Flags []Flag `json:"flags"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authorize(w, r, false); !ok {
		return
	}
	fl, err := h.cfg.Store.ListFlags(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if fl == nil {
		fl = []Flag{}
	}
	writeJSON(w, http.StatusOK, listView{Flags: fl})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authorize(w, r, false); !ok {
		return
	}
	name := r.PathValue("name")
	withHistory, limit, err := historyQuery(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	withHistory = withHistory || r.Pattern == "GET /feature-flags/{name}/history"
	f, err := h.cfg.Store.GetFlag(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := flagView{Flag: f}
	if withHistory {
		if v.History, err = h.cfg.Store.FlagHistory(r.Context(), name, limit); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// historyQuery reads ?history=1 and ?limit=N.
func historyQuery(q url.Values) (history bool, limit int, err error) {
	if s := q.Get("history"); s != "" {
		if history, err = strconv.ParseBool(s); err != nil {
			return false, 0, canary.Errorf(canary.EINVALID, "history=%q is not a boolean: write history=1", clipped(s))
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			return false, 0, canary.Errorf(canary.EINVALID, "limit=%q is not a whole number ≥ 0 (0 means every change)", clipped(s))
		}
	}
	return history, limit, nil
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	actor, ok := h.authorize(w, r, true)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if err := canary.CheckFlagName(name); err != nil {
		h.fail(w, r, err)
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, canary.EINVALID,
			`the body must be JSON: send the header "Content-Type: application/json"`)
		return
	}
	u, reason, err := decodeUpdate(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if reason == "" {
		reason = r.Header.Get(ReasonHeader)
	}
	f, changed, err := h.cfg.Store.UpdateFlag(r.Context(), name, u, actor, reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if changed && f.Version == 1 {
		status = http.StatusCreated
		w.Header().Set("Location", "/feature-flags/"+name)
	}
	writeJSON(w, status, f)
}

// isJSON accepts application/json and application/*+json, with parameters.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (len(mt) > 17 && mt[:12] == "application/" && mt[len(mt)-5:] == "+json")
}

// errorBody is every error response of the flag API.
type errorBody struct {
	// Code is canary's error code (invalid, not_found, …) or, for 401,
	// 403, 405 and 413, unauthorized, forbidden, method_not_allowed and
	// too_large.
	Code string `json:"code"`
	// Error says what is wrong and how to fix it.
	Error string `json:"error"`
}

// statusOf maps canary error codes to HTTP statuses.
var statusOf = map[string]int{
	canary.EINVALID:     http.StatusBadRequest,
	canary.ENOTFOUND:    http.StatusNotFound,
	canary.ECONFLICT:    http.StatusConflict,
	canary.EUNAVAILABLE: http.StatusServiceUnavailable,
}

// fail answers err: a *canary.Error with its code's status and message,
// a too-large body with 413, anything else as a logged 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			"the body is larger than "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes")
		return
	}
	var ce *canary.Error
	if errors.As(err, &ce) {
		if status, ok := statusOf[ce.Code]; ok {
			writeError(w, status, ce.Code, ce.Message)
			return
		}
	}
	h.internal(w, r, err)
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Logger.Error("flag API: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, canary.EINTERNAL, "internal error (logged by the server)")
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Code: code, Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil { // only plain data is written; a failure is a bug
		status = http.StatusInternalServerError
		b, _ = marshal(errorBody{Code: canary.EINTERNAL, Error: "encode response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// marshal encodes v as one line of JSON ending in a newline, without
// HTML escaping (reasons such as "742ms > 600ms" stay readable in curl).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}
