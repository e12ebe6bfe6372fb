package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
)

// SBOM describes the binary an SPDX document is written for.
type SBOM struct {
	// Name of the document, e.g. canary-v1.2.3-linux-amd64.
	Name string
	// Binary is the file's contents (its SHA-256 is the main package's
	// checksum and part of the document namespace).
	Binary []byte
	// Build is the binary's Go build information (debug/buildinfo.Read).
	Build *debug.BuildInfo
	// Version of the main module (the release); Build's when empty.
	Version string
	// License of the main module, an SPDX identifier.
	License string
	// Created is the document's creation time in RFC 3339 (the commit's
	// date, so that a rebuild gives the same document).
	Created string
	// Source is the main module's repository URL.
	Source string
}

type spdxDoc struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      spdxCreation   `json:"creationInfo"`
	Packages          []spdxPackage  `json:"packages"`
	Relationships     []spdxRelation `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	LicenseConcluded string         `json:"licenseConcluded"`
	LicenseDeclared  string         `json:"licenseDeclared"`
	CopyrightText    string         `json:"copyrightText"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs     []spdxRef      `json:"externalRefs"`
	Comment          string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelation struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// SPDX writes an SPDX 2.3 JSON document for s: the main module (with the
// binary's SHA-256 and the declared license), the Go standard library and
// every module linked into the binary (version, purl and go.sum hash), each
// a dependency of the main module. Third-party licenses are NOASSERTION:
// the build information does not carry them.
func SPDX(s SBOM) ([]byte, error) {
	if s.Build == nil {
		return nil, fmt.Errorf("sbom %s: no Go build information", s.Name)
	}
	sum := sha256.Sum256(s.Binary)
	hexSum := hex.EncodeToString(sum[:])
	version := s.Version
	if version == "" {
		version = s.Build.Main.Version
	}
	main := spdxPackage{
		Name: s.Build.Main.Path, SPDXID: "SPDXRef-Package-main", VersionInfo: version,
		DownloadLocation: orNoAssertion(s.Source), LicenseConcluded: s.License, LicenseDeclared: s.License,
		CopyrightText: "NOASSERTION", Checksums: []spdxChecksum{{"SHA256", hexSum}},
		ExternalRefs: []spdxRef{purl(s.Build.Main.Path, version)},
		Comment:      "built with " + s.Build.GoVersion + settingsComment(s.Build),
	}
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: s.Name,
		DocumentNamespace: strings.TrimSuffix(orNoAssertion(s.Source), "/") + "/spdx/" + s.Name + "-" + hexSum,
		CreationInfo:      spdxCreation{Created: s.Created, Creators: []string{"Tool: canary release/tool"}},
		Packages:          []spdxPackage{main, goPackage("SPDXRef-Package-stdlib", "stdlib", s.Build.GoVersion, "")},
		Relationships: []spdxRelation{
			{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Package-main"},
			{"SPDXRef-Package-main", "DEPENDS_ON", "SPDXRef-Package-stdlib"},
		},
	}
	for i, d := range s.Build.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		id := fmt.Sprintf("SPDXRef-Package-%d", i+1)
		doc.Packages = append(doc.Packages, goPackage(id, d.Path, d.Version, d.Sum))
		doc.Relationships = append(doc.Relationships, spdxRelation{"SPDXRef-Package-main", "DEPENDS_ON", id})
	}
	return json.MarshalIndent(doc, "", "  ")
}

func goPackage(id, path, version, sum string) spdxPackage {
	p := spdxPackage{
		Name: path, SPDXID: id, VersionInfo: version, DownloadLocation: "NOASSERTION",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		ExternalRefs: []spdxRef{purl(path, version)},
	}
	if path != "stdlib" {
		p.DownloadLocation = "https://proxy.golang.org/" + path + "/@v/" + version + ".zip"
	}
	if sum != "" {
		p.Comment = "go.sum " + sum
	}
	return p
}

// purl is the package URL of a Go module (purl-spec's golang type).
func purl(path, version string) spdxRef {
	return spdxRef{"PACKAGE-MANAGER", "purl", "pkg:golang/" + path + "@" + version}
}

// settingsComment lists the build settings that say how it was built
// (GOOS, GOARCH, CGO_ENABLED, -trimpath, the VCS revision).
func settingsComment(bi *debug.BuildInfo) string {
	var b strings.Builder
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "CGO_ENABLED", "-trimpath", "vcs.revision", "vcs.time":
			fmt.Fprintf(&b, "; %s=%s", s.Key, s.Value)
		}
	}
	return b.String()
}

func orNoAssertion(s string) string {
	if s == "" {
		return "NOASSERTION"
	}
	return s
}
