package release_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
)

var (
	releaseOnce sync.Once
	releaseDir  string
	releaseErr  string
)

// releaseOut runs hack/release.sh once for linux/amd64 only (each other
// cold -trimpath target costs minutes; the full matrix is the forge
// workflow's) into a temporary folder and returns it. Not in -short: the
// -trimpath build of cmd/canary does not share the test binaries' cache.
func releaseOut(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs hack/release.sh: a -trimpath build of canary (minutes cold)")
	}
	releaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "canary-release-")
		if err != nil {
			releaseErr = err.Error()
			return
		}
		releaseDir = filepath.Join(dir, "dist")
		cmd := exec.Command("bash", "hack/release.sh")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "PLATFORMS=linux/amd64", "OUT="+releaseDir, "IMAGE=registry.example/canary")
		if out, err := cmd.CombinedOutput(); err != nil {
			releaseErr = "hack/release.sh: " + err.Error() + "\n" + string(out)
		}
	})
	if releaseErr != "" {
		t.Fatal(releaseErr)
	}
	return releaseDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if releaseDir != "" {
		os.RemoveAll(filepath.Dir(releaseDir))
	}
	os.Exit(code)
}

// version is the release hack/release.sh chose (image/VERSION).
func releaseVersion(t *testing.T, out string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "image", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Fatalf("version %q is not vX.Y.Z[-pre]", v)
	}
	return v
}

// TestReleaseScript: hack/release.sh gives the binary, its SBOM, the
// manifests and the chart under their release names, and checksums.txt
// lists exactly those files with their SHA-256; the binary is stamped with
// the version, the manifest names the image at it, the chart's appVersion
// is it.
func TestReleaseScript(t *testing.T) {
	out := releaseOut(t)
	v := releaseVersion(t, out)
	bin := "canary-" + v + "-linux-amd64"
	want := []string{bin, bin + ".spdx.json", "canary-" + strings.TrimPrefix(v, "v") + ".tgz", "canary-crd.yaml",
		"canary-operator.yaml", "canary-rbac-helm.yaml", "canary-rbac-replicas.yaml", "canary-rbac.yaml"}
	slices.Sort(want)

	f, err := os.Open(filepath.Join(out, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var listed []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q is not sha256sum's", sc.Text())
		}
		listed = append(listed, name)
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: checksum %s, file has %x", name, sum, got)
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("checksums.txt lists %v, want %v", listed, want)
	}

	vout, err := exec.Command(filepath.Join(out, bin), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(vout), "canary "+v+"\ncommit: ") || strings.Contains(string(vout), "unknown") {
		t.Errorf("%s version:\n%s", bin, vout)
	}
	manifest, err := os.ReadFile(filepath.Join(out, "canary-operator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), "image: registry.example/canary:"+v+"\n") {
		t.Errorf("canary-operator.yaml does not name registry.example/canary:%s", v)
	}
	ch, err := loader.Load(filepath.Join(out, "canary-"+strings.TrimPrefix(v, "v")+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.AppVersion != v {
		t.Errorf("chart appVersion %q, want %q", ch.Metadata.AppVersion, v)
	}
	var sbom struct {
		Packages []struct{ Name, VersionInfo string }
	}
	data, _ := os.ReadFile(filepath.Join(out, bin+".spdx.json"))
	if err := json.Unmarshal(data, &sbom); err != nil || len(sbom.Packages) < 10 ||
		sbom.Packages[0].Name != "github.com/canary-dev/canary" || sbom.Packages[0].VersionInfo != v {
		t.Errorf("SBOM: %v, %d packages, first %+v", err, len(sbom.Packages), sbom.Packages[:min(1, len(sbom.Packages))])
	}
}
