package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"github.com/canary-dev/canary/api"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultMaxBody    = plan.MaxSize
	DefaultKeepAlive  = 15 * time.Second
	DefaultMaxStreams = 256
	// DefaultMaxStreamsPerToken leaves most of DefaultMaxStreams to the
	// other tokens whatever one token (or one client address without a
	// token) opens: a viewer cannot starve the operator's dashboard.
	DefaultMaxStreamsPerToken = 32
	// maxControlBody bounds a command's body whatever MaxBody is.
	maxControlBody = 16 << 10
)

// Registry is where the API's own metrics are registered and gathered
// from, e.g. a *prometheus.Registry.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Config configures the API handler.
type Config struct {
	// API is the rollout manager. Required.
	API api.API
	// Tokens are the accepted bearer tokens. Required unless Insecure.
	Tokens *Tokens
	// Insecure serves without tokens: every request may do everything and
	// is recorded with the actor "anonymous". Only for a loopback listener
	// on a machine you alone use (`canary serve --insecure`). Ignored when
	// Tokens has any token.
	Insecure bool
	// Registry receives the request metrics and is what /metrics serves.
	// Default: a new registry of its own (never the global one).
	Registry Registry
	// Logger receives one line per request (never a token) and internal
	// errors. Default: discard.
	Logger *slog.Logger
	// MaxBody is the largest plan accepted, in bytes; larger is 413.
	// Default: 1 MiB. Command bodies are limited to 16 KiB.
	MaxBody int64
	// KeepAlive is how often an idle event stream gets a comment line, so
	// proxies keep it open. Default: 15s.
	KeepAlive time.Duration
	// MaxStreams bounds the event streams open at once; more are refused
	// with 503. Default: 256.
	MaxStreams int
	// MaxStreamsPerToken bounds the event streams one token (with
	// Insecure: one client IP) may hold open at once; more are refused
	// with 503 naming the token and the limit. Default: 32.
	MaxStreamsPerToken int
	// MetricsPublic serves /metrics without a token (for a scraper
	// without one). By default /metrics needs a viewer token: it lists
	// rollout names.
	MetricsPublic bool
	// Mount are handlers served beside the API under ServeMux patterns
	// ("/ofrep/"): the flag service. They authenticate their requests
	// themselves (Authorizer); the API's rate limit applies to them per
	// token (any valid token's name, else the client IP, sharing the API's
	// buckets), and they are counted and logged as route "mount PATTERN".
	Mount map[string]http.Handler
	// RateLimit is how many requests a second each token may make, as a
	// token bucket of RateBurst that refills at this rate; requests
	// without a valid token (and every request with Insecure) are limited
	// per client IP the same way. Beyond it the answer is 429 with code
	// rate_limited and Retry-After. An event stream counts once, when it
	// opens; /healthz, /readyz and /metrics are never limited. 0: no limit
	// (the default here; `canary serve` uses DefaultRateLimit).
	RateLimit float64
	// RateBurst is the most requests a token may make at once before the
	// rate applies. Default: 2 × RateLimit.
	RateBurst int
	// Clock is the rate limiter's clock. Default: canary.SystemClock.
	Clock canary.Clock
}

// server is the API handler.
type server struct {
	api           api.API
	tokens        *Tokens
	insecure      bool
	log           *slog.Logger
	reg           Registry
	maxBody       int64
	keepAlive     time.Duration
	streams       chan struct{}
	perToken      *streamCaps
	metricsPublic bool
	metrics       *metrics
	limiter       *limiter // nil: no rate limit
	mux           *http.ServeMux
	allow         map[string][]string // path pattern → methods
	unclean       http.Handler        // answers paths that are not canonical
}

// New returns the API handler: the routes of the package documentation
// behind bearer-token authentication, with request metrics. It refuses a
// configuration without tokens unless Insecure is set.
func New(cfg Config) (http.Handler, error) {
	if cfg.API == nil {
		return nil, canary.Errorf(canary.EINVALID, "web: no manager API")
	}
	if cfg.Tokens.Len() == 0 && !cfg.Insecure {
		return nil, canary.Errorf(canary.EINVALID,
			"web: no API tokens: give tokens in a file or in %s (name:role:secret), or serve without authentication with --insecure", EnvTokens)
	}
	if cfg.MaxBody < 0 || cfg.KeepAlive < 0 || cfg.MaxStreams < 0 || cfg.MaxStreamsPerToken < 0 || cfg.RateLimit < 0 ||
		cfg.RateBurst < 0 || math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) {
		return nil, canary.Errorf(canary.EINVALID,
			"web: MaxBody, KeepAlive, MaxStreams, MaxStreamsPerToken, RateLimit and RateBurst must be finite and not negative")
	}
	s := &server{api: cfg.API, tokens: cfg.Tokens, insecure: cfg.Insecure && cfg.Tokens.Len() == 0,
		log: cfg.Logger, reg: cfg.Registry, maxBody: cfg.MaxBody, keepAlive: cfg.KeepAlive,
		metricsPublic: cfg.MetricsPublic, mux: http.NewServeMux(), allow: map[string][]string{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.keepAlive == 0 {
		s.keepAlive = DefaultKeepAlive
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	s.streams = make(chan struct{}, cfg.MaxStreams)
	s.perToken = newStreamCaps(cmp.Or(cfg.MaxStreamsPerToken, DefaultMaxStreamsPerToken))
	s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Clock)
	m, err := newMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes()
	s.unclean = s.wrap("other", "", func(http.ResponseWriter, *http.Request, string) error {
		return canary.Errorf(canary.EINVALID, "the path has an empty, . or .. segment: send the path itself (no //, /./ or /../)")
	})
	for pattern, h := range cfg.Mount {
		s.mux.Handle(pattern, s.mounted("mount "+pattern, h))
	}
	return s, nil
}

// ServeHTTP serves the API. A path that is not canonical (empty, . or ..
// segments) is refused with a 400 rather than redirected as ServeMux
// would: an API client should send the path it means.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !CanonicalPath(r.URL.Path) {
		s.unclean.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handlerFunc is a route's handler: it writes the response or returns
// the error writeError turns into one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, actor string) error

const (
	rollouts = "/api/v1/rollouts"
	rollout  = rollouts + "/{namespace}/{name}"
)

// routes registers every route. Keep the table in doc.go in step.
func (s *server) routes() {
	s.handle("POST", rollouts, RoleOperator, s.apply)
	s.handle("GET", rollouts, RoleViewer, s.list)
	s.handle("GET", rollout, RoleViewer, s.get)
	s.handle("DELETE", rollout, RoleOperator, s.delete)
	s.handle("GET", rollout+"/events", RoleViewer, s.events)
	s.handle("GET", rollout+"/events/stream", RoleViewer, s.stream)
	s.handle("GET", rollout+"/report", RoleViewer, s.report)
	s.handle("GET", rollout+"/notifications", RoleViewer, s.notifications)
	s.handle("GET", "/api/v1/whoami", RoleViewer, s.whoami)
	for _, k := range []engine.CommandKind{engine.CmdPause, engine.CmdResume, engine.CmdPromote,
		engine.CmdApprove, engine.CmdAbort, engine.CmdRetry} {
		s.handle("POST", rollout+"/"+string(k), RoleOperator, s.control(k))
	}
	s.handle("GET", "/healthz", "", s.healthz)
	s.handle("GET", "/readyz", "", s.readyz)
	metricsRole := RoleViewer
	if s.metricsPublic {
		metricsRole = ""
	}
	s.handle("GET", "/metrics", metricsRole, s.metricsHandler())
	for path, methods := range s.allow {
		allow := strings.Join(methods, ", ")
		s.mux.Handle(path, s.wrap("other", "", func(_ http.ResponseWriter, r *http.Request, _ string) error {
			return methodNotAllowed(r.Method, path, allow)
		}))
	}
	s.mux.Handle("/", s.wrap("other", "", func(_ http.ResponseWriter, r *http.Request, _ string) error {
		return canary.Errorf(canary.ENOTFOUND, "no such API route (see GET %s and the routes in the API documentation)", rollouts)
	}))
}

// handle registers method path for tokens with at least role need ("":
// no token needed).
func (s *server) handle(method, path string, need Role, h handlerFunc) {
	s.allow[path] = append(s.allow[path], method)
	slices.Sort(s.allow[path])
	s.mux.Handle(method+" "+path, s.wrap(method+" "+path, need, h))
}

// unlimited reports whether the rate limit never applies to route: the
// probes, and /metrics when it needs no token (MetricsPublic). Every
// route that takes a token is limited.
func (s *server) unlimited(route string, need Role) bool {
	switch route {
	case "GET /healthz", "GET /readyz":
		return true
	case "GET /metrics":
		return need == ""
	}
	return false
}

// wrap is the middleware of every route: metrics and the access log,
// panic recovery, authentication, the rate limit, then the handler, whose
// error goes to writeError.
func (s *server) wrap(route string, need Role, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		info := &reqInfo{route: route}
		r = r.WithContext(withInfo(r.Context(), info))
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in handler", "route", route, "panic", p)
				s.writeError(rec, r, canary.Errorf(canary.EINTERNAL, "internal error (the server log has the details)"))
			}
			s.observe(r, rec, info, time.Since(start))
		}()
		actor, err := s.authenticate(r, need)
		if !s.unlimited(route, need) {
			if lerr := s.rateLimit(r, actor); lerr != nil {
				err = lerr // refused requests count too: guessing tokens is limited
			}
		}
		if err == nil {
			info.actor = actor
			err = h(rec, r, actor)
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
	})
}

// observe counts the request and logs it: method, route, status, time and
// actor; never a header, a body or a query.
func (s *server) observe(r *http.Request, rec *recorder, info *reqInfo, d time.Duration) {
	code := itoa(int64(rec.status))
	s.metrics.requests.WithLabelValues(info.route, code).Inc()
	s.metrics.latency.WithLabelValues(info.route, code).Observe(d.Seconds())
	s.log.Log(r.Context(), logLevel(r.Method, rec.status), "request",
		"method", truncate(r.Method, 16), "route", info.route, "path", truncate(r.URL.EscapedPath(), 128),
		"status", rec.status, "duration", d, "actor", info.actor)
}

// writeJSON writes v as one line of JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := marshalJSON(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"internal","message":"encode the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// marshalJSON is json.Marshal with <, > and & left readable
// ("742ms > 600ms") and credentials written in URLs redacted
// (canary.RedactURLCredentials): every response and streamed event goes
// through it, so a plan's or an error's http://user:pass@… or ?api_key=
// never reaches a viewer.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if bytes.Contains(out, []byte("://")) {
		out = []byte(canary.RedactURLCredentials(string(out)))
	}
	return out, nil
}

// recorder remembers a response's status and whether it started.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader records the status.
func (rw *recorder) WriteHeader(code int) {
	if !rw.wrote {
		rw.status, rw.wrote = code, true
	}
	rw.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (rw *recorder) Write(b []byte) (int, error) {
	rw.wrote = true
	return rw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
