// Command canary executes rollout plans: progressive delivery with
// automatic, graded rollback. See README.md. Installed as kubectl-canary
// (a symlink) it is the kubectl plugin `kubectl canary` (kubectl_plugin.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	code := 0
	if asKubectlPlugin(os.Args[0]) {
		var err error
		if args, err = kubectlPluginArgs(args); err != nil {
			report(os.Stderr, err)
			code = exitCode(err)
		}
	}
	if code == 0 {
		code = Main(ctx, args, os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}
