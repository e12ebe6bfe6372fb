package helm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/client-go/rest"
)

// Defaults of Config.
const (
	// DefaultWeightValue is the chart value that carries the weight.
	DefaultWeightValue = "canary.weight"
	// DefaultTimeout bounds chart hooks.
	DefaultTimeout = 2 * time.Minute
	// DefaultPendingTimeout is when another process's pending revision is
	// taken to be abandoned.
	DefaultPendingTimeout = 5 * time.Minute
	// DefaultMaxHistory caps the revisions kept per release.
	DefaultMaxHistory = 20
)

// ErrNoMainRelease is returned by Promote when the main release does not
// exist: there is nothing to promote into.
var ErrNoMainRelease = errors.New("the main release is not installed")

// Config configures a Router.
type Config struct {
	// RESTConfig reaches the cluster (kube.RESTConfig). Required.
	RESTConfig *rest.Config
	// Namespace of both releases and their objects. Default: "default".
	Namespace string
	// Traffic is the plan's traffic.helm: the releases, the chart, the
	// weight value and the `set` values. Release and Chart are required;
	// CanaryRelease defaults to Release + "-canary" and WeightValue to
	// canary.weight.
	Traffic canary.HelmTraffic
	// Version is the canary's version (the plan's spec.version), written in
	// the main release's revision description on promotion.
	Version string
	// EnabledValue is the chart value that turns the canary's objects on;
	// Promote sets it to false on the main release. Default: the weight
	// value's parent + ".enabled" (canary.enabled).
	EnabledValue string
	// CanaryOnly lists `set` keys that Promote does not carry to the main
	// release, besides everything under the weight value's parent.
	// Default: [replicaCount] (the canary's pod count is not the main's).
	CanaryOnly []string
	// ChartDir is the folder a relative Chart path is resolved against.
	// Default: the working directory, as the helm command does.
	ChartDir string
	// PurgeHistory makes RemoveCanary delete the canary release's history
	// (helm uninstall). Default false: the history is kept (helm uninstall
	// --keep-history), so `helm history` shows the last rollout's steps.
	PurgeHistory bool
	// MaxHistory caps the revisions kept per release on upgrade (helm
	// --history-max). Default: 20.
	MaxHistory int
	// Timeout bounds chart hooks. The router never waits for workloads to
	// be ready. Default: 2m.
	Timeout time.Duration
	// PendingTimeout is the age after which a revision left pending by
	// another process is taken to be abandoned and marked failed, so the
	// release can be changed again. A revision left pending by one of this
	// router's own failed calls is taken over at once. Default: 5m.
	PendingTimeout time.Duration
	// Log receives Helm's debug log (optional).
	Log func(format string, args ...any)
	// Clock ages pending revisions. Default: canary.SystemClock.
	Clock canary.Clock
}

// Router runs the runbook's Helm commands as SDK actions. Calls are
// serialized.
type Router struct {
	cfg     Config
	ac      *action.Configuration
	main    string
	canary  string
	enabled string
	skip    []string // set keys Promote does not carry

	mu          sync.Mutex
	interrupted map[string]bool // releases whose last operation by this router failed
}

var _ canary.TrafficRouter = (*Router)(nil)

// fill validates cfg and fills its defaults; parent is the weight value's
// parent key ("canary" for canary.weight), empty for a top-level key.
func (cfg *Config) fill() (parent string, err error) {
	t := &cfg.Traffic
	switch {
	case cfg.RESTConfig == nil:
		return "", errors.New("helm router: no kubernetes client configuration")
	case t.Release == "" || t.Chart == "":
		return "", errors.New("helm router: name the release and the chart")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if t.CanaryRelease == "" {
		t.CanaryRelease = t.Release + "-canary"
	}
	if t.CanaryRelease == t.Release {
		return "", fmt.Errorf("helm router: the canary release and the main release are both %q", t.Release)
	}
	if t.WeightValue == "" {
		t.WeightValue = DefaultWeightValue
	}
	if i := strings.LastIndex(t.WeightValue, "."); i > 0 {
		parent = t.WeightValue[:i]
	}
	if cfg.EnabledValue == "" {
		if parent == "" {
			return "", fmt.Errorf("helm router: weight value %q has no parent; set the enabled value", t.WeightValue)
		}
		cfg.EnabledValue = parent + ".enabled"
	}
	if cfg.CanaryOnly == nil {
		cfg.CanaryOnly = []string{"replicaCount"}
	}
	if cfg.MaxHistory == 0 {
		cfg.MaxHistory = DefaultMaxHistory
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = DefaultPendingTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	if !filepath.IsAbs(t.Chart) && cfg.ChartDir != "" {
		t.Chart = filepath.Join(cfg.ChartDir, t.Chart)
	}
	if _, err := parseSet(t.Set); err != nil {
		return "", fmt.Errorf("helm router: %w", err)
	}
	return parent, nil
}

// New validates cfg, fills its defaults, loads the chart once to check it
// and prepares the Helm SDK. It does not contact the cluster.
func New(cfg Config) (*Router, error) {
	parent, err := cfg.fill()
	if err != nil {
		return nil, err
	}
	t := &cfg.Traffic
	r := &Router{cfg: cfg, main: t.Release, canary: t.CanaryRelease, enabled: cfg.EnabledValue,
		interrupted: map[string]bool{}}
	if _, err := r.chart(); err != nil {
		return nil, fmt.Errorf("helm router: %w", err)
	}
	r.skip = append([]string(nil), cfg.CanaryOnly...)
	if parent != "" {
		r.skip = append(r.skip, parent)
	}
	ac, err := ActionConfig(cfg.RESTConfig, cfg.Namespace, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("helm router: %w", err)
	}
	r.ac = ac
	return r, nil
}

// ActionConfig returns a Helm SDK configuration for namespace, with
// releases stored as Secrets as the helm command does, for running other
// Helm actions (history, get) next to a Router. log may be nil.
func ActionConfig(cfg *rest.Config, namespace string, log func(format string, args ...any)) (*action.Configuration, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	ac := new(action.Configuration)
	getter := &restGetter{cfg: cfg, ns: namespace}
	if err := ac.Init(getter, namespace, "secret", action.DebugLog(log)); err != nil {
		return nil, err
	}
	if kc, ok := ac.KubeClient.(*kube.Client); ok {
		kc.Namespace = namespace
	}
	ac.HookOutputFunc = func(_, _, _ string) io.Writer { return io.Discard }
	return ac, nil
}

// chart loads the chart from disk.
func (r *Router) chart() (*chart.Chart, error) {
	c, err := loader.Load(r.cfg.Traffic.Chart)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", r.cfg.Traffic.Chart, err)
	}
	return c, nil
}

// SetWeight installs or upgrades the canary release with the plan's values
// and the weight value set to weight.
func (r *Router) SetWeight(ctx context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("set weight %d%%: not a percentage", weight)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.setWeight(ctx, weight); err != nil {
		return fmt.Errorf("set weight %d%% on helm release %s/%s: %w", weight, r.cfg.Namespace, r.canary, err)
	}
	return nil
}

func (r *Router) setWeight(ctx context.Context, weight int) error {
	ch, err := r.chart()
	if err != nil {
		return err
	}
	last, err := r.latest(r.canary)
	if err != nil {
		return err
	}
	set, _ := parseSet(r.cfg.Traffic.Set) // validated by New
	var base map[string]any
	if last != nil && last.Info.Status != release.StatusUninstalled {
		base = last.Config // --reuse-values
	}
	want := merge(base, set)
	setPath(want, r.cfg.Traffic.WeightValue, weight)
	desc := fmt.Sprintf("canary weight %d%%", weight)
	switch {
	case last != nil && last.Info.Status == release.StatusDeployed && sameValues(last.Config, want) &&
		chartDigest(last.Chart) == chartDigest(ch):
		// Already there: a replay makes no new revision.
	case last == nil || last.Info.Status == release.StatusUninstalled:
		err = r.track(r.canary, func() error { return r.install(ctx, ch, want, desc, last != nil) })
	default:
		err = r.track(r.canary, func() error { return r.upgrade(ctx, r.canary, ch, want, desc) })
	}
	if err != nil {
		return err
	}
	return r.confirm(r.canary, func(rel *release.Release) error {
		got, ok := intValue(lookupOr(rel.Config, r.cfg.Traffic.WeightValue))
		if !ok || got != weight {
			return fmt.Errorf("%s is %v in revision %d, want %d", r.cfg.Traffic.WeightValue, lookupOr(rel.Config, r.cfg.Traffic.WeightValue), rel.Version, weight)
		}
		return nil
	})
}

// Promote upgrades the main release with the canary's version values and
// the canary's objects turned off, recording the promotion in the new
// revision's description.
func (r *Router) Promote(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.promote(ctx); err != nil {
		return fmt.Errorf("promote helm release %s/%s: %w", r.cfg.Namespace, r.main, err)
	}
	return nil
}

func (r *Router) promote(ctx context.Context) error {
	ch, err := r.chart()
	if err != nil {
		return err
	}
	main, err := r.latest(r.main)
	if err != nil {
		return err
	}
	if main == nil || main.Info.Status == release.StatusUninstalled {
		return ErrNoMainRelease
	}
	can, err := r.latest(r.canary)
	if err != nil {
		return err
	}
	if rec, ok := parseRecord(main.Info.Description); ok && rec.canary == r.canary &&
		main.Info.Status == release.StatusDeployed && (can == nil || rec.installed == installedAt(can)) {
		return nil // promoted already: a replay
	}
	set, _ := parseSet(r.cfg.Traffic.Set)
	for _, k := range r.skip {
		deletePath(set, k)
	}
	setPath(set, r.enabled, false)
	want := merge(main.Config, set) // --reuse-values
	if main.Info.Status == release.StatusDeployed && sameValues(main.Config, want) && chartDigest(main.Chart) == chartDigest(ch) {
		return nil // the main release runs these values already: nothing to promote, nothing to roll back later
	}
	prev := main.Version
	if dep, err := r.ac.Releases.Deployed(r.main); err == nil {
		prev = dep.Version
	}
	rec := record{version: r.cfg.Version, canary: r.canary, installed: installedAt(can), previous: prev}
	if err := r.track(r.main, func() error { return r.upgrade(ctx, r.main, ch, want, rec.String()) }); err != nil {
		return err
	}
	return r.confirm(r.main, func(rel *release.Release) error {
		if !sameValues(rel.Config, want) {
			return fmt.Errorf("revision %d does not have the promoted values", rel.Version)
		}
		return nil
	})
}

// RemoveCanary rolls the main release back when this rollout promoted into
// it and is now rolling back, then uninstalls the canary release.
func (r *Router) RemoveCanary(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.removeCanary(ctx); err != nil {
		return fmt.Errorf("remove canary helm release %s/%s: %w", r.cfg.Namespace, r.canary, err)
	}
	return nil
}

func (r *Router) removeCanary(ctx context.Context) error {
	can, err := r.latest(r.canary)
	if err != nil {
		return err
	}
	if can == nil || can.Info.Status == release.StatusUninstalled {
		return nil // removed already
	}
	if w, ok := intValue(lookupOr(can.Config, r.cfg.Traffic.WeightValue)); !ok || w < 100 {
		if err := r.rollbackMain(ctx, can); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err = r.track(r.canary, func() error {
		u := action.NewUninstall(r.ac)
		u.KeepHistory = !r.cfg.PurgeHistory
		u.Timeout = r.cfg.Timeout
		u.Description = "canary removed"
		_, err := u.Run(r.canary)
		return err
	})
	if err != nil {
		return err
	}
	rel, err := r.latest(r.canary)
	switch {
	case err != nil:
		return fmt.Errorf("read back: %w", err)
	case rel != nil && rel.Info.Status != release.StatusUninstalled:
		return fmt.Errorf("revision %d is %s after the uninstall", rel.Version, rel.Info.Status)
	}
	return nil
}

// rollbackMain runs `helm rollback` on the main release when its latest
// revision is this rollout's promotion of can.
func (r *Router) rollbackMain(ctx context.Context, can *release.Release) error {
	main, err := r.latest(r.main)
	if err != nil || main == nil {
		return err
	}
	rec, ok := parseRecord(main.Info.Description)
	if !ok || rec.canary != r.canary || rec.installed != installedAt(can) {
		return nil // the main release was not changed by this rollout
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err = r.track(r.main, func() error {
		rb := action.NewRollback(r.ac)
		rb.Version = rec.previous
		rb.Timeout = r.cfg.Timeout
		rb.MaxHistory = r.cfg.MaxHistory
		return rb.Run(r.main)
	})
	if err != nil {
		return fmt.Errorf("roll back release %s to revision %d: %w", r.main, rec.previous, err)
	}
	return r.confirm(r.main, func(rel *release.Release) error {
		if want := fmt.Sprintf("Rollback to %d", rec.previous); rel.Info.Description != want {
			return fmt.Errorf("revision %d says %q, want %q", rel.Version, rel.Info.Description, want)
		}
		return nil
	})
}

// install runs `helm install` (replace: over an uninstalled history).
func (r *Router) install(ctx context.Context, ch *chart.Chart, vals map[string]any, desc string, replace bool) error {
	in := action.NewInstall(r.ac)
	in.ReleaseName = r.canary
	in.Namespace = r.cfg.Namespace
	in.Replace = replace
	in.Timeout = r.cfg.Timeout
	in.Description = desc
	_, err := in.RunWithContext(ctx, ch, vals)
	return err
}

// upgrade runs `helm upgrade` with exactly vals (the caller merged the
// reused values in).
func (r *Router) upgrade(ctx context.Context, name string, ch *chart.Chart, vals map[string]any, desc string) error {
	up := action.NewUpgrade(r.ac)
	up.Namespace = r.cfg.Namespace
	up.ResetValues = true
	up.Timeout = r.cfg.Timeout
	up.MaxHistory = r.cfg.MaxHistory
	up.Description = desc
	_, err := up.RunWithContext(ctx, name, ch, vals)
	return err
}

// track runs op and remembers whether it failed, so a revision it left
// pending can be taken over at once by the next call.
func (r *Router) track(name string, op func() error) error {
	err := op()
	r.interrupted[name] = err != nil
	return err
}

// latest returns a release's latest revision (nil when it never existed),
// taking over a revision left pending by an interrupted operation.
func (r *Router) latest(name string) (*release.Release, error) {
	rel, err := r.ac.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", name, err)
	}
	if !rel.Info.Status.IsPending() {
		return rel, nil
	}
	age := r.cfg.Clock.Now().Sub(rel.Info.LastDeployed.Time)
	if !r.interrupted[name] && age < r.cfg.PendingTimeout {
		return nil, fmt.Errorf("release %s revision %d is %s since %s ago: another operation is in progress (taken over after %s)",
			name, rel.Version, rel.Info.Status, age.Round(time.Second), r.cfg.PendingTimeout)
	}
	r.cfg.Log("release %s revision %d was left %s; marking it failed", name, rel.Version, rel.Info.Status)
	rel.SetStatus(release.StatusFailed, fmt.Sprintf("interrupted while %s; marked failed by canary", rel.Info.Status))
	if err := r.ac.Releases.Update(rel); err != nil {
		return nil, fmt.Errorf("take over release %s revision %d left %s: %w", name, rel.Version, rel.Info.Status, err)
	}
	return rel, nil
}

// confirm reads a release back and checks that its latest revision is
// deployed and passes check.
func (r *Router) confirm(name string, check func(*release.Release) error) error {
	rel, err := r.latest(name)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if rel == nil {
		return fmt.Errorf("read back: release %s is gone", name)
	}
	if rel.Info.Status != release.StatusDeployed {
		return fmt.Errorf("read back: revision %d is %s: %s", rel.Version, rel.Info.Status, rel.Info.Description)
	}
	return check(rel)
}

func lookupOr(vals map[string]any, path string) any {
	v, _ := lookup(vals, path)
	return v
}
