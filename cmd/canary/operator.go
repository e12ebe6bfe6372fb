package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/operator"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
)

// operatorFlags are canary operator's flags.
type operatorFlags struct {
	kubeconfig, logLevel string
	o                    operator.ManagerOptions
	pol                  policyFlags // policy.go
}

// newOperatorCmd is `canary operator`: the Kubernetes operator that runs
// Rollout resources (deploy/operator/).
func newOperatorCmd() *cobra.Command {
	f := &operatorFlags{o: operator.ManagerOptions{LeaderElectionID: operator.DefaultLeaderElectionID}}
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run rollouts on Kubernetes: reconcile Rollout resources (canary.dev/v1alpha1)",
		Long:  operatorLong,
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return f.run(c) },
	}
	f.register(cmd.Flags())
	return cmd
}

const operatorLong = `canary operator runs every Rollout resource of the cluster (or of one
namespace): a plan file applied with kubectl apply. Install the CRD, the RBAC
and the Deployment from deploy/operator/.

The rollout's state is in its status (kubectl get rollouts); decisions are
Kubernetes Events (kubectl describe rollout NAME). Manual controls are an
annotation the operator applies once and removes:

  kubectl annotate rollout NAME canary.dev/command=pause
  kubectl annotate rollout NAME canary.dev/command='abort-immediate: error spike'

(pause, resume, approve, promote, promote-full, abort, abort-immediate, retry).
With --leader-elect, replicas elect one leader with a Lease; only it acts.

spec.notify is delivered by the leader: each notification is queued in the
status with the event that causes it, sent once that write is stored, retried
with backoff (2s doubling to 5m, 10 attempts) and recorded as Events
(NotificationSent, NotificationFailed, NotificationGivenUp). Secrets may be
secret:NAME/KEY, a key of a Secret in the rollout's namespace (the operator
needs get on secrets); env:NAME and file:/path are refused (they would read
the operator pod's own environment and files).

Plans run no commands unless --allow-commands lists the executables
(absolute paths, looked up on PATH=/usr/local/bin:/usr/bin:/bin); they run
with that PATH, a private empty HOME and LANG=C.UTF-8, nothing inherited.
Requests plans cause (pre-checks, hooks, approvals, Prometheus, flag
services, notifications) never reach link-local or cloud metadata addresses
unless --egress-allow names them; --egress-deny refuses more.

traffic.helm runs the Helm SDK in-process on charts mounted in the pod:
start it with --helm-chart-dir=DIR (traffic.helm.chart is a path in DIR) and
grant deploy/operator/rbac-helm.yaml (Helm's release Secrets and the chart's
objects). traffic.replicas scales the plan's stable and canary Deployments:
grant deploy/operator/rbac-replicas.yaml (get, update, patch on Deployments).
Without them the Rollout gets Ready=False naming the missing verbs.
featureFlag.provider builtin is refused: use provider http.

--max-concurrent-reconciles Rollouts are reconciled at once, so a slow
notification receiver or Prometheus holds up only its own rollout.`

// register adds the flags to fs.
func (f *operatorFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
	fs.StringVar(&f.o.MetricsAddr, "metrics-bind-address", ":8080", "address of /metrics (0 turns it off)")
	fs.StringVar(&f.o.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 turns it off)")
	fs.BoolVar(&f.o.LeaderElection, "leader-elect", false, "elect one active replica with a Lease")
	fs.StringVar(&f.o.LeaderElectionID, "leader-election-id", f.o.LeaderElectionID, "name of the Lease")
	fs.StringVar(&f.o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: $POD_NAMESPACE, then the pod's namespace)")
	fs.StringVar(&f.o.Namespace, "namespace", "", "reconcile only the Rollouts of this namespace (default: all)")
	fs.StringVar(&f.o.Selector, "selector", "", "reconcile only the Rollouts matching this label selector")
	fs.IntVar(&f.o.MaxConcurrentReconciles, "max-concurrent-reconciles", operator.DefaultMaxConcurrentReconciles,
		"how many Rollouts are reconciled at once (one Rollout never twice at once)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info or error")
	addExecEgressFlags(fs, &f.pol)
	fs.StringVar(&f.o.HelmChartDir, "helm-chart-dir", "", "folder of the charts traffic.helm may name (default: none, traffic.helm is refused)")
}

// run starts the operator's manager and runs it until c's context ends.
func (f *operatorFlags) run(c *cobra.Command) error {
	log, err := operatorLogger(c.ErrOrStderr(), f.logLevel)
	if err != nil {
		return err
	}
	ctrl.SetLogger(log) // for what logs outside the manager
	f.o.Logger = log
	h, err := f.pol.build()
	if err != nil {
		return err
	}
	f.o.AllowCommands, f.o.Egress = h.exec.Allowed, h.egress
	if f.o.MaxConcurrentReconciles < 1 {
		return fmt.Errorf("operator: --max-concurrent-reconciles=%d: must be 1 or more", f.o.MaxConcurrentReconciles)
	}
	rc, err := kube.RESTConfig(f.kubeconfig, "")
	if err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	if f.o.LeaderElection && f.o.LeaderElectionNamespace == "" {
		f.o.LeaderElectionNamespace = os.Getenv("POD_NAMESPACE")
	}
	mgr, err := operator.NewManager(rc, f.o)
	if err != nil {
		return err
	}
	return mgr.Start(c.Context())
}

// operatorLogger is the controller-runtime logger at level (debug, info
// or error): JSON lines on w. Debug shows the reconciler's V(1) lines
// (each reconcile's outcome, Helm's actions).
func operatorLogger(w io.Writer, level string) (logr.Logger, error) {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "info", "":
		l = slog.LevelInfo
	case "error":
		l = slog.LevelError
	default:
		return logr.Logger{}, fmt.Errorf("operator: --log-level=%q: use debug, info or error", level)
	}
	return logr.FromSlogHandler(redactLogs(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))), nil
}
