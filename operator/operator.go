package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/executor"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/gatewayapi"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/promql"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// GVK is the Rollout custom resource's group, version and kind.
var GVK = schema.GroupVersionKind{Group: "canary.dev", Version: "v1alpha1", Kind: canary.Kind}

// AnnotationCommand carries a manual control; the operator applies it once
// and removes it.
const AnnotationCommand = "canary.dev/command"

// Actor is the actor of commands given through the annotation.
const Actor = "operator"

// Status condition types.
const (
	// ConditionValid is False when the spec is not a valid plan; its
	// message lists the plan's errors.
	ConditionValid = "Valid"
	// ConditionReady is False while the providers cannot be built.
	ConditionReady = "Ready"
)

// PhaseInvalid is status.phase for a spec that is not a valid plan.
const PhaseInvalid = "Invalid"

// EventRecorder records Kubernetes Events (record.EventRecorder).
type EventRecorder interface {
	Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any)
}

// Config wires a Reconciler.
type Config struct {
	// Client reads and writes Rollouts and HTTPRoutes; its scheme needs
	// the Gateway API types (kube.Scheme). Required.
	Client client.Client
	// Recorder records Kubernetes Events. Default: none.
	Recorder EventRecorder
	// Clock tells the time. Default: the system clock.
	Clock canary.Clock
	// CallTimeout bounds one traffic, flag or metric provider call.
	// Default: executor.DefaultCallTimeout. Pre-checks, hooks, approvals
	// and cleanup use the plan's own timeouts.
	CallTimeout time.Duration
	// Router builds a plan's traffic router. Default: traffic.helm with
	// the Helm SDK on RESTConfig (one router kept per rollout), otherwise
	// DefaultRouter (gatewayAPI or replicas on Client; other providers are
	// refused).
	Router func(p *canary.Plan) (canary.TrafficRouter, error)
	// RESTConfig reaches the cluster for traffic.helm (the Helm SDK
	// builds its own clients). Default: none, and traffic.helm is refused.
	RESTConfig *rest.Config
	// HelmChartDir is the folder of the charts traffic.helm may name: a
	// relative traffic.helm.chart is resolved in it and no chart outside
	// it is loaded. Default: none, and traffic.helm is refused with what
	// to set.
	HelmChartDir string
	// MaxConcurrentReconciles is how many Rollouts are reconciled at once
	// (a slow notification receiver or Prometheus then holds up only its
	// own rollout); one Rollout is never reconciled concurrently.
	// Default: DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// Metrics builds a plan's metric source; the seam tests inject a fake
	// through. Default: DefaultMetrics (analysis.metrics.prometheus).
	Metrics func(p *canary.Plan) (canary.MetricSource, error)
	// Checks runs pre-checks, hooks and approval webhooks. Default:
	// checks.Runner.
	Checks executor.Checker
	// Secrets gets the Secrets that secret:NAME/KEY references name, in
	// the rollout's namespace, directly from the API server (the
	// manager's APIReader: get only, no list or watch). Default: Client.
	Secrets client.Reader
	// NotifyHTTPClient sends Slack, webhook and PagerDuty notifications.
	// Default: http.DefaultClient (each send is bounded by NotifyTimeout).
	NotifyHTTPClient *http.Client
	// NotifyTimeout bounds one notification send. Default: 10s.
	NotifyTimeout time.Duration
	// NotifyMaxAttempts is how many attempts a notification gets before
	// it is given up (a Warning Event, NotificationGivenUp). Default: 10.
	NotifyMaxAttempts int
	// NotifyBackoffBase is the wait after a notification's first failure,
	// doubled after each next one up to NotifyBackoffMax (with jitter: each
	// wait is drawn between half and all of it). Defaults: 2s and 5m.
	NotifyBackoffBase, NotifyBackoffMax time.Duration
}

// Reconciler reconciles Rollouts.
type Reconciler struct {
	cfg  Config
	helm *helmRouters
}

// DefaultMaxConcurrentReconciles is Config.MaxConcurrentReconciles'
// default.
const DefaultMaxConcurrentReconciles = 4

// ErrBuiltinFlags refuses featureFlag.provider builtin in the operator.
var ErrBuiltinFlags = errors.New("featureFlag.provider builtin is not available in the operator: it would keep the flag's percentage " +
	"in one operator replica's memory, lost on failover and invisible to your applications; use provider: http with url: your flag " +
	"service (the runbook's POST /feature-flags/{name} API, such as canary serve's, whose OFREP endpoint your applications evaluate)")

// New returns a Reconciler with cfg's defaults filled.
func New(cfg Config) (*Reconciler, error) {
	if cfg.Client == nil {
		return nil, errors.New("operator: no kubernetes client")
	}
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = executor.DefaultCallTimeout
	}
	if cfg.Secrets == nil {
		cfg.Secrets = cfg.Client
	}
	if cfg.NotifyTimeout <= 0 {
		cfg.NotifyTimeout = notify.DefaultTimeout
	}
	if cfg.NotifyMaxAttempts <= 0 {
		cfg.NotifyMaxAttempts = notify.DefaultMaxAttempts
	}
	if cfg.NotifyBackoffBase <= 0 {
		cfg.NotifyBackoffBase = notify.DefaultBackoffBase
	}
	if cfg.NotifyBackoffMax <= 0 {
		cfg.NotifyBackoffMax = notify.DefaultBackoffMax
	}
	cfg.NotifyBackoffMax = max(cfg.NotifyBackoffMax, cfg.NotifyBackoffBase)
	if cfg.MaxConcurrentReconciles <= 0 {
		cfg.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	r := &Reconciler{helm: &helmRouters{rc: cfg.RESTConfig, chartDir: cfg.HelmChartDir, timeout: cfg.CallTimeout, now: cfg.Clock.Now}}
	if cfg.Router == nil {
		c, h := cfg.Client, r.helm
		cfg.Router = func(p *canary.Plan) (canary.TrafficRouter, error) {
			if p.Spec.Traffic.Helm != nil {
				return h.router(p)
			}
			return DefaultRouter(c, p)
		}
	}
	if cfg.Metrics == nil {
		rd, timeout := cfg.Secrets, cfg.CallTimeout
		cfg.Metrics = func(p *canary.Plan) (canary.MetricSource, error) {
			return PrometheusSource(p, SecretResolver{Reader: rd, Namespace: p.Metadata.Namespace, Timeout: timeout}.Resolve)
		}
	}
	if cfg.Checks == nil {
		cfg.Checks = &checks.Runner{}
	}
	r.cfg = cfg
	return r, nil
}

// DefaultRouter is the gatewayAPI or replicas router of a plan on c, in
// the plan's namespace. For traffic.replicas it first asks the API server
// whether c may get, update and patch Deployments there (ReplicasVerbs),
// and names the missing verbs and where to grant them otherwise.
func DefaultRouter(c client.Client, p *canary.Plan) (canary.TrafficRouter, error) {
	if p.Spec.Traffic.Replicas != nil {
		return replicasRouter(c, p)
	}
	t := p.Spec.Traffic.GatewayAPI
	if t == nil {
		return nil, fmt.Errorf("traffic.%s is not available in the operator (use traffic.gatewayAPI, traffic.helm or traffic.replicas)", p.Spec.Traffic.Provider())
	}
	r, err := gatewayapi.New(gatewayapi.Config{Client: c, Namespace: p.Metadata.Namespace, Traffic: *t})
	if err != nil {
		return nil, fmt.Errorf("traffic.gatewayAPI: %w", err)
	}
	return r, nil
}

// DefaultMetrics is the plan's Prometheus source with env:/file: secret
// references only; builtin metrics measure the built-in proxy, which the
// operator does not run.
func DefaultMetrics(p *canary.Plan) (canary.MetricSource, error) {
	return PrometheusSource(p, nil)
}

// PrometheusSource is the plan's Prometheus source, its bearerToken and
// basicAuth.password read with secrets (nil: env:/file: only).
func PrometheusSource(p *canary.Plan, secrets func(canary.SecretRef) (string, error)) (canary.MetricSource, error) {
	if p.Spec.Analysis.Metrics.Provider() != "prometheus" {
		return nil, errors.New("analysis.metrics: the operator needs analysis.metrics.prometheus (builtin measures the built-in proxy, which the operator does not run)")
	}
	cfg, err := promql.FromPlan(p)
	if err != nil {
		return nil, err
	}
	cfg.Secrets = secrets
	return promql.New(cfg)
}

// secrets is the resolver of the rollouts of namespace ns.
func (r *Reconciler) secrets(ctx context.Context, ns string) SecretResolver {
	return SecretResolver{Reader: r.cfg.Secrets, Namespace: ns, Context: ctx, Timeout: r.cfg.CallTimeout}
}

// SetupWithManager registers the reconciler for Rollouts. Status writes do
// not trigger reconciles (the engine's wake time does, through
// RequeueAfter); spec and annotation changes do. Several managers in one
// process (tests, a failover drill) may each run one.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GVK)
	skip := true
	return ctrl.NewControllerManagedBy(mgr).
		Named("rollout").
		WithOptions(controller.Options{SkipNameValidation: &skip, MaxConcurrentReconciles: r.cfg.MaxConcurrentReconciles}).
		For(u, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Complete(r)
}

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

// rollout is one reconcile's view of a Rollout.
type rollout struct {
	obj    *unstructured.Unstructured
	status Status
	plan   *canary.Plan
	// stale is set when a write failed: obj is not the stored object and
	// nothing more may be written in this reconcile.
	stale bool
	// dropped counts notifications dropped from a full queue.
	dropped int
}

// Reconcile does one step of a rollout, then sends the notifications
// its status holds that are due.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(GVK)
	if err := r.cfg.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			forget(req.Namespace, req.Name)
			r.helm.forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ro := &rollout{obj: obj}
	if err := DecodeStatus(obj, &ro.status); err != nil {
		log.Error(err, "unreadable status; starting over")
		ro.status = Status{}
	}
	if obj.GetDeletionTimestamp() != nil {
		return r.finalize(ctx, ro)
	}
	if err := r.ensureFinalizer(ctx, ro); err != nil {
		return requeueOn(err)
	}
	res, err := r.step(ctx, ro)
	log.V(1).Info("reconciled", "phase", ro.status.Phase, "step", ro.status.Step, "weight", ro.status.Weight,
		"requeueAfter", res.RequeueAfter.String())
	if err != nil || ro.stale || ro.plan == nil || len(ro.status.Notifications) == 0 {
		return res, err
	}
	next, err := r.deliver(ctx, ro)
	if err != nil {
		if ctx.Err() != nil {
			return res, nil // stopping: the next reconcile sends them again
		}
		return requeueOn(err)
	}
	if !next.IsZero() {
		d := max(next.Sub(r.cfg.Clock.Now()), time.Millisecond)
		if res.RequeueAfter <= 0 || d < res.RequeueAfter {
			res.RequeueAfter = d
		}
	}
	return res, nil
}

// step runs the engine once on the rollout and acts at most once.
func (r *Reconciler) step(ctx context.Context, ro *rollout) (ctrl.Result, error) {
	obj := ro.obj
	now := r.cfg.Clock.Now()

	p, perr := PlanOf(obj)
	if perr != nil {
		return r.invalid(ctx, ro, perr)
	}
	ro.plan = p

	// A command whose write landed but whose annotation removal did not:
	// remove it, never apply it twice.
	cmdText := obj.GetAnnotations()[AnnotationCommand]
	if cmdText != "" && cmdText == ro.status.LastCommand {
		return r.dropCommand(ctx, ro)
	}

	var st canary.State
	if ro.status.State != nil {
		st = *ro.status.State
	} else {
		st = engine.New(p, now)
	}

	if cmdText != "" {
		return r.command(ctx, ro, st, cmdText, now)
	}
	if ro.status.LastCommand != "" {
		ro.status.LastCommand = "" // its annotation is gone
	}

	if ro.status.State != nil && ro.status.WakeAt != nil && now.Before(ro.status.WakeAt.Time) &&
		ro.status.ObservedGeneration == obj.GetGeneration() && ro.status.LastCommand == "" {
		return ctrl.Result{RequeueAfter: ro.status.WakeAt.Sub(now)}, nil
	}
	if ro.status.State != nil && st.Phase.Terminal() && ro.status.ObservedGeneration == obj.GetGeneration() {
		return ctrl.Result{}, nil
	}

	exec, err := r.executor(p)
	if err != nil {
		return r.notReady(ctx, ro, err)
	}

	var obs []canary.Observation
	if qs := engine.Queries(p, st, now); len(qs) > 0 {
		obs = exec.Measure(ctx, qs)
	}
	out := engine.Next(p, st, engine.Input{Now: now, Observations: obs})
	if err := r.write(ctx, ro, out); err != nil {
		return requeueOn(err)
	}
	if len(out.Actions) == 0 {
		return r.after(out), nil
	}
	// The state with the action outstanding is stored: act once.
	res := exec.Do(ctx, out.State, out.Actions[0])
	out = engine.Next(p, out.State, engine.Input{Now: r.cfg.Clock.Now(), Results: []canary.ActionResult{res}})
	if err := r.write(ctx, ro, out); err != nil {
		return requeueOn(err)
	}
	return r.after(out), nil
}

// after is the reconcile result for an engine output.
func (r *Reconciler) after(out engine.Output) ctrl.Result {
	if len(out.Actions) > 0 {
		return ctrl.Result{RequeueAfter: time.Millisecond}
	}
	if out.WakeAt.IsZero() {
		return ctrl.Result{}
	}
	d := out.WakeAt.Sub(r.cfg.Clock.Now())
	if d <= 0 {
		d = time.Millisecond
	}
	return ctrl.Result{RequeueAfter: d}
}

// requeueOn turns a conflict into a requeue and passes other errors on.
func requeueOn(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

// command applies the annotation's command, stores it, then removes the
// annotation.
func (r *Reconciler) command(ctx context.Context, ro *rollout, st canary.State, text string, now time.Time) (ctrl.Result, error) {
	cmd, err := ParseCommand(text)
	if err == nil {
		var out engine.Output
		out, err = engine.Control(ro.plan, st, cmd, now)
		if err == nil {
			ro.status.LastCommand = text
			if werr := r.write(ctx, ro, out); werr != nil {
				return requeueOn(werr)
			}
			return r.dropCommand(ctx, ro)
		}
	}
	r.event(ro.obj, corev1.EventTypeWarning, "CommandRefused", fmt.Sprintf("%s: %v", text, err))
	ro.status.LastCommand = text
	ro.status.Message = fmt.Sprintf("command %q refused: %v", text, err)
	if werr := r.writeStatus(ctx, ro); werr != nil {
		return requeueOn(werr)
	}
	return r.dropCommand(ctx, ro)
}

// dropCommand removes the command annotation (fenced by resourceVersion)
// and then clears status.lastCommand.
func (r *Reconciler) dropCommand(ctx context.Context, ro *rollout) (ctrl.Result, error) {
	ann := ro.obj.GetAnnotations()
	delete(ann, AnnotationCommand)
	ro.obj.SetAnnotations(ann)
	if err := r.cfg.Client.Update(ctx, ro.obj); err != nil {
		ro.stale = true
		return requeueOn(err)
	}
	ro.status.LastCommand = ""
	if err := r.writeStatus(ctx, ro); err != nil {
		return requeueOn(err)
	}
	return ctrl.Result{RequeueAfter: time.Millisecond}, nil
}

// CommandAnnotation writes cmd as the command annotation ParseCommand
// reads back: "abort-immediate: error spike" (the actor is not written).
func CommandAnnotation(cmd engine.Command) string {
	s := string(cmd.Kind)
	switch {
	case cmd.Kind == engine.CmdPromote && cmd.Full:
		s += "-full"
	case cmd.Kind == engine.CmdAbort && cmd.Immediate:
		s += "-immediate"
	}
	if r := strings.TrimSpace(cmd.Reason); r != "" {
		s += ": " + strings.ReplaceAll(r, "\n", " ")
	}
	return s
}

// ParseCommand reads the command annotation: pause, resume, approve,
// promote, promote-full, abort, abort-immediate or retry, optionally
// followed by ": reason".
func ParseCommand(s string) (engine.Command, error) {
	word, reason, _ := strings.Cut(s, ":")
	cmd := engine.Command{Actor: Actor, Reason: strings.TrimSpace(reason)}
	switch strings.TrimSpace(word) {
	case "pause":
		cmd.Kind = engine.CmdPause
	case "resume":
		cmd.Kind = engine.CmdResume
	case "approve":
		cmd.Kind = engine.CmdApprove
	case "promote":
		cmd.Kind = engine.CmdPromote
	case "promote-full":
		cmd.Kind, cmd.Full = engine.CmdPromote, true
	case "abort":
		cmd.Kind = engine.CmdAbort
	case "abort-immediate":
		cmd.Kind, cmd.Immediate = engine.CmdAbort, true
	case "retry":
		cmd.Kind = engine.CmdRetry
	default:
		return cmd, fmt.Errorf("unknown command %q (use pause, resume, approve, promote, promote-full, abort, abort-immediate or retry)", word)
	}
	return cmd, nil
}

// invalid records a spec that is not a valid plan.
func (r *Reconciler) invalid(ctx context.Context, ro *rollout, err error) (ctrl.Result, error) {
	msg := err.Error()
	if ro.status.Phase == PhaseInvalid && ro.status.ObservedGeneration == ro.obj.GetGeneration() {
		return ctrl.Result{}, nil
	}
	ro.status.Phase = PhaseInvalid
	ro.status.Message = msg
	ro.status.ObservedGeneration = ro.obj.GetGeneration()
	setCondition(&ro.status, ConditionValid, metav1.ConditionFalse, "InvalidPlan", msg, ro.obj.GetGeneration())
	r.event(ro.obj, corev1.EventTypeWarning, "InvalidPlan", msg)
	if werr := r.writeStatus(ctx, ro); werr != nil {
		return requeueOn(werr)
	}
	return ctrl.Result{}, nil
}

// notReady records providers that cannot be built, and retries.
func (r *Reconciler) notReady(ctx context.Context, ro *rollout, err error) (ctrl.Result, error) {
	msg := err.Error()
	setCondition(&ro.status, ConditionReady, metav1.ConditionFalse, "ProvidersUnavailable", msg, ro.obj.GetGeneration())
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
	setCondition(s, ConditionValid, metav1.ConditionTrue, "ValidPlan", "the spec is a valid plan", ro.obj.GetGeneration())
	setCondition(s, ConditionReady, metav1.ConditionTrue, "ProvidersReady", "traffic and metrics providers are wired", ro.obj.GetGeneration())
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
	switch ev.Type {
	case canary.EvRollbackStarted, canary.EvRolledBack, canary.EvPaused, canary.EvFailed, canary.EvPreChecksFailed,
		canary.EvActionFailed, canary.EvHookFailed, canary.EvRuleFiring:
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

// executor builds the providers the plan drives and their executor.
func (r *Reconciler) executor(p *canary.Plan) (*executor.Executor, error) {
	pv := executor.Providers{Checks: r.cfg.Checks}
	var err error
	if pv.Router, err = r.cfg.Router(p); err != nil {
		return nil, err
	}
	if pv.Metrics, err = r.cfg.Metrics(p); err != nil {
		return nil, err
	}
	if ff := p.Spec.FeatureFlag; ff != nil {
		if ff.Provider == "" || ff.Provider == flags.ProviderBuiltin {
			return nil, ErrBuiltinFlags
		}
		secrets := r.secrets(context.Background(), p.Metadata.Namespace)
		if pv.Flags, err = flags.NewSetter(ff, flags.SetterConfig{Rollout: p.Metadata.Namespace + "/" + p.Metadata.Name,
			Secrets: secrets.Resolve}); err != nil {
			return nil, err
		}
	}
	return executor.New(executor.Config{Plan: p, Providers: pv, Timeouts: executor.CallTimeouts(r.cfg.CallTimeout), Clock: r.cfg.Clock})
}

// PlanOf decodes, validates and defaults a Rollout's plan: its apiVersion,
// kind, name, namespace, labels and spec, strictly, as `canary run` reads
// a plan file.
func PlanOf(obj *unstructured.Unstructured) (*canary.Plan, error) {
	md := map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()}
	if l := obj.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	doc := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "metadata": md, "spec": obj.Object["spec"]}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return plan.Parse(obj.GetName(), b)
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

func setCondition(s *Status, typ string, status metav1.ConditionStatus, reason, msg string, gen int64) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type == typ {
			if c.Status != status {
				c.LastTransitionTime = metav1.Now()
			}
			c.Status, c.Reason, c.Message, c.ObservedGeneration = status, reason, msg, gen
			return
		}
	}
	s.Conditions = append(s.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: gen, LastTransitionTime: metav1.Now()})
}
