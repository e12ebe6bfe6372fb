package canary

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultFlagEnvironment is the environment of a flag created without one.
const DefaultFlagEnvironment = "production"

// Limits on the text a flag change carries.
const (
	// MaxFlagNameLen is the longest flag name.
	MaxFlagNameLen = 128
	// MaxActorLen is the longest actor.
	MaxActorLen = 200
	// MaxReasonLen is the longest reason, in bytes.
	MaxReasonLen = 1000
)

// FlagState is what a flag change sets: the three fields of the runbook's
// flag API.
type FlagState struct {
	// Enabled turns the flag on; a disabled flag is off for everyone,
	// whatever its percentage.
	Enabled bool `json:"enabled"`
	// RolloutPercentage is the share of users (0..100) who see an enabled
	// flag on: those whose sticky bucket is below RolloutPercentage×100.
	RolloutPercentage int `json:"rollout_percentage"`
	// Environment labels the flag, e.g. production.
	Environment string `json:"environment"`
}

// Flag is one feature flag as the runbook's flag API shows it.
type Flag struct {
	// Name identifies the flag, e.g. release_20250814.
	Name string `json:"name"`
	// Enabled turns the flag on; a disabled flag is off for everyone.
	Enabled bool `json:"enabled"`
	// RolloutPercentage is the share of users (0..100) who see the flag
	// on when it is enabled (see FlagState).
	RolloutPercentage int `json:"rollout_percentage"`
	// Environment labels the flag, e.g. production.
	Environment string `json:"environment"`
	// Version counts the flag's changes: 1 after the change that created
	// it, +1 for each later change.
	Version int64 `json:"version"`
	// CreatedAt is the time of the change that created the flag.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the time of the last change.
	UpdatedAt time.Time `json:"updated_at"`
	// UpdatedBy is the last change's actor.
	UpdatedBy string `json:"updated_by"`
}

// State returns the flag's settable fields.
func (f Flag) State() FlagState {
	return FlagState{Enabled: f.Enabled, RolloutPercentage: f.RolloutPercentage, Environment: f.Environment}
}

// FlagUpdate is a partial change: nil fields keep their value (or, for a
// new flag, take the default: disabled, 0%, production).
type FlagUpdate struct {
	// Enabled, when set, enables or disables the flag.
	Enabled *bool `json:"enabled,omitempty"`
	// RolloutPercentage, when set, is the new percentage, 0..100.
	RolloutPercentage *int `json:"rollout_percentage,omitempty"`
	// Environment, when set, is the new environment label (not empty).
	Environment *string `json:"environment,omitempty"`
}

// Validate checks the update's values; the error (code invalid) names
// every bad field.
func (u FlagUpdate) Validate() error {
	var problems []string
	if u.Enabled == nil && u.RolloutPercentage == nil && u.Environment == nil {
		problems = append(problems, `nothing to change: give at least one of enabled, rollout_percentage, environment, e.g. {"rollout_percentage": 10}`)
	}
	if p := u.RolloutPercentage; p != nil && (*p < 0 || *p > 100) {
		problems = append(problems, fmt.Sprintf("rollout_percentage %d is out of range: write a whole number from 0 to 100", *p))
	}
	if e := u.Environment; e != nil {
		if err := checkLabel("environment", *e); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return Errorf(EINVALID, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// Apply returns st with the update's set fields replaced.
func (u FlagUpdate) Apply(st FlagState) FlagState {
	if u.Enabled != nil {
		st.Enabled = *u.Enabled
	}
	if u.RolloutPercentage != nil {
		st.RolloutPercentage = *u.RolloutPercentage
	}
	if u.Environment != nil {
		st.Environment = *u.Environment
	}
	return st
}

// NewFlagState is the state a flag starts from before its first update
// applies: disabled, 0%, DefaultFlagEnvironment.
func NewFlagState() FlagState {
	return FlagState{Environment: DefaultFlagEnvironment}
}

// FlagChange is one entry of a flag's history: who changed it when, why,
// and from what to what.
type FlagChange struct {
	// Flag is the flag's name.
	Flag string `json:"flag"`
	// Version is the flag's version after the change.
	Version int64 `json:"version"`
	// Time is when the change was made.
	Time time.Time `json:"time"`
	// Actor made the change: a rollout ("rollout shop/checkout") or an API
	// token ("token ops"); "anonymous" on an open server.
	Actor string `json:"actor"`
	// Reason says why, as given by the actor. Optional.
	Reason string `json:"reason,omitempty"`
	// Before is the state before the change; nil when it created the flag.
	Before *FlagState `json:"before,omitempty"`
	// After is the state the change set.
	After FlagState `json:"after"`
}

// flagNameRE is what CheckFlagName accepts.
var flagNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckFlagName accepts names of 1 to MaxFlagNameLen letters, digits, '.',
// '_' and '-', starting with a letter or digit: safe in a URL path
// segment and an OFREP key. Otherwise it returns code invalid.
func CheckFlagName(name string) error {
	if len(name) > MaxFlagNameLen || !flagNameRE.MatchString(name) {
		return Errorf(EINVALID,
			"flag name %q is not valid: use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. release_20250814",
			clip(name, 40), MaxFlagNameLen)
	}
	return nil
}

// checkLabel accepts an environment label: like a flag name, at most 64.
func checkLabel(field, v string) error {
	if len(v) > 64 || !flagNameRE.MatchString(v) {
		return fmt.Errorf("%s %q is not valid: use 1 to 64 letters, digits, '.', '_' or '-', e.g. production", field, clip(v, 40))
	}
	return nil
}

// checkActor checks a change's actor and reason.
func checkActor(actor, reason string) error {
	switch {
	case strings.TrimSpace(actor) == "":
		return Errorf(EINVALID, "a flag change needs an actor (the rollout or token making it)")
	case len(actor) > MaxActorLen:
		return Errorf(EINVALID, "actor is %d bytes long, more than %d", len(actor), MaxActorLen)
	case len(reason) > MaxReasonLen:
		return Errorf(EINVALID, "reason is %d bytes long, more than %d: shorten it", len(reason), MaxReasonLen)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CheckFlagChange validates everything a flag store checks before writing:
// the name, the update, the actor and the reason.
func CheckFlagChange(name string, u FlagUpdate, actor, reason string) error {
	if err := CheckFlagName(name); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	return checkActor(actor, reason)
}
