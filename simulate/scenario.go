package simulate

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"go.yaml.in/yaml/v3"
)

// Scenario is what the service does during a simulated rollout: its
// traffic, and each track's latency distribution and error rate as
// functions of time since the rollout started. See the package doc for
// the file format.
type Scenario struct {
	// Name shown in reports. Default: the file's base name.
	Name string `yaml:"name"`
	// Description is free text.
	Description string `yaml:"description"`
	// RPS is the whole service's requests per second (both tracks); the
	// plan's weight splits it. Required unless a series gives it.
	RPS float64 `yaml:"rps"`
	// Stable and Canary are the tracks at the start. Canary's unset fields
	// are the stable's.
	Stable Profile `yaml:"stable"`
	Canary Profile `yaml:"canary"`
	// Endpoints split each track's traffic: each takes its share and
	// serves its own profile (unset fields: the track's); the rest of the
	// traffic is the track's own profile.
	Endpoints []Endpoint `yaml:"endpoints"`
	// Changes move values from a time on, at once or linearly over a
	// duration, for good or until a time.
	Changes []Change `yaml:"changes"`
	// Series is a CSV file of recorded values (relative to the scenario
	// file): columns at, track and any of rps, p50, p95, errorRate; each
	// row holds from its time until the track's next row.
	Series string `yaml:"series"`
	// Noise is variation beyond the sampling of requests.
	Noise Noise `yaml:"noise"`
	// Histograms says whether the simulated metric source gives latency
	// histograms with latency measurements (as the built-in recorder can)
	// or only quantiles. Default: true.
	Histograms *bool `yaml:"histograms"`
	// Expect is what a correct decision is, for the false-rollback and
	// detection statistics of --runs.
	Expect Expect `yaml:"expect"`
	// Limit is how much simulated time a run may take. Default: twice the
	// plan's holds plus an hour.
	Limit canary.Duration `yaml:"limit"`
}

// Profile is a track's (or an endpoint's) behaviour: a lognormal latency
// distribution given by its median and 95th percentile, and an error
// rate.
type Profile struct {
	// P50 is the median latency. Default: P95 / 2.28 (a lognormal of
	// σ = 0.5), or 100ms.
	P50 canary.Duration `yaml:"p50"`
	// P95 is the 95th percentile latency. Default: P50 × 2.28, or 228ms.
	P95 canary.Duration `yaml:"p95"`
	// ErrorRate is the share of requests answered 5xx. Default: 0.1%.
	ErrorRate *canary.Percent `yaml:"errorRate"`
}

// Endpoint is a share of the traffic with its own profile.
type Endpoint struct {
	Name    string         `yaml:"name"`
	Share   canary.Percent `yaml:"share"`
	Profile `yaml:",inline"`
}

// Change sets values from At on.
type Change struct {
	// At is when the change begins, since the rollout started.
	At canary.Duration `yaml:"at"`
	// Over makes it a linear ramp from the values before At to the new
	// ones at At + Over. Default: 0, at once.
	Over canary.Duration `yaml:"over"`
	// Until ends it: from then on the values are those before At.
	// Default: never.
	Until canary.Duration `yaml:"until"`
	// Track is stable, canary or both. Required for profile fields; not
	// used for rps.
	Track string `yaml:"track"`
	// Endpoint names the endpoint changed. Default: the track's own
	// profile (the traffic no endpoint takes).
	Endpoint string `yaml:"endpoint"`
	// New values; unset fields do not change.
	P50       canary.Duration `yaml:"p50"`
	P95       canary.Duration `yaml:"p95"`
	ErrorRate *canary.Percent `yaml:"errorRate"`
	// RPS is the whole service's new request rate.
	RPS float64 `yaml:"rps"`
}

// Noise is random variation, drawn afresh every Every for each track
// (Shared for both at once). Latency noise multiplies latencies by a
// lognormal factor with this standard deviation (10% ≈ σ 0.1); error-rate
// and rps noise multiply by a lognormal factor with mean 1.
type Noise struct {
	// Every is how long one draw lasts. Default: 30s.
	Every canary.Duration `yaml:"every"`
	// Latency is each track's own variation (a slow pod, a noisy host).
	Latency canary.Percent `yaml:"latency"`
	// Shared is variation both tracks share (load, a dependency).
	Shared canary.Percent `yaml:"shared"`
	// ErrorRate is each track's variation of its error rate.
	ErrorRate canary.Percent `yaml:"errorRate"`
	// RPS is the variation of the service's traffic.
	RPS canary.Percent `yaml:"rps"`
	// Autocorrelation carries each factor over from one draw to the next:
	// the normal behind every lognormal factor is AR(1) with this
	// coefficient (0: independent draws, 0.8: a slow period lasts about
	// five draws). Between 0 and 1 (0.5, or 50%).
	Autocorrelation float64 `yaml:"autocorrelation"`
	// Slow is each track's own chance, per draw, of a slow interval (a GC
	// storm, a noisy neighbour): its latencies multiplied by SlowBy on top
	// of the lognormal factors. A heavy tail of interval latencies.
	Slow canary.Percent `yaml:"slow"`
	// SharedSlow is the chance, per draw, that both tracks are slow
	// together (a dependency's bad minute).
	SharedSlow canary.Percent `yaml:"sharedSlow"`
	// SlowBy is the latency factor of a slow interval. Default: 2.
	SlowBy float64 `yaml:"slowBy"`
	// Diurnal is the amplitude of a daily swing of the traffic: rps ×
	// (1 + Diurnal·sin(2π·(t + DiurnalAt)/24h)), t since the rollout
	// started.
	Diurnal canary.Percent `yaml:"diurnal"`
	// DiurnalAt is where in the day the rollout starts, from the mean
	// traffic on the rise (0) to the peak (6h) and the trough (18h).
	DiurnalAt canary.Duration `yaml:"diurnalAt"`
}

// Expect is the right decision for the scenario.
type Expect struct {
	// Rollback is true for a regression a policy should roll back, false
	// for a canary that should not be rolled back.
	Rollback bool `yaml:"rollback"`
	// From is when the regression begins, for detection times.
	From canary.Duration `yaml:"from"`
}

// Tracks.
const (
	trackStable = "stable"
	trackCanary = "canary"
	trackBoth   = "both"
)

// Default profile values.
const (
	defaultSigma     = 0.5
	defaultP50       = 100 * time.Millisecond
	defaultErrorRate = 0.001
	defaultNoiseStep = 30 * time.Second
	defaultSlowBy    = 2.0
	// z95 is the standard normal's 95th percentile.
	z95 = 1.6448536269514722
)

// Load reads a scenario file.
func Load(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return sc, nil
}

// Parse decodes a scenario strictly (unknown fields are errors) and
// validates it; file names the scenario in errors and locates its series.
func Parse(file string, data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if sc.Series != "" {
		path := sc.Series
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(file), path)
		}
		changes, err := loadSeries(path)
		if err != nil {
			return nil, fmt.Errorf("%s: series: %w", file, err)
		}
		sc.Changes = append(changes, sc.Changes...)
	}
	if err := sc.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &sc, nil
}

// problems collects what is wrong with a scenario.
type problems []error

func (ps *problems) add(format string, args ...any) { *ps = append(*ps, fmt.Errorf(format, args...)) }

// validate checks values and fills the profile defaults.
func (sc *Scenario) validate() error {
	var ps problems
	if sc.RPS < 0 || math.IsNaN(sc.RPS) || math.IsInf(sc.RPS, 0) {
		ps.add("rps: %v is not a request rate (write requests per second, e.g. 200)", sc.RPS)
	}
	if sc.RPS == 0 && !slices.ContainsFunc(sc.Changes, func(c Change) bool { return c.RPS > 0 && c.At == 0 }) {
		ps.add("rps: required: the service's requests per second, e.g. rps: 200")
	}
	fill(&sc.Stable, Profile{})
	fill(&sc.Canary, sc.Stable)
	for _, p := range []struct {
		name string
		p    Profile
	}{{"stable", sc.Stable}, {"canary", sc.Canary}} {
		if p.p.P95 <= p.p.P50 {
			ps.add("%s: p95 %s is not above p50 %s", p.name, p.p.P95, p.p.P50)
		}
	}
	names := sc.validateEndpoints(&ps)
	sc.validateChanges(&ps, names)
	sc.validateNoise(&ps)
	return errors.Join(ps...)
}

// validateEndpoints checks the endpoints and fills their profiles; it
// returns their names.
func (sc *Scenario) validateEndpoints(ps *problems) map[string]bool {
	total := 0.0
	names := map[string]bool{}
	for i := range sc.Endpoints {
		e := &sc.Endpoints[i]
		if e.Name == "" || names[e.Name] {
			ps.add("endpoints[%d].name: required and unique", i)
		}
		names[e.Name] = true
		if e.Share <= 0 {
			ps.add("endpoints[%d].share: required, above 0%%", i)
		}
		total += float64(e.Share)
		// An endpoint's unset fields take the stable's values; the
		// canary's endpoint starts the same.
		fill(&e.Profile, sc.Stable)
		if e.P95 <= e.P50 {
			ps.add("endpoints[%d]: p95 %s is not above p50 %s", i, e.P95, e.P50)
		}
	}
	if total > 1+1e-9 {
		ps.add("endpoints: shares add up to %s, more than 100%%", canary.Percent(total))
	}
	return names
}

// validateChanges checks the changes against the endpoints' names.
func (sc *Scenario) validateChanges(ps *problems, names map[string]bool) {
	for i, c := range sc.Changes {
		profile := c.P50 != 0 || c.P95 != 0 || c.ErrorRate != nil
		switch {
		case !profile && c.RPS == 0:
			ps.add("changes[%d]: change something: p50, p95, errorRate or rps", i)
		case profile && c.Track != trackStable && c.Track != trackCanary && c.Track != trackBoth:
			ps.add("changes[%d].track: %q: write stable, canary or both", i, c.Track)
		case c.Endpoint != "" && !names[c.Endpoint]:
			ps.add("changes[%d].endpoint: %q is not one of the endpoints", i, c.Endpoint)
		case c.Until != 0 && c.Until <= c.At+c.Over:
			ps.add("changes[%d].until: %s is not after the change is complete (at + over)", i, c.Until)
		case c.RPS < 0:
			ps.add("changes[%d].rps: %v is negative", i, c.RPS)
		}
	}
}

// validateNoise checks the noise and fills its defaults.
func (sc *Scenario) validateNoise(ps *problems) {
	n := &sc.Noise
	if n.Every == 0 {
		n.Every = canary.Duration(defaultNoiseStep)
	}
	if !(n.Autocorrelation >= 0 && n.Autocorrelation < 1) {
		ps.add("noise.autocorrelation: %v: want at least 0 and below 1 (0.5 carries half of each draw into the next)", n.Autocorrelation)
	}
	for _, f := range []struct {
		name string
		v    canary.Percent
	}{{"slow", n.Slow}, {"sharedSlow", n.SharedSlow}, {"diurnal", n.Diurnal}} {
		if f.v < 0 || f.v > 1 {
			ps.add("noise.%s: %s: want 0%% to 100%%", f.name, f.v)
		}
	}
	if n.SlowBy == 0 {
		n.SlowBy = defaultSlowBy
	}
	if !(n.SlowBy >= 1) || math.IsInf(n.SlowBy, 0) {
		ps.add("noise.slowBy: %v: want a latency factor of at least 1 (2 doubles latencies)", n.SlowBy)
	}
}

// fill completes a profile: unset fields from def, then the defaults.
func fill(p *Profile, def Profile) {
	switch {
	case p.P50 == 0 && p.P95 == 0:
		p.P50, p.P95 = def.P50, def.P95
	case p.P50 == 0:
		p.P50 = canary.Duration(float64(p.P95) / math.Exp(z95*defaultSigma))
	case p.P95 == 0:
		p.P95 = canary.Duration(float64(p.P50) * math.Exp(z95*defaultSigma))
	}
	if p.P50 == 0 {
		p.P50 = canary.Duration(defaultP50)
		p.P95 = canary.Duration(float64(defaultP50) * math.Exp(z95*defaultSigma))
	}
	if p.ErrorRate == nil {
		e := canary.Percent(defaultErrorRate)
		if def.ErrorRate != nil {
			e = *def.ErrorRate
		}
		p.ErrorRate = &e
	}
}

// loadSeries reads a recorded series as changes at each row's time.
func loadSeries(path string) ([]Change, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) < 2 {
		return nil, errors.New("want a header (at, track, and any of rps, p50, p95, errorRate) and rows")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.TrimSpace(h)] = i
	}
	if _, ok := col["at"]; !ok {
		return nil, errors.New("no at column")
	}
	var out []Change
	for n, rec := range recs[1:] {
		line := n + 2
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		c, err := seriesRow(get)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// seriesRow turns one CSV row into a change.
func seriesRow(get func(string) string) (Change, error) {
	var c Change
	at, err := parseAt(get("at"))
	if err != nil {
		return c, err
	}
	c.At = canary.Duration(at)
	c.Track = get("track")
	if c.Track == "" {
		c.Track = trackBoth
	}
	if s := get("rps"); s != "" {
		if c.RPS, err = strconv.ParseFloat(s, 64); err != nil || c.RPS < 0 {
			return c, fmt.Errorf("rps %q is not a request rate", s)
		}
	}
	for _, f := range []struct {
		name string
		dst  *canary.Duration
	}{{"p50", &c.P50}, {"p95", &c.P95}} {
		if s := get(f.name); s != "" {
			d, err := canary.ParseDuration(s)
			if err != nil {
				return c, fmt.Errorf("%s: %w", f.name, err)
			}
			*f.dst = canary.Duration(d)
		}
	}
	if s := get("errorRate"); s != "" {
		v, err := canary.ParsePercent(s)
		if err != nil {
			return c, fmt.Errorf("errorRate: %w", err)
		}
		p := canary.Percent(v)
		c.ErrorRate = &p
	}
	return c, nil
}

// parseAt reads a time since the start: a duration (90s, 1h30m) or
// seconds.
func parseAt(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil && v >= 0 {
		return time.Duration(v * float64(time.Second)), nil
	}
	d, err := canary.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("at: %w", err)
	}
	return d, nil
}
