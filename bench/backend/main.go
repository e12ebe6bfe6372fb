// Command backend is the benchmark's upstream: it answers every request on
// each of its addresses with a small fixed body, as fast as net/http can.
//
//	backend -addr 127.0.0.1:9101,127.0.0.1:9102
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	addrs := fs.String("addr", "127.0.0.1:9101", "comma-separated loopback addresses to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := []byte("hello from the backend\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	errc := make(chan error)
	for _, addr := range strings.Split(*addrs, ",") {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		go func() { errc <- http.Serve(ln, h) }()
	}
	return <-errc
}
