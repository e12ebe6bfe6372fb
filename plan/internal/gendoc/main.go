// Command gendoc writes docs/plan.md and docs/plan.schema.json from the
// canary root package's source. Run it with go generate ./plan.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/canary-dev/canary/plan/internal/docgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gendoc", flag.ContinueOnError)
	root := fs.String("root", "..", "directory of the canary root package")
	md := fs.String("md", "../docs/plan.md", "Markdown reference to write")
	schema := fs.String("schema", "../docs/plan.schema.json", "JSON Schema to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := docgen.Load(*root)
	if err != nil {
		return err
	}
	js, err := m.Schema()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*md, m.Markdown(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(*schema, js, 0o644)
}
