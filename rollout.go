package canary

import (
	"fmt"
	"time"
)

// Phase is where a rollout is.
type Phase string

// The phases. Pending → PreChecks → Progressing → Promoting → Succeeded, or
// → RollingBack → RolledBack; Paused from PreChecks, Progressing or
// Promoting; Failed when pre-checks fail (nothing changed).
const (
	PhasePending     Phase = "Pending"
	PhasePreChecks   Phase = "PreChecks"
	PhaseProgressing Phase = "Progressing"
	PhasePaused      Phase = "Paused"
	PhasePromoting   Phase = "Promoting"
	PhaseSucceeded   Phase = "Succeeded"
	PhaseRollingBack Phase = "RollingBack"
	PhaseRolledBack  Phase = "RolledBack"
	PhaseFailed      Phase = "Failed"
)

// Phases are every phase, in the order of a rollout's life.
var Phases = []Phase{PhasePending, PhasePreChecks, PhaseProgressing, PhasePaused, PhasePromoting,
	PhaseSucceeded, PhaseRollingBack, PhaseRolledBack, PhaseFailed}

// Terminal reports whether no more actions follow in phase p.
func (p Phase) Terminal() bool {
	return p == PhaseSucceeded || p == PhaseRolledBack || p == PhaseFailed
}

// Track is one side of the split.
type Track string

// The tracks. Metrics are always per track.
const (
	TrackStable Track = "stable"
	TrackCanary Track = "canary"
)

// Verdict is the outcome of one evaluation of one rule.
type Verdict string

// The verdicts. Only breach moves toward rollback; insufficient, nodata and
// error never promote and never roll back on their own.
const (
	VerdictPass         Verdict = "pass"
	VerdictBreach       Verdict = "breach"
	VerdictInsufficient Verdict = "insufficient" // too few requests to judge
	VerdictNoData       Verdict = "nodata"       // the source had no value
	VerdictError        Verdict = "error"        // the source failed
)

// Judged reports whether v says something about the canary.
func (v Verdict) Judged() bool { return v == VerdictPass || v == VerdictBreach }

// ActionKind is what an Action asks a provider to do.
type ActionKind string

// The action kinds. Every action is absolute and idempotent: replaying it
// after a crash is safe.
const (
	ActSetWeight    ActionKind = "setWeight"    // route Weight% to the canary
	ActSetFlag      ActionKind = "setFlag"      // set the flag to FlagEnabled / Weight%
	ActPromote      ActionKind = "promote"      // make the canary version the stable one
	ActRemoveCanary ActionKind = "removeCanary" // tear the canary down
	ActPreCheck     ActionKind = "preCheck"     // run pre-check Name
	ActHook         ActionKind = "hook"         // run hook Name
	ActCleanup      ActionKind = "cleanup"      // run cleanup entry Name
	ActApproval     ActionKind = "approval"     // ask the approval webhook of step Step
)

// Action is one absolute instruction for the runner.
type Action struct {
	// ID is unique within a rollout and increases; results refer to it.
	ID int64 `json:"id"`
	// Kind of action.
	Kind ActionKind `json:"kind"`
	// Weight for setWeight; percentage for setFlag.
	Weight int `json:"weight,omitempty"`
	// Route, on a setWeight of a plan that routes by request (matches,
	// mirror or blue/green), is the whole route to set with SetRoute; its
	// Weight equals the action's.
	Route *Route `json:"route,omitempty"`
	// FlagEnabled for setFlag.
	FlagEnabled bool `json:"flagEnabled,omitempty"`
	// Name of the pre-check, hook or cleanup entry.
	Name string `json:"name,omitempty"`
	// Step index for approval and afterStep hooks.
	Step int `json:"step,omitempty"`
	// BestEffort actions (hooks after traffic moved, cleanup) are not
	// retried: a failure is recorded and the rollout goes on.
	BestEffort bool `json:"bestEffort,omitempty"`
}

// ActionResult reports an executed action back to the engine.
type ActionResult struct {
	// ID of the action.
	ID int64 `json:"id"`
	// Err is empty on success.
	Err string `json:"err,omitempty"`
	// Output is a short description of what happened (a check's value, an
	// approval's answer: "approved", "rejected", "waiting").
	Output string `json:"output,omitempty"`
	// At is when the action finished.
	At time.Time `json:"at"`
}

// RuleState is the engine's memory of one rule.
type RuleState struct {
	// Name is the rule's display name.
	Name string `json:"name"`
	// Verdict of the last evaluation.
	Verdict Verdict `json:"verdict,omitempty"`
	// ActiveAt is the nominal time (the step's start + i × interval) of
	// the first breaching evaluation of the current streak; zero when the
	// rule is not pending.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	ActiveAt time.Time `json:"activeAt,omitzero"`
	// Firing is set once the breach has held for the rule's For.
	Firing bool `json:"firing,omitempty"`
	// Streak counts the breaching evaluations of the current streak that
	// advanced it, and StreakTick is the evaluation (Tick) of the last of
	// them: the rule has been pending for (Streak − 1) × interval.
	// Insufficient, nodata and error evaluations neither advance nor
	// clear it; a breach carried only by requests an earlier breach of
	// the streak already counted does not advance it.
	Streak     int `json:"streak,omitempty"`
	StreakTick int `json:"streakTick,omitempty"`
	// Windows are a threshold rule's counts of the step's last
	// evaluations, oldest first, which a window too small to decide pools
	// (at most 10).
	Windows []WindowCounts `json:"windows,omitempty"`
	// Value is the last judged value (canonical units) and Samples the
	// canary requests behind it.
	Value   float64 `json:"value"`
	Samples int64   `json:"samples"`
	// Detail explains the last verdict when it was not judged (the
	// source's error, too few requests).
	Detail string `json:"detail,omitempty"`
	// Baseline is the evidence a compare: baseline rule has gathered; nil
	// for other rules.
	Baseline *BaselineEvidence `json:"baseline,omitempty"`
}

// WindowCounts are one evaluation's counts behind a threshold rule.
type WindowCounts struct {
	// Tick is the evaluation's number in its step (1 is the first).
	Tick int `json:"tick"`
	// Requests judged: the canary's, or for a burn rule the service's.
	Requests int64 `json:"requests"`
	// Hits are the requests that count against the rule: failed, or
	// slower than a latency threshold for certain; HitsHigh those that may
	// be (for a latency from histogram buckets, the bucket holding the
	// threshold too; else Hits).
	Hits     int64 `json:"hits"`
	HitsHigh int64 `json:"hitsHigh,omitempty"`
	// Canary requests among Requests (a burn rule's).
	Canary int64 `json:"canary,omitempty"`
	// Stable requests in the window, for the reasons given.
	Stable int64 `json:"stable,omitempty"`
	// StableHits are the stable's failed requests among them: a burn
	// rule vs: stable bounds the stable's own error ratio with them.
	StableHits int64 `json:"stableHits,omitempty"`
}

// BaselineEvidence is what a compare: baseline rule accumulates across
// evaluations.
type BaselineEvidence struct {
	// Counts are an errorRate rule's sequential tests of the current
	// step: counts since the step started, and since later starts spread
	// through its hold, so a regression that begins late is not diluted by
	// the healthy requests before it. Oldest first.
	Counts []ErrorCounts `json:"counts,omitempty"`
	// Intervals are a latency rule's per-interval quantiles of both
	// tracks over the rule's window, oldest first.
	Intervals []IntervalValues `json:"intervals,omitempty"`
}

// ErrorCounts are both tracks' requests and errors since Since.
type ErrorCounts struct {
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	Since          time.Time `json:"since"`
	CanaryRequests float64   `json:"canaryRequests"`
	CanaryErrors   float64   `json:"canaryErrors"`
	StableRequests float64   `json:"stableRequests"`
	StableErrors   float64   `json:"stableErrors"`
}

// IntervalValues are both tracks' values of one metric over the interval
// ending at At.
type IntervalValues struct {
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	At     time.Time `json:"at"`
	Canary float64   `json:"canary"`
	Stable float64   `json:"stable"`
	// Shift is the Hodges-Lehmann shift of the canary's latencies over the
	// stable's in the interval (the median of the pairwise differences of
	// its requests, of their logarithms for a relative worseBy), when the
	// source gave latency histograms; nil otherwise.
	Shift *float64 `json:"shift,omitempty"`
}

// State is a rollout's state: everything the engine needs besides the plan,
// the inputs and the time. It is plain data, saved as a snapshot.
//
// In a Rollout's status, fields the CRD does not know are kept, so an
// operator newer than its CRD does not lose state. Times are RFC 3339
// strings (field markers: controller-gen has no schema for time.Time).
//
// +kubebuilder:pruning:PreserveUnknownFields
type State struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Phase   Phase  `json:"phase"`
	// PausedFrom is the phase a pause interrupted; resume returns to it.
	PausedFrom  Phase  `json:"pausedFrom,omitempty"`
	PauseReason string `json:"pauseReason,omitempty"`
	// PausedAt is when the current pause began.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// Step is the index of the current step in the plan.
	Step int `json:"step"`
	// StepStartedAt is when the current step's weight was confirmed.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	StepStartedAt time.Time `json:"stepStartedAt,omitzero"`
	// Judged counts judged evaluations in the current step (every rule
	// pass or breach); Evaluations counts all.
	Judged      int `json:"judged"`
	Evaluations int `json:"evaluations"`
	// JudgedTime is the time of the current step vouched for by judged
	// evaluations: each covers the time since the previous evaluation, up
	// to the shortest rule window. The hold completes when it reaches the
	// hold. LastEvalAt is the nominal time of the last evaluation (its tick).
	JudgedTime time.Duration `json:"judgedTime"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	LastEvalAt time.Time `json:"lastEvalAt,omitzero"`
	// Tick is the number of the last evaluation in the current step:
	// evaluation i is due at the step's nominal start + i × interval (as
	// Prometheus aligns rule evaluations), whatever the scheduler's
	// jitter; ticks that passed without an evaluation count too.
	Tick int `json:"tick,omitempty"`
	// OutageTime is the time of the current step's evaluations that
	// measured nothing (the metric source failed or had no data for
	// either track): it extends the hold by its own length.
	OutageTime time.Duration `json:"outageTime,omitempty"`
	// Weight is the confirmed canary weight; FlagPercent and FlagEnabled
	// the confirmed flag.
	Weight      int  `json:"weight"`
	FlagPercent int  `json:"flagPercent"`
	FlagEnabled bool `json:"flagEnabled"`
	// HoldDone is set once the step's hold has its evidence; the step then
	// waits only for approval.
	HoldDone bool `json:"holdDone,omitempty"`
	// Approved is set when the current step's approval was given.
	Approved bool `json:"approved,omitempty"`
	// ApprovalSince is when the current step started waiting for approval.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	ApprovalSince time.Time `json:"approvalSince,omitzero"`
	// ApprovalAskAt is when the approval webhook is asked next.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	ApprovalAskAt time.Time   `json:"approvalAskAt,omitzero"`
	Rules         []RuleState `json:"rules"`
	// NextEvalAt is when the next evaluation is due.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	NextEvalAt time.Time `json:"nextEvalAt,omitzero"`
	// Outstanding are actions issued and not yet confirmed, in order.
	Outstanding []Action `json:"outstanding,omitempty"`
	// FailingSince is when the first outstanding action first failed.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	FailingSince time.Time `json:"failingSince,omitzero"`
	// RetryAt is when failed outstanding actions are issued again.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	RetryAt   time.Time `json:"retryAt,omitzero"`
	LastError string    `json:"lastError,omitempty"`
	// Escalated is set once a failing action outlived the action timeout.
	Escalated bool `json:"escalated,omitempty"`
	// ActionSeq is the last action ID issued; EventSeq the last event's.
	ActionSeq int64 `json:"actionSeq"`
	EventSeq  int64 `json:"eventSeq"`
	// Stage is the position inside a multi-stage phase (pre-checks, hooks,
	// rollback, promotion): see the engine.
	Stage string `json:"stage,omitempty"`
	// RollbackKind is rollback-gradual or rollback-immediate while rolling
	// back; RollbackReason says why.
	RollbackKind   string `json:"rollbackKind,omitempty"`
	RollbackReason string `json:"rollbackReason,omitempty"`
	// RollbackUrgency is the urgency of the rule (or command) that started it.
	RollbackUrgency Urgency `json:"rollbackUrgency,omitempty"`
	// DrainUntil is when a gradual rollback's drain ends.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	DrainUntil time.Time `json:"drainUntil,omitzero"`
	// BaselineBurn is the service's burn measured before traffic moved.
	BaselineBurn *float64 `json:"baselineBurn,omitempty"`
	// BaselineRequests is how many requests BaselineBurn was measured
	// over: a vs: baseline burn rule bounds the baseline's own
	// uncertainty with it (0, from a state written before, takes the
	// baseline as known).
	BaselineRequests int64 `json:"baselineRequests,omitempty"`
	// BaselineTaken is set once the baseline measurement was attempted.
	BaselineTaken bool `json:"baselineTaken,omitempty"`
	// Extended is set once the current step's hold was extended for lack
	// of judged evaluations.
	Extended bool `json:"extended,omitempty"`
	// LastValues holds the canary's and the stable's last judged values by
	// metric (canonical units), for messages and reports.
	LastValues map[string]float64 `json:"lastValues,omitempty"`
	// Outcome is the phase the rollout will end in once cleanup is done.
	Outcome Phase `json:"outcome,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// EventType classifies events; notification audiences filter on it.
type EventType string

// The event types.
const (
	EvCreated          EventType = "created"
	EvPreCheckPassed   EventType = "preCheckPassed"
	EvPreChecksFailed  EventType = "preChecksFailed"
	EvStepStarted      EventType = "stepStarted"
	EvStepCompleted    EventType = "stepCompleted"
	EvEvaluated        EventType = "evaluated"
	EvRulePending      EventType = "rulePending"
	EvRuleFiring       EventType = "ruleFiring"
	EvRuleCleared      EventType = "ruleCleared"
	EvHoldExtended     EventType = "holdExtended"
	EvAwaitingApproval EventType = "awaitingApproval"
	EvApproved         EventType = "approved"
	EvPaused           EventType = "paused"
	EvResumed          EventType = "resumed"
	EvRollbackStarted  EventType = "rollbackStarted"
	EvRolledBack       EventType = "rolledBack"
	EvPromoting        EventType = "promoting"
	EvPromoted         EventType = "promoted"
	EvActionIssued     EventType = "actionIssued"
	EvActionSucceeded  EventType = "actionSucceeded"
	EvActionFailed     EventType = "actionFailed"
	EvHookFailed       EventType = "hookFailed"
	EvFailed           EventType = "failed"
	EvRetried          EventType = "retried"
	EvCommand          EventType = "command"
)

// EventTypes are every event type, in the order of a rollout's life.
var EventTypes = []EventType{
	EvCreated, EvPreCheckPassed, EvPreChecksFailed, EvStepStarted, EvStepCompleted, EvEvaluated,
	EvRulePending, EvRuleFiring, EvRuleCleared, EvHoldExtended, EvAwaitingApproval, EvApproved,
	EvPaused, EvResumed, EvRollbackStarted, EvRolledBack, EvPromoting, EvPromoted,
	EvActionIssued, EvActionSucceeded, EvActionFailed, EvHookFailed, EvFailed, EvRetried, EvCommand,
}

// EventSeverity says whether an event type reports something gone wrong.
type EventSeverity string

// The severities.
const (
	// SeverityInfo: the rollout goes as planned.
	SeverityInfo EventSeverity = "info"
	// SeverityWarning: something failed, fired, paused or rolled back.
	SeverityWarning EventSeverity = "warning"
)

// Severity of the event type: warning for a firing rule, a rollback, a
// pause, a failed pre-check, action or hook and a failed rollout; info
// otherwise.
func (t EventType) Severity() EventSeverity {
	switch t {
	case EvRollbackStarted, EvRolledBack, EvPaused, EvFailed, EvPreChecksFailed, EvActionFailed, EvHookFailed, EvRuleFiring:
		return SeverityWarning
	}
	return SeverityInfo
}

// Event is an append-only record of what happened and why.
type Event struct {
	// Seq increases by one per event of a rollout.
	Seq int64 `json:"seq"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	Time    time.Time `json:"time"`
	Rollout string    `json:"rollout"`
	Type    EventType `json:"type"`
	Phase   Phase     `json:"phase"`
	// Step index and Weight at the time of the event.
	Step    int     `json:"step"`
	Weight  int     `json:"weight"`
	Urgency Urgency `json:"urgency,omitempty"`
	// Message is a one-line human summary, e.g. "🚨 ROLLBACK INITIATED:
	// latencyP95 742ms > 600ms for 5m".
	Message string `json:"message"`
	// Rule that caused the event, if any.
	Rule string `json:"rule,omitempty"`
	// Evaluations are the inputs of a decision: every rule's value,
	// samples, threshold and verdict.
	Evaluations []Evaluation `json:"evaluations,omitempty"`
	// Action issued or reported.
	Action *Action `json:"action,omitempty"`
	// Error text, if any.
	Error string `json:"error,omitempty"`
	// Actor is who issued a command (a token name, "cli", "operator").
	Actor string `json:"actor,omitempty"`
}

// Evaluation is one rule's judgement at one time, with its inputs.
type Evaluation struct {
	Rule      string        `json:"rule"`
	Metric    Metric        `json:"metric"`
	Window    time.Duration `json:"window"`
	Value     float64       `json:"value"`
	Samples   int64         `json:"samples"`
	Threshold float64       `json:"threshold"`
	Op        string        `json:"op"`
	Verdict   Verdict       `json:"verdict"`
	// Stable is the stable track's value in the same window, if measured.
	Stable *float64 `json:"stable,omitempty"`
	// PendingFor is how long the breach has held.
	PendingFor time.Duration `json:"pendingFor,omitempty"`
	Firing     bool          `json:"firing,omitempty"`
	Detail     string        `json:"detail,omitempty"`
	// ShortWindow and ShortValue are a multi-window burn rule's short
	// window and the burn over it.
	ShortWindow time.Duration `json:"shortWindow,omitempty"`
	ShortValue  *float64      `json:"shortValue,omitempty"`
	// Comparison is the statistics of a compare: baseline rule. Its
	// Threshold is then the stable's value plus worseBy.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Comparison is a compare: baseline rule's test of the canary against
// the stable. Differences are canary − stable: a difference of error
// ratios, a latency shift in seconds, or (Relative) a relative change
// (0.25: typically 25% slower).
type Comparison struct {
	// Test is "msprt" (a sequential test of the error ratios),
	// "mann-whitney" (a rank test of every request's latency) or
	// "signed-rank" (a rank test of per-interval latencies in pairs).
	Test string `json:"test"`
	// Data is what was compared: "requests" (error counts, or every
	// request's latency from histograms) or "intervals" (per-interval
	// quantiles).
	Data string `json:"data"`
	// Estimate of the difference: the difference of the error ratios, or
	// the Hodges-Lehmann shift of the latencies.
	Estimate float64 `json:"estimate"`
	// Lower and Upper are one-sided bounds of the difference, each at
	// Confidence; absent when there is too little data for one.
	Lower *float64 `json:"lower,omitempty"`
	Upper *float64 `json:"upper,omitempty"`
	// P is the p-value of "the canary is worse by at most Tolerance"
	// (always valid for msprt).
	P float64 `json:"p"`
	// Tolerance is the rule's worseBy and Confidence its confidence.
	Tolerance  float64 `json:"tolerance"`
	Confidence float64 `json:"confidence"`
	// Relative is set when the difference is relative.
	Relative bool `json:"relative,omitempty"`
	// CanaryN and StableN are the observations compared: requests, or
	// intervals.
	CanaryN int64 `json:"canaryN"`
	StableN int64 `json:"stableN"`
}

// Query asks a MetricSource for one base metric of one track over a window
// ending at At.
type Query struct {
	// Metric is a latency quantile (latencyPNN), errorRate or requestRate.
	Metric Metric        `json:"metric"`
	Track  Track         `json:"track"`
	Window time.Duration `json:"window"`
	At     time.Time     `json:"at"`
}

// Measurement is a MetricSource's answer: a number and how many requests
// it stands on. Providers measure; they never judge.
type Measurement struct {
	// Value in canonical units (seconds, ratio, requests/s).
	Value float64 `json:"value"`
	// Samples is the number of requests in the window.
	Samples int64 `json:"samples"`
	// NoData is set when the source has no value (empty result, NaN).
	NoData bool `json:"noData,omitempty"`
	// Latency is, optionally, the window's latency distribution for a
	// latency query: request counts by latency bucket, in increasing order
	// of bound. Rules with compare: baseline use it to compare every
	// request's latency; without it they compare per-interval quantiles.
	// The built-in recorder can give its bins; a Prometheus source the
	// increase of each histogram bucket over the window (de-cumulated).
	Latency []LatencyBucket `json:"latency,omitempty"`
}

// LatencyBucket counts the requests whose latency is above the previous
// bucket's bound (or 0) and at most UpperBound.
type LatencyBucket struct {
	// UpperBound in seconds, finite: requests beyond a histogram's last
	// finite bound are counted in the last finite bucket.
	UpperBound float64 `json:"le"`
	// Count of requests in the bucket.
	Count int64 `json:"count"`
}

// Observation is a measurement with its query, or the error that stopped it.
type Observation struct {
	Query       Query       `json:"query"`
	Measurement Measurement `json:"measurement"`
	Err         string      `json:"err,omitempty"`
}

// Describe is a short human form of the action: "set canary weight to
// 25%", "disable the feature flag", "run pre-check \"staging\"".
func (a Action) Describe() string {
	switch a.Kind {
	case ActSetWeight:
		if a.Route != nil && !a.Route.Plain() {
			return "set the canary's route to " + a.Route.String()
		}
		return fmt.Sprintf("set canary weight to %d%%", a.Weight)
	case ActSetFlag:
		if !a.FlagEnabled {
			return "disable the feature flag"
		}
		return fmt.Sprintf("set the feature flag to %d%%", a.Weight)
	case ActPromote:
		return "promote the canary to stable"
	case ActRemoveCanary:
		return "remove the canary"
	case ActPreCheck:
		return fmt.Sprintf("run pre-check %q", a.Name)
	case ActHook:
		return fmt.Sprintf("run hook %q", a.Name)
	case ActCleanup:
		return fmt.Sprintf("run cleanup %q", a.Name)
	case ActApproval:
		return fmt.Sprintf("ask the approval webhook of step %d", a.Step+1)
	}
	return string(a.Kind)
}
