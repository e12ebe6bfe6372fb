package operator

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/egress"
	"github.com/canary-dev/canary/kube"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// DefaultLeaderElectionID names the Lease the operator's replicas elect a
// leader with.
const DefaultLeaderElectionID = "canary-operator.canary.dev"

// ManagerOptions configure NewManager.
type ManagerOptions struct {
	// Logger is the manager's and the reconciler's logger. Default:
	// controller-runtime's global logger (ctrl.SetLogger), which can be
	// set only once per process, so a process running several managers
	// (tests) gives each its own here.
	Logger logr.Logger
	// MetricsAddr serves /metrics (controller-runtime's metrics); "0"
	// turns it off.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz; "0" or "" turns it off.
	ProbeAddr string
	// LeaderElection makes replicas elect one leader with a Lease; only
	// the leader reconciles.
	LeaderElection bool
	// LeaderElectionID is the Lease's name. Default:
	// DefaultLeaderElectionID.
	LeaderElectionID string
	// LeaderElectionNamespace is the Lease's namespace. Default: the pod's
	// namespace (required outside a cluster).
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election; zero
	// keeps controller-runtime's defaults (15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Namespace, when set, is the only namespace whose Rollouts are
	// reconciled.
	Namespace string
	// Selector, when set, is a label selector: only matching Rollouts are
	// reconciled (to split rollouts between operator installations).
	Selector string
	// MaxConcurrentReconciles is how many Rollouts are reconciled at
	// once. Default: DefaultMaxConcurrentReconciles (4).
	MaxConcurrentReconciles int
	// HelmChartDir is the folder of the charts traffic.helm may name
	// (Config.HelmChartDir). Default: none, traffic.helm is refused.
	HelmChartDir string
	// AllowCommands are the executables plans' commands may run
	// (Config.Exec). Default: none, a plan with a command is invalid.
	AllowCommands []string
	// Egress is the outbound policy (Config.Egress). Default: link-local
	// and cloud metadata addresses refused.
	Egress *egress.Policy
	// Configure, when set, adjusts the reconciler's configuration (tests
	// inject metrics and routers here).
	Configure func(*Config)
}

// managerOptions are controller-runtime's options for o.
func managerOptions(o ManagerOptions) (ctrl.Options, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GVK)
	copts := cache.Options{}
	if o.Namespace != "" {
		copts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	if o.Selector != "" {
		sel, err := labels.Parse(o.Selector)
		if err != nil {
			return ctrl.Options{}, fmt.Errorf("operator: selector %q: %w", o.Selector, err)
		}
		copts.ByObject = map[client.Object]cache.ByObject{u: {Label: sel}}
	}
	opts := ctrl.Options{
		Scheme:                        kube.Scheme(),
		Cache:                         copts,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionResourceLock:    "leases",
		LeaderElectionReleaseOnCancel: true,
	}
	if o.Logger.GetSink() != nil {
		opts.Logger = o.Logger
	}
	if o.LeaseDuration > 0 {
		opts.LeaseDuration = &o.LeaseDuration
	}
	if o.RenewDeadline > 0 {
		opts.RenewDeadline = &o.RenewDeadline
	}
	if o.RetryPeriod > 0 {
		opts.RetryPeriod = &o.RetryPeriod
	}
	return opts, nil
}

// NewManager returns a controller-runtime manager running the Rollout
// reconciler, with health probes, metrics and, when asked, leader
// election. Rollouts and HTTPRoutes are read directly from the API server
// (no cache besides the Rollout watch), so every reconcile starts from the
// stored resourceVersion.
func NewManager(rc *rest.Config, o ManagerOptions) (ctrl.Manager, error) {
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	opts, err := managerOptions(o)
	if err != nil {
		return nil, err
	}
	registerGauges()
	mgr, err := ctrl.NewManager(rc, opts)
	if err != nil {
		return nil, fmt.Errorf("operator: %w", err)
	}
	if o.ProbeAddr != "" && o.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	c, err := kube.NewClient(kube.WithDefaults(rc))
	if err != nil {
		return nil, err
	}
	cfg := Config{Client: c, Recorder: mgr.GetEventRecorderFor("canary-operator"), //nolint:staticcheck // core/v1 events
		Secrets:    mgr.GetAPIReader(), // secret:NAME/KEY: a direct get, so RBAC needs no list or watch on secrets
		RESTConfig: kube.WithDefaults(rc), HelmChartDir: o.HelmChartDir, MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		Exec: &checks.ExecPolicy{Allowed: o.AllowCommands}, Egress: o.Egress}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}
