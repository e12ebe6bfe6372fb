// Command tool makes the release artifacts hack/release.sh publishes besides
// the binaries:
//
//	go run ./release/tool manifest DIR REPOSITORY TAG > canary-operator.yaml
//	go run ./release/tool chart CHARTDIR VERSION DESTDIR
//	go run ./release/tool sbom BINARY NAME VERSION CREATED > NAME.spdx.json
package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"

	"github.com/canary-dev/canary/release"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release/tool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: tool manifest|chart|sbom ARGS")
	}
	switch cmd, args := args[0], args[1:]; {
	case cmd == "manifest" && len(args) == 3:
		out, err := release.InstallManifest(args[0], args[1], args[2])
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(out)
		return err
	case cmd == "chart" && len(args) == 3:
		path, err := release.PackageChart(args[0], args[1], args[2])
		if err == nil {
			fmt.Println(path)
		}
		return err
	case cmd == "sbom" && len(args) == 4:
		bin, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		bi, err := buildinfo.Read(bytes.NewReader(bin))
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		out, err := release.SPDX(release.SBOM{Name: args[1], Binary: bin, Build: bi, Version: args[2],
			License: "Apache-2.0", Created: args[3], Source: "https://github.com/canary-dev/canary"})
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(out, '\n'))
		return err
	}
	return fmt.Errorf("usage: tool manifest DIR REPOSITORY TAG | chart CHARTDIR VERSION DESTDIR | sbom BINARY NAME VERSION CREATED (got %q)", args)
}
