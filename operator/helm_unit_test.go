package operator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestHelmChartPath: a Rollout names only charts in the operator's chart
// directory; a path leaving it (.., absolute, a symbolic link) is refused
// saying so, and no directory at all says which flag to set.
func TestHelmChartPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps", "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.TempDir(), filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	h := &helmRouters{chartDir: dir}
	tests := []struct {
		path, want, err string
	}{
		{"apps/web", filepath.Join(dir, "apps", "web"), ""},
		{"./apps/web", filepath.Join(dir, "apps", "web"), ""},
		{filepath.Join(dir, "apps", "web"), filepath.Join(dir, "apps", "web"), ""},
		{"apps/../apps/web", filepath.Join(dir, "apps", "web"), ""},
		{"../other", "", "outside the operator's chart directory"},
		{"/etc", "", "outside the operator's chart directory"},
		{"escape", "", "leads outside the operator's chart directory"},
	}
	for _, tt := range tests {
		got, err := h.chart(tt.path)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("chart(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("chart(%q) = %q, %v; want an error saying %q", tt.path, got, err, tt.err)
		}
	}
	if _, err := (&helmRouters{}).chart("apps/web"); err == nil || !strings.Contains(err.Error(), "--helm-chart-dir") {
		t.Errorf("no chart directory: %v, want an error naming --helm-chart-dir", err)
	}
}

// TestHelmForbiddenHint: an error the API server refused says where to
// grant the permission; other errors pass unchanged.
func TestHelmForbiddenHint(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no"))
	err := hint(forbidden)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rbac-helm.yaml") {
		t.Errorf("hint(forbidden) = %v", err)
	}
	if other := errors.New("chart not found"); hint(other) != other {
		t.Errorf("hint changed %v", other)
	}
	if hint(nil) != nil {
		t.Error("hint(nil) != nil")
	}
}
