package sample

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// Config describes a sample service.
type Config struct {
	// Name of the service, echoed in every answer. Default: "sample".
	Name string
	// Version of the service, echoed in every answer. Default: "v0".
	Version string
	// Latency added to every answer of the service endpoints. Default:
	// none.
	Latency LatencyDist
	// ErrorRate is the share of answers that are 5xx (500 or 503, at
	// random), 0 to 1. Default: 0.
	ErrorRate float64
	// Faults are scheduled changes of behaviour, by time since the service
	// was created.
	Faults []Fault
	// Features is the "features" object of /elite/system-status. Default:
	// {"elite_endpoints": true}.
	Features map[string]any
	// Seed of the random source. The same seed and the same sequence of
	// requests give the same answers; zero is a seed like any other.
	Seed int64
	// Clock tells the time for faults. Default: canary.SystemClock.
	Clock canary.Clock
}

// Fault replaces the service's behaviour while From <= elapsed < Until,
// elapsed being the time since the service was created. When faults
// overlap, later ones in the list win, field by field.
type Fault struct {
	// From is when the fault starts.
	From time.Duration
	// Until is when it ends. Zero means it never ends.
	Until time.Duration
	// ErrorRate replaces the error rate while active. Zero keeps the
	// service's own.
	ErrorRate float64
	// Latency replaces the latency while active. Zero keeps the service's
	// own.
	Latency LatencyDist
}

// active reports whether f applies at elapsed.
func (f Fault) active(elapsed time.Duration) bool {
	return elapsed >= f.From && (f.Until == 0 || elapsed < f.Until)
}

// Stats counts what a service has answered on its service endpoints.
type Stats struct {
	// Requests answered (including errors).
	Requests int64 `json:"requests"`
	// Errors answered with a 5xx.
	Errors int64 `json:"errors"`
	// Canceled requests whose client went away during the latency.
	Canceled int64 `json:"canceled"`
	// InFlight requests are waiting out their latency now.
	InFlight int64 `json:"inFlight"`
}

// Service is a sample backend. It is safe for concurrent use.
type Service struct {
	name, version string
	features      map[string]any
	faults        []Fault
	clock         canary.Clock
	start         time.Time

	mu      sync.Mutex
	rng     *rand.Rand
	errRate float64
	latency LatencyDist
	stats   Stats
}

// New returns a Service for cfg, or an error naming what is invalid.
func New(cfg Config) (*Service, error) {
	if err := validate(cfg.ErrorRate, cfg.Latency); err != nil {
		return nil, err
	}
	for i, f := range cfg.Faults {
		if err := validate(f.ErrorRate, f.Latency); err != nil {
			return nil, fmt.Errorf("faults[%d]: %w", i, err)
		}
		if f.From < 0 || (f.Until != 0 && f.Until <= f.From) {
			return nil, fmt.Errorf("faults[%d]: from %s until %s is not a time span", i, f.From, f.Until)
		}
	}
	s := &Service{
		name: orString(cfg.Name, "sample"), version: orString(cfg.Version, "v0"),
		features: cfg.Features, faults: append([]Fault(nil), cfg.Faults...),
		clock: cfg.Clock, errRate: cfg.ErrorRate, latency: cfg.Latency,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
	}
	if s.features == nil {
		s.features = map[string]any{"elite_endpoints": true}
	}
	if s.clock == nil {
		s.clock = canary.SystemClock{}
	}
	s.start = s.clock.Now()
	return s, nil
}

// orString returns s, or def when s is empty.
func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validate checks an error rate and a latency.
func validate(errRate float64, lat LatencyDist) error {
	if !(errRate >= 0 && errRate <= 1) {
		return fmt.Errorf("error rate %v is not between 0 and 1", errRate)
	}
	return lat.Validate()
}

// SetBehavior changes the service's own error rate and latency; faults
// still override them while active.
func (s *Service) SetBehavior(errRate float64, latency LatencyDist) error {
	if err := validate(errRate, latency); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errRate, s.latency = errRate, latency
	return nil
}

// Behavior returns the error rate and latency in effect now: the
// service's own, overridden by the active faults.
func (s *Service) Behavior() (errRate float64, latency LatencyDist) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behaviorLocked()
}

func (s *Service) behaviorLocked() (float64, LatencyDist) {
	errRate, latency := s.errRate, s.latency
	elapsed := s.clock.Now().Sub(s.start)
	for _, f := range s.faults {
		if !f.active(elapsed) {
			continue
		}
		if f.ErrorRate != 0 {
			errRate = f.ErrorRate
		}
		if !f.Latency.IsZero() {
			latency = f.Latency
		}
	}
	return errRate, latency
}

// Stats returns the counts so far.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// draw decides one answer: how long to wait and which status to send.
func (s *Service) draw() (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	errRate, latency := s.behaviorLocked()
	wait := latency.sample(s.rng)
	status := http.StatusOK
	if s.rng.Float64() < errRate {
		status = http.StatusInternalServerError
		if s.rng.IntN(2) == 1 {
			status = http.StatusServiceUnavailable
		}
	}
	return wait, status
}

// ServeHTTP answers GET /elite/metrics and GET /elite/system-status at
// once, and every other request, after the drawn latency, with
// {"service": name, "version": version} and a 200, or a 500/503 at the
// error rate. A request whose client goes away during the latency gets no
// answer and is counted as canceled.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		switch r.URL.Path {
		case "/elite/metrics":
			s.serveMetrics(w)
			return
		case "/elite/system-status":
			s.serveStatus(w)
			return
		}
	}
	wait, status := s.draw()
	s.count(func(st *Stats) { st.InFlight++ })
	if err := sleep(r, wait); err != nil {
		s.count(func(st *Stats) { st.InFlight--; st.Canceled++ })
		return
	}
	s.count(func(st *Stats) {
		st.InFlight--
		st.Requests++
		if status >= 500 {
			st.Errors++
		}
	})
	body := map[string]any{"service": s.name, "version": s.version}
	if status != http.StatusOK {
		body["error"] = "injected fault"
	}
	writeJSON(w, status, body)
}

// sleep waits d or until the request is canceled.
func sleep(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return r.Context().Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}

func (s *Service) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// serveMetrics answers the runbook's staging metrics: the observed success
// share of the service endpoints since start (1 before any request).
func (s *Service) serveMetrics(w http.ResponseWriter) {
	st := s.Stats()
	rate := 1.0
	if st.Requests > 0 {
		rate = 1 - float64(st.Errors)/float64(st.Requests)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"service": s.name, "version": s.version,
		"requests": st.Requests, "errors": st.Errors, "avg_success_rate": rate,
	})
}

// serveStatus answers the runbook's system status with the features.
func (s *Service) serveStatus(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"service": s.name, "version": s.version, "status": "ok", "features": s.features,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
