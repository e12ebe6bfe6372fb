package release_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/canary-dev/canary/release"

	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// objects decodes a multi-document YAML stream.
func objects(t *testing.T, data []byte) []unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatal(err)
		}
		if len(m) > 0 {
			objs = append(objs, unstructured.Unstructured{Object: m})
		}
	}
}

// TestInstallManifest: the install manifest is every object of
// deploy/operator's kustomization, with the Deployment's image set to the
// release's and nothing else referring to an image.
func TestInstallManifest(t *testing.T) {
	out, err := release.InstallManifest("../deploy/operator", "registry.example/canary", "v9.8.7")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var images []string
	for _, o := range objects(t, out) {
		kinds[o.GetKind()]++
		if o.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, c := range cs {
				images = append(images, c.(map[string]any)["image"].(string))
			}
		}
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the install manifest (got %v)", k, kinds)
		}
	}
	if len(images) != 1 || images[0] != "registry.example/canary:v9.8.7" {
		t.Errorf("images = %v, want [registry.example/canary:v9.8.7]", images)
	}
}

// TestPackageChart: the packaged chart carries the release as appVersion
// and (without the v) as its version, and its values still default the
// image tag to appVersion.
func TestPackageChart(t *testing.T) {
	dest := t.TempDir()
	path, err := release.PackageChart("../deploy/chart/canary", "v1.4.0-rc.1", dest)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "canary-1.4.0-rc.1.tgz" {
		t.Errorf("archive %s, want canary-1.4.0-rc.1.tgz", path)
	}
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Version != "1.4.0-rc.1" || ch.Metadata.AppVersion != "v1.4.0-rc.1" {
		t.Errorf("version %q appVersion %q", ch.Metadata.Version, ch.Metadata.AppVersion)
	}
	if tag := ch.Values["image"].(map[string]any)["tag"]; tag != "" {
		t.Errorf("values image.tag = %q, want empty (the appVersion)", tag)
	}
	if len(ch.CRDObjects()) != 1 {
		t.Errorf("the packaged chart has %d CRDs, want 1", len(ch.CRDObjects()))
	}
}

// buildInfo is what `go version -m` prints for a canary binary (abridged):
// a dependency, a replaced one and the build settings.
const buildInfo = `path	github.com/canary-dev/canary/cmd/canary
mod	github.com/canary-dev/canary	(devel)
dep	github.com/spf13/cobra	v1.10.2	h1:DMTTonx5m65Ad0GcoHyYbz8Y6AGM2k6WF6hu2Bz7H6I=
dep	example.com/old	v1.0.0
=>	example.com/fork	v1.0.1	h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
build	-trimpath=true
build	CGO_ENABLED=0
build	GOARCH=amd64
build	GOOS=linux
build	vcs.revision=0123456789abcdef
`

// TestSPDX writes the SBOM of a binary's build information (as
// debug/buildinfo reads it from the file) and checks it is SPDX 2.3
// naming the main module with the binary's checksum, version and license,
// the standard library, and each linked module (a replaced one as its
// replacement) with its version and purl, each a dependency of the main
// module. (TestReleaseScript checks the SBOM of a real release binary.)
func TestSPDX(t *testing.T) {
	bi, err := debug.ParseBuildInfo(buildInfo)
	if err != nil {
		t.Fatal(err)
	}
	bi.GoVersion = "go1.26.8" // debug/buildinfo reads it from the binary, not from this text
	bin := []byte("the binary")
	out, err := release.SPDX(release.SBOM{Name: "canary-v1.0.0-linux-amd64", Binary: bin, Build: bi, Version: "v1.0.0",
		License: "Apache-2.0", Created: "2026-01-02T03:04:05Z", Source: "https://github.com/canary-dev/canary"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SPDXVersion, DocumentNamespace string
		Packages                       []struct {
			Name, SPDXID, VersionInfo, LicenseDeclared string
			Checksums                                  []struct{ Algorithm, ChecksumValue string }
			ExternalRefs                               []struct{ ReferenceLocator string }
		}
		Relationships []struct{ SpdxElementId, RelationshipType, RelatedSpdxElement string }
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || !strings.HasPrefix(doc.DocumentNamespace, "https://github.com/canary-dev/canary/spdx/canary-v1.0.0-linux-amd64-") {
		t.Errorf("document %s %s", doc.SPDXVersion, doc.DocumentNamespace)
	}
	main := doc.Packages[0]
	if main.Name != "github.com/canary-dev/canary" || main.VersionInfo != "v1.0.0" || main.LicenseDeclared != "Apache-2.0" ||
		len(main.Checksums) != 1 || len(main.Checksums[0].ChecksumValue) != 64 {
		t.Errorf("main package %+v", main)
	}
	byName := map[string]string{}
	for _, p := range doc.Packages {
		byName[p.Name] = p.VersionInfo + " " + p.ExternalRefs[0].ReferenceLocator
	}
	for name, want := range map[string]string{
		"github.com/canary-dev/canary": "v1.0.0 pkg:golang/github.com/canary-dev/canary@v1.0.0",
		"stdlib":                       "go1.26.8 pkg:golang/stdlib@go1.26.8",
		"github.com/spf13/cobra":       "v1.10.2 pkg:golang/github.com/spf13/cobra@v1.10.2",
		"example.com/fork":             "v1.0.1 pkg:golang/example.com/fork@v1.0.1",
	} {
		if byName[name] != want {
			t.Errorf("%s: %q, want %q", name, byName[name], want)
		}
	}
	if len(doc.Packages) != 4 {
		t.Errorf("%d packages, want main, stdlib and 2 modules", len(doc.Packages))
	}
	// DESCRIBES main + main DEPENDS_ON each other package.
	if len(doc.Relationships) != len(doc.Packages) || doc.Relationships[0].RelationshipType != "DESCRIBES" {
		t.Errorf("relationships %+v", doc.Relationships)
	}
	if sum := sha256.Sum256(bin); main.Checksums[0].ChecksumValue != hex.EncodeToString(sum[:]) {
		t.Errorf("main checksum %s, want the binary's SHA-256", main.Checksums[0].ChecksumValue)
	}
}
