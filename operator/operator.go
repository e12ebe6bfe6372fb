package operator

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/egress"
	"github.com/canary-dev/canary/executor"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/secrets"

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
	Router func(ctx context.Context, p *canary.Plan) (canary.TrafficRouter, error)
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
	Metrics func(ctx context.Context, p *canary.Plan) (canary.MetricSource, error)
	// Checks runs pre-checks, hooks and approval webhooks. Default:
	// checks.Runner.
	Checks executor.Checker
	// Secrets gets the Secrets that secret:NAME/KEY references name, in
	// the rollout's namespace, directly from the API server (the
	// manager's APIReader: get only, no list or watch). Default: Client.
	Secrets client.Reader
	// NotifyHTTPClient sends Slack, webhook and PagerDuty notifications.
	// Default: Egress's client (each send is bounded by NotifyTimeout).
	NotifyHTTPClient *http.Client
	// Exec is the owner's command policy (--allow-commands): which
	// executables hooks and cleanup may run, with a minimal environment.
	// Default: none, a plan with a command is invalid.
	Exec *checks.ExecPolicy
	// Egress is the owner's outbound policy (--egress-allow,
	// --egress-deny) for pre-checks, hooks, approvals, Prometheus, flag
	// services and notifications. Default: link-local and cloud metadata
	// addresses refused.
	Egress *egress.Policy
	// Redactor is given every secret value read, and removes them from
	// hook and pre-check output. Default: a new one.
	Redactor *secrets.Redactor
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
	cfg   Config
	helm  *helmRouters
	built builtProviders
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
	cfg.policyDefaults()
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
	r := &Reconciler{helm: &helmRouters{rc: cfg.RESTConfig, chartDir: cfg.HelmChartDir, timeout: cfg.CallTimeout}}
	if cfg.Checks == nil {
		cfg.Checks = &checks.Runner{Exec: cfg.Exec, Redact: cfg.Redactor.Redact, HTTPClient: cfg.Egress.Client()}
	}
	r.cfg = cfg
	return r, nil
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
