package helm

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"helm.sh/helm/v3/pkg/release"
)

// record is what Promote writes in the main release's revision
// description, and what RemoveCanary reads to decide on `helm rollback`.
type record struct {
	version   string // the canary's version
	canary    string // the canary release's name
	installed string // the canary release's first-deployed time
	previous  int    // the main release's revision before the promotion
}

var recordRE = regexp.MustCompile(`^canary: promoted (\S*) from (\S+) \(canary installed (\S+); previous revision (\d+)\)$`)

func (r record) String() string {
	v := r.version
	if v == "" {
		v = "-"
	}
	return fmt.Sprintf("canary: promoted %s from %s (canary installed %s; previous revision %d)", v, r.canary, r.installed, r.previous)
}

// parseRecord reads a promotion record from a revision description.
func parseRecord(desc string) (record, bool) {
	m := recordRE.FindStringSubmatch(desc)
	if m == nil {
		return record{}, false
	}
	prev, err := strconv.Atoi(m[4])
	if err != nil {
		return record{}, false
	}
	return record{version: m[1], canary: m[2], installed: m[3], previous: prev}, true
}

// installedAt identifies one installation of the canary release: its
// first-deployed time, which upgrades keep and a new install replaces.
func installedAt(rel *release.Release) string {
	if rel == nil || rel.Info == nil {
		return "none"
	}
	return rel.Info.FirstDeployed.UTC().Format(time.RFC3339Nano)
}
