// Command proxyserver runs canary's proxy for the benchmark: one stable
// and one canary upstream, a fixed weight, the recorder on, and the
// server from proxy.NewServer.
//
//	proxyserver -listen 127.0.0.1:9400 -stable http://127.0.0.1:9101 -canary http://127.0.0.1:9102 -weight 5
//
// With -cpuprofile it writes a CPU profile when it receives SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/canary-dev/canary/proxy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "proxyserver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("proxyserver", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9400", "address to serve on")
	stable := fs.String("stable", "http://127.0.0.1:9101", "stable upstream URL")
	canaryURL := fs.String("canary", "http://127.0.0.1:9102", "canary upstream URL")
	weight := fs.Int("weight", 5, "canary weight in percent")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here on exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := proxy.Config{Stable: *stable, Canary: *canaryURL, Weight: *weight, Recorder: rec, Logger: logger}
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := proxy.NewServer(*listen, p)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
