package proctest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestMain makes the test binary its own server: with PROCTEST_LISTEN
// set it prints a line and serves HTTP on that address (or exits 3 when
// it is "fail").
func TestMain(m *testing.M) {
	addr := os.Getenv("PROCTEST_LISTEN")
	if addr == "" {
		os.Exit(m.Run())
	}
	fmt.Println("server starting on", addr)
	if addr == "fail" {
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "up") }))
}

func server(addr string) *Process {
	return &Process{Name: "self", Args: []string{os.Args[0]}, Env: []string{"PROCTEST_LISTEN=" + addr},
		Ready: HTTPReady("http://" + addr + "/")}
}

// TestStartStopRestart: Start returns once the server answers, Stop ends
// it (the port refuses), Start runs it again on the same port, and the
// output is kept.
func TestStartStopRestart(t *testing.T) {
	var addr string
	p := Start(t, func() (*Process, error) {
		port, err := FreePort()
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		return server(addr), err
	})
	if err := DialReady(addr)(); err != nil {
		t.Fatalf("started but not listening: %v", err)
	}
	p.Stop()
	if err := DialReady(addr)(); err == nil {
		t.Fatal("stopped but still listening")
	}
	p.Stop() // stopping a stopped process does nothing
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := HTTPReady("http://" + addr + "/")(); err != nil {
		t.Fatalf("restarted but not answering: %v", err)
	}
	if log := p.Log(1000); strings.Count(log, "server starting on "+addr) != 2 {
		t.Errorf("log %q: want two starts", log)
	}
}

// TestStartExited: a server that exits before it is ready is an error
// naming it, its output kept.
func TestStartExited(t *testing.T) {
	p := server("fail")
	err := p.Start()
	if err == nil || !strings.Contains(err.Error(), "self exited: exit status 3") {
		t.Fatalf("got %v; want self exited with status 3", err)
	}
	if log := p.Log(1000); !strings.Contains(log, "server starting on fail") {
		t.Errorf("log %q: want the server's output", log)
	}
}
