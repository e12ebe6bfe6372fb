package canary

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as Go writes durations ("30s", "5m",
// "1h30m", "600ms"). Bare numbers and spelled-out units ("5 min") are
// rejected so a plan never means something other than it says.
//
// +kubebuilder:validation:Type=string
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the short way: "5m", not "5m0s".
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a duration strictly: a Go duration with a unit, not
// negative.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || t != s {
		return 0, fmt.Errorf("%q is not a duration (use a number and a unit, e.g. 30s, 5m, 1h30m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative (durations must be 0 or more)", s)
	}
	return d, nil
}

// FormatDuration writes d without zero components and without false
// precision: 5m, 1h30m, 600ms, 1.5s (rounded to 100ms from a second up, to
// the second from a minute up).
func FormatDuration(d time.Duration) string {
	switch a := d.Abs(); {
	case a >= time.Minute:
		d = d.Round(time.Second)
	case a >= time.Second:
		d = d.Round(100 * time.Millisecond)
	case a >= time.Millisecond:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Percent is a ratio written as a percentage: "1%", "99.9%", "0.5%". Its
// value is the ratio (1% is 0.01).
//
// +kubebuilder:validation:Type=string
type Percent float64

// String formats p as a percentage with at most three decimals.
func (p Percent) String() string { return FormatPercent(float64(p)) }

// MarshalText implements encoding.TextMarshaler.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Percent) UnmarshalText(b []byte) error {
	v, err := ParsePercent(string(b))
	if err != nil {
		return err
	}
	*p = Percent(v)
	return nil
}

// ParsePercent parses "1%" into 0.01. The number must be 0 to 100 and the
// percent sign is required.
func ParsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, fmt.Errorf("%q is not a percentage (write it with a %% sign, e.g. 1%%)", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || strings.TrimSpace(num) != num || strings.ContainsAny(num, "eE_") || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a percentage (write a number and a %% sign, e.g. 1%% or 99.9%%)", s)
	}
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("%q is out of range (a percentage is 0%% to 100%%)", s)
	}
	// Parse "99.9e-2" rather than divide, so 99.9% is exactly the float 0.999.
	return strconv.ParseFloat(num+"e-2", 64)
}

// FormatPercent writes a ratio as a percentage: 0.015 → "1.5%".
func FormatPercent(ratio float64) string {
	return strconv.FormatFloat(math.Round(ratio*100*1000)/1000, 'f', -1, 64) + "%"
}

// QuantityKind says what unit a Quantity was written in.
type QuantityKind string

// The kinds of Quantity.
const (
	KindDuration   QuantityKind = "duration"   // "600ms": value in seconds
	KindPercent    QuantityKind = "percent"    // "1%": value is the ratio
	KindMultiplier QuantityKind = "multiplier" // "2x": value is the factor
	KindNumber     QuantityKind = "number"     // "50": a plain number (requests/s)
)

// Quantity is a rule threshold: a latency ("600ms"), a percentage ("1%"), a
// multiplier ("2x") or a plain number ("50"). Value is canonical: seconds
// for durations, a ratio for percentages, the factor for multipliers.
//
// +kubebuilder:validation:Type=string
type Quantity struct {
	Kind  QuantityKind
	Value float64
	Text  string // as written in the plan
}

// String returns the quantity as written.
func (q Quantity) String() string { return q.Text }

// IsZero reports whether q was not set.
func (q Quantity) IsZero() bool { return q.Text == "" }

// MarshalText implements encoding.TextMarshaler.
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.Text), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (q *Quantity) UnmarshalText(b []byte) error {
	v, err := ParseQuantity(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// ParseQuantity parses a threshold. The unit decides the kind: ms/s/m/h a
// duration, % a percentage (and pp, percentage points, a difference of
// percentages, of the same kind), x a multiplier, none a plain number.
func ParseQuantity(s string) (Quantity, error) {
	switch {
	case strings.HasSuffix(s, "pp"):
		// Percentage points: a difference of ratios, 0.5pp is 0.005.
		v, err := ParsePercent(strings.TrimSuffix(s, "pp") + "%")
		if err != nil {
			return Quantity{}, fmt.Errorf("%q is not a number of percentage points (write a number and pp, e.g. 0.5pp)", s)
		}
		return Quantity{Kind: KindPercent, Value: v, Text: s}, nil
	case strings.HasSuffix(s, "%"):
		v, err := ParsePercent(s)
		return Quantity{Kind: KindPercent, Value: v, Text: s}, err
	case strings.HasSuffix(s, "x"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
		if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || strings.TrimSpace(s) != s {
			return Quantity{}, fmt.Errorf("%q is not a multiplier (write a number and x, e.g. 2x)", s)
		}
		return Quantity{Kind: KindMultiplier, Value: v, Text: s}, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Quantity{}, fmt.Errorf("%q is out of range (thresholds are 0 or more)", s)
		}
		return Quantity{Kind: KindNumber, Value: v, Text: s}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || strings.TrimSpace(s) != s {
		return Quantity{}, fmt.Errorf("%q is not a threshold (use a latency like 600ms, a percentage like 1%%, a multiplier like 2x, or a number)", s)
	}
	if d < 0 {
		return Quantity{}, fmt.Errorf("%q is negative (thresholds are 0 or more)", s)
	}
	return Quantity{Kind: KindDuration, Value: d.Seconds(), Text: s}, nil
}

// FormatValue writes v (canonical units) in the unit of kind: a duration
// in milliseconds, a ratio as a percentage, a factor with x.
func FormatValue(kind QuantityKind, v float64) string {
	switch kind {
	case KindDuration:
		return FormatDuration(time.Duration(math.Round(v*1000)) * time.Millisecond)
	case KindPercent:
		return FormatPercent(v)
	case KindMultiplier:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + "x"
	default:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	}
}

// SecretRef names a secret without containing it: "env:NAME" reads an
// environment variable, "file:/path" a file, and "secret:NAME/KEY" the key
// KEY of the Kubernetes Secret NAME in the rollout's namespace (read by
// `canary operator` only). Its String is redacted, so a SecretRef never
// leaks into an event or a log line.
type SecretRef string

// String returns the reference, never the secret.
func (s SecretRef) String() string { return string(s) }

// Validate checks the reference form.
func (s SecretRef) Validate() error {
	switch {
	case s == "":
		return nil
	case strings.HasPrefix(string(s), "env:") && len(s) > 4:
		return nil
	case strings.HasPrefix(string(s), "file:") && len(s) > 5:
		return nil
	case strings.HasPrefix(string(s), "secret:"):
		if _, _, ok := s.KubernetesSecret(); ok {
			return nil
		}
		return errors.New("not a Kubernetes Secret reference: write secret:NAME/KEY, NAME a Secret in the rollout's namespace and KEY one of its keys")
	}
	return errors.New("not a secret reference (write env:NAME, file:/path or secret:NAME/KEY; secrets are never written in a plan, and the value is not repeated here)")
}

// KubernetesSecret splits a "secret:NAME/KEY" reference into the Secret's
// name and the key; ok is false for other forms and for a name that is not
// a DNS subdomain or a key that is not a valid Secret key.
func (s SecretRef) KubernetesSecret() (name, key string, ok bool) {
	rest, found := strings.CutPrefix(string(s), "secret:")
	if !found {
		return "", "", false
	}
	name, key, found = strings.Cut(rest, "/")
	if !found || !secretNameRE.MatchString(name) || len(name) > 253 || !secretKeyRE.MatchString(key) || len(key) > 253 {
		return "", "", false
	}
	return name, key, true
}

var (
	secretNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	secretKeyRE  = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// Resolve reads the secret s names: "env:NAME" from the environment,
// "file:/path" from the file, surrounding white space trimmed (a trailing
// newline does not count). An empty reference, an unset variable, an
// unreadable or empty file, or a value with a line break inside is an
// error with code invalid. Errors name the reference, never the value.
func (s SecretRef) Resolve() (string, error) {
	if s == "" {
		return "", Errorf(EINVALID, "no secret reference configured")
	}
	if err := s.Validate(); err != nil {
		return "", Errorf(EINVALID, "%v", err)
	}
	if _, _, ok := s.KubernetesSecret(); ok {
		return "", Errorf(EINVALID, "secret %s is a Kubernetes Secret, which only canary operator reads: outside Kubernetes write env:NAME or file:/path", s)
	}
	var v string
	if name, ok := strings.CutPrefix(string(s), "env:"); ok {
		env, set := os.LookupEnv(name)
		if !set {
			return "", Errorf(EINVALID, "secret %s: the environment variable %s is not set", s, name)
		}
		v = env
	} else {
		path := strings.TrimPrefix(string(s), "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is the reference, shown once
			}
			return "", Errorf(EINVALID, "secret %s: %v", s, err)
		}
		v = string(b)
	}
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", Errorf(EINVALID, "secret %s is empty", s)
	case strings.ContainsAny(v, "\r\n\x00"):
		return "", Errorf(EINVALID, "secret %s holds a line break: it must be one line", s)
	}
	return v, nil
}
