package release

import (
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
)

// PackageChart is `helm package dir --version V --app-version A -d dest`:
// the chart with its version set to version without the leading v (a chart
// version is SemVer) and its appVersion to version, so the image tag it
// defaults to is the release's. It returns the archive's path.
func PackageChart(dir, version, dest string) (string, error) {
	p := action.NewPackage()
	p.Version = strings.TrimPrefix(version, "v")
	p.AppVersion = version
	p.Destination = dest
	path, err := p.Run(dir, nil)
	if err != nil {
		return "", fmt.Errorf("package chart %s: %w", dir, err)
	}
	return path, nil
}
