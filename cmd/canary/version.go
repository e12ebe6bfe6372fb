package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time by hack/release.sh:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<sha> -X main.date=<RFC 3339>"
//
// A plain `go build` leaves them empty; version then falls back to what the
// Go toolchain recorded in the binary (the module version and the VCS
// revision and time), and to "dev".
var version, commit, date string

// buildVersion is the version, commit and date canary was built from.
type buildVersion struct{ Version, Commit, Date string }

// currentVersion fills what -ldflags left empty from the build info.
func currentVersion() buildVersion {
	v := buildVersion{version, commit, date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && v.Commit == "":
				v.Commit = s.Value
			case s.Key == "vcs.time" && v.Date == "":
				v.Date = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.Date == "" {
		v.Date = "unknown"
	}
	return v
}

func (v buildVersion) print(w io.Writer) {
	fmt.Fprintf(w, "canary %s\ncommit: %s\ndate:   %s\ngo:     %s %s/%s\n",
		v.Version, v.Commit, v.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print canary's version, the commit and date it was built from",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			currentVersion().print(c.OutOrStdout())
			return nil
		},
	}
}
