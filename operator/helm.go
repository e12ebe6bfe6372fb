package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// HelmReleaseVerbs are the verbs Helm needs on Secrets in a rollout's
// namespace, where it stores its releases (one Secret per revision):
// get, list (a release's history), create (a new revision), update (the
// previous revision superseded, an uninstall kept in the history) and
// delete (revisions beyond the history cap).
var HelmReleaseVerbs = []string{"get", "list", "create", "update", "delete"}

// HelmRBACHint says where the permissions traffic.helm needs are granted.
const HelmRBACHint = "grant them to the operator's service account: kubectl apply -f deploy/operator/rbac-helm.yaml " +
	"(or a RoleBinding to the canary-operator-helm ClusterRole in this namespace), or install the chart with helmTraffic.enabled=true"

// helmRouters builds the Helm routers of rollouts from the operator's
// REST config and keeps one per rollout, so a router's memory of its own
// interrupted operations survives from one reconcile to the next and the
// API server is discovered once. A router is rebuilt when the rollout's
// traffic.helm or version changes.
type helmRouters struct {
	rc       *rest.Config
	chartDir string
	timeout  time.Duration

	mu     sync.Mutex
	c      client.Client        // SelfSubjectAccessReviews
	byName map[string]helmEntry // namespace/name
}

type helmEntry struct {
	key    string
	router canary.TrafficRouter
}

// router returns the Helm router of the rollout name ("namespace/name")
// for cfg: the one kept for it while its traffic.helm and version stay
// the same, otherwise a new one (kept).
func (h *helmRouters) router(name string, cfg helm.Config) (canary.TrafficRouter, error) {
	b, _ := json.Marshal(struct {
		T canary.HelmTraffic
		V string
	}{cfg.Traffic, cfg.Version})
	key := string(b)
	h.mu.Lock()
	e, ok := h.byName[name]
	h.mu.Unlock()
	if ok && e.key == key {
		return e.router, nil
	}
	r, err := helm.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("traffic.helm: %w", err)
	}
	hr := helmRouter{r}
	h.mu.Lock()
	if h.byName == nil {
		h.byName = map[string]helmEntry{}
	}
	h.byName[name] = helmEntry{key: key, router: hr}
	h.mu.Unlock()
	return hr, nil
}

// forget drops a deleted rollout's router.
func (h *helmRouters) forget(ns, name string) {
	h.mu.Lock()
	delete(h.byName, ns+"/"+name)
	h.mu.Unlock()
}

// chart resolves a plan's chart path in the chart directory: relative
// paths are resolved in it and no path may leave it, so a Rollout can
// only name the charts the operator was given.
func (h *helmRouters) chart(path string) (string, error) {
	if h.chartDir == "" {
		return "", errors.New("traffic.helm: the operator has no chart directory: mount the charts into its pod and start it with " +
			"--helm-chart-dir=DIR (chart value helmTraffic.chartDir); traffic.helm.chart is then a path in DIR")
	}
	dir, err := filepath.Abs(h.chartDir)
	if err != nil {
		return "", fmt.Errorf("traffic.helm: chart directory %s: %w", h.chartDir, err)
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(dir, path)
	}
	full = filepath.Clean(full)
	outside := func(p, d string) bool {
		rel, err := filepath.Rel(d, p)
		return err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if outside(full, dir) {
		return "", fmt.Errorf("traffic.helm.chart %q is outside the operator's chart directory %s: name a chart in it (a relative path is resolved in it)", path, h.chartDir)
	}
	// A symbolic link in the chart directory may not lead out of it either.
	if real, err := filepath.EvalSymlinks(full); err == nil {
		if realDir, err := filepath.EvalSymlinks(dir); err == nil && outside(real, realDir) {
			return "", fmt.Errorf("traffic.helm.chart %q leads outside the operator's chart directory %s", path, h.chartDir)
		}
	}
	return full, nil
}

// checkAccess asks the API server whether the operator may manage Helm's
// release Secrets in ns, naming the verbs it lacks.
func (h *helmRouters) checkAccess(ctx context.Context, ns string) error {
	h.mu.Lock()
	if h.c == nil {
		c, err := kube.NewClient(h.rc)
		if err != nil {
			h.mu.Unlock()
			return fmt.Errorf("traffic.helm: %w", err)
		}
		h.c = c
	}
	c := h.c
	h.mu.Unlock()
	return helmAccess.check(ctx, c, ns)
}

// helmAccess is what traffic.helm needs on Helm's release Secrets.
var helmAccess = access{Provider: "traffic.helm", Resource: "secrets", Verbs: HelmReleaseVerbs,
	Why: "where Helm stores its releases", Hint: HelmRBACHint}

// helmRouter adds, to an error the API server refused, where to grant the
// permission: the chart's objects need verbs on their own kinds.
type helmRouter struct{ r *helm.Router }

var _ canary.TrafficRouter = helmRouter{}

func (h helmRouter) SetWeight(ctx context.Context, w int) error { return hint(h.r.SetWeight(ctx, w)) }
func (h helmRouter) Promote(ctx context.Context) error          { return hint(h.r.Promote(ctx)) }
func (h helmRouter) RemoveCanary(ctx context.Context) error     { return hint(h.r.RemoveCanary(ctx)) }

func hint(err error) error {
	return forbidden(err, "the operator's service account lacks this permission for the chart's objects or Helm's release Secrets; "+HelmRBACHint)
}
