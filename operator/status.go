package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Status is a Rollout's .status.
type Status struct {
	// Phase, Step (1-based, as people count) and Weight are shown by
	// kubectl get.
	Phase  string `json:"phase,omitempty"`
	Step   int    `json:"step,omitempty"`
	Weight int    `json:"weight"`
	// Message is the last decision's summary.
	Message string `json:"message,omitempty"`
	// ObservedGeneration is the spec generation the state belongs to.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// WakeAt is when the engine wants to be called next.
	WakeAt     *metav1.Time       `json:"wakeAt,omitempty"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastEvaluations are the inputs of the last decision on the rules.
	LastEvaluations []canary.Evaluation `json:"lastEvaluations,omitempty"`
	// RecentEvents are the last engine events, newest last.
	RecentEvents []EventSummary `json:"recentEvents,omitempty"`
	// LastCommand is the annotation value applied last; it is cleared once
	// the annotation is gone.
	LastCommand string `json:"lastCommand,omitempty"`
	// State is the engine's state.
	State *canary.State `json:"state,omitempty"`
	// Notifications are the notifications of spec.notify not yet
	// delivered, oldest first (at most MaxPendingNotifications), with
	// their attempts, next retry and last error.
	Notifications []Notification `json:"notifications,omitempty"`
	// PagerDutyOpen lists the audiences whose PagerDuty incident for this
	// rollout was triggered and not yet resolved.
	PagerDutyOpen []string `json:"pagerDutyOpen,omitempty"`
}

// EventSummary is one engine event in the status.
type EventSummary struct {
	Seq     int64            `json:"seq"`
	Time    metav1.Time      `json:"time"`
	Type    canary.EventType `json:"type"`
	Message string           `json:"message"`
}

const maxRecentEvents = 10

// invalid records a spec that is not a valid plan.
func (r *Reconciler) invalid(ctx context.Context, ro *rollout, err error) (ctrl.Result, error) {
	msg := err.Error()
	if ro.status.Phase == PhaseInvalid && ro.status.ObservedGeneration == ro.obj.GetGeneration() {
		return ctrl.Result{}, nil
	}
	ro.status.Phase = PhaseInvalid
	ro.status.Message = msg
	ro.status.ObservedGeneration = ro.obj.GetGeneration()
	setCondition(&ro.status, ConditionValid, metav1.ConditionFalse, "InvalidPlan", msg, ro.obj.GetGeneration(), r.cfg.Clock.Now())
	r.event(ro.obj, corev1.EventTypeWarning, "InvalidPlan", msg)
	if werr := r.writeStatus(ctx, ro); werr != nil {
		return requeueOn(werr)
	}
	return ctrl.Result{}, nil
}

// notReady records providers that cannot be built, and retries.
func (r *Reconciler) notReady(ctx context.Context, ro *rollout, err error) (ctrl.Result, error) {
	msg := err.Error()
	setCondition(&ro.status, ConditionReady, metav1.ConditionFalse, "ProvidersUnavailable", msg, ro.obj.GetGeneration(), r.cfg.Clock.Now())
	ro.status.Message = msg
	r.event(ro.obj, corev1.EventTypeWarning, "ProvidersUnavailable", msg)
	if werr := r.writeStatus(ctx, ro); werr != nil {
		return requeueOn(werr)
	}
	return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
}

// write stores an engine output in the status (fenced by the object's
// resourceVersion), then emits its events.
func (r *Reconciler) write(ctx context.Context, ro *rollout, out engine.Output) error {
	st := out.State
	s := &ro.status
	s.State = &st
	s.Phase = string(st.Phase)
	s.Step = st.Step + 1
	s.Weight = st.Weight
	s.ObservedGeneration = ro.obj.GetGeneration()
	s.WakeAt = nil
	if !out.WakeAt.IsZero() {
		s.WakeAt = &metav1.Time{Time: out.WakeAt}
	}
	setCondition(s, ConditionValid, metav1.ConditionTrue, "ValidPlan", "the spec is a valid plan", ro.obj.GetGeneration(), r.cfg.Clock.Now())
	setCondition(s, ConditionReady, metav1.ConditionTrue, "ProvidersReady", "traffic and metrics providers are wired", ro.obj.GetGeneration(), r.cfg.Clock.Now())
	for _, ev := range out.Events {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			s.LastEvaluations = ev.Evaluations
		}
		if ev.Type != canary.EvEvaluated {
			s.Message = ev.Message
		}
		s.RecentEvents = append(s.RecentEvents, EventSummary{Seq: ev.Seq, Time: metav1.Time{Time: ev.Time}, Type: ev.Type, Message: ev.Message})
	}
	if n := len(s.RecentEvents); n > maxRecentEvents {
		s.RecentEvents = append([]EventSummary(nil), s.RecentEvents[n-maxRecentEvents:]...)
	}
	r.enqueue(ro, out.Events) // sent once this write has succeeded
	if err := r.writeStatus(ctx, ro); err != nil {
		return err
	}
	if ro.dropped > 0 {
		r.event(ro.obj, corev1.EventTypeWarning, "NotificationsDropped",
			fmt.Sprintf("%d undelivered notification(s) dropped: more than %d were pending (see the NotificationFailed events for why)", ro.dropped, MaxPendingNotifications))
		ro.dropped = 0
	}
	for _, ev := range out.Events {
		if ev.Type == canary.EvEvaluated {
			continue // every interval: the status carries the last one
		}
		r.event(ro.obj, eventType(ev), reason(ev.Type), ev.Message)
	}
	return nil
}

// writeStatus updates the status subresource with the object's
// resourceVersion; ro.obj takes the new resourceVersion.
func (r *Reconciler) writeStatus(ctx context.Context, ro *rollout) error {
	m, err := toMap(ro.status)
	if err != nil {
		return err
	}
	ro.obj.Object["status"] = m
	if err := r.cfg.Client.Status().Update(ctx, ro.obj); err != nil {
		ro.stale = true
		return err
	}
	observe(ro.obj.GetNamespace(), ro.obj.GetName(), canary.Phase(ro.status.Phase), ro.status.Weight)
	return nil
}

func (r *Reconciler) event(obj runtime.Object, typ, reason, msg string) {
	if r.cfg.Recorder != nil {
		r.cfg.Recorder.Eventf(obj, typ, reason, "%s", msg)
	}
}

func eventType(ev canary.Event) string {
	if ev.Type.Severity() == canary.SeverityWarning {
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}

// reason is an event type as a Kubernetes reason: StepStarted.
func reason(t canary.EventType) string {
	s := string(t)
	if s == "" {
		return "Event"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// DecodeStatus reads a Rollout's .status into s; a Rollout without one
// leaves s as it is.
func DecodeStatus(obj *unstructured.Unstructured, s *Status) error {
	raw, ok := obj.Object["status"]
	if !ok || raw == nil {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, s)
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// setCondition sets condition typ, stamping a change of its status with
// now (the reconciler's clock).
func setCondition(s *Status, typ string, status metav1.ConditionStatus, reason, msg string, gen int64, now time.Time) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type == typ {
			if c.Status != status {
				c.LastTransitionTime = metav1.NewTime(now)
			}
			c.Status, c.Reason, c.Message, c.ObservedGeneration = status, reason, msg, gen
			return
		}
	}
	s.Conditions = append(s.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now)})
}
