// Package srvtest starts the real metric servers the source tests talk
// to, from Debian's packages: InfluxDB 1.6 (influxd) and Graphite
// (carbon-cache and graphite-web), each on 127.0.0.1 ports with its
// configuration and data in a temporary directory. For the cloud APIs it
// has stand-ins that serve a Traffic function's counts in each API's
// format for whole rollouts (cloud.go: Datadog, New Relic, CloudWatch)
// and a server of recorded responses that keeps every request for the
// sources' tests to check (record.go: Record, Failures).
//
// The servers run as proctest.Processes (a free port, ready check, stop
// on cleanup, log on failure). When a binary is missing the test is skipped with a message saying how
// to install it, except under CI (CI=true), where it fails: CI must not
// silently skip.
package srvtest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Binary returns the path of name, or skips t (fails it under CI) with
// how to install pkg.
func Binary(t testing.TB, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("%s not found: apt-get install -y --no-install-recommends %s (hack/test.sh installs it)", name, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
