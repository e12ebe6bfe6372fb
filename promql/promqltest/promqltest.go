// Package promqltest starts a real Prometheus server for tests: the
// Debian package's prometheus binary on 127.0.0.1 with a temporary
// configuration and data directory, scraping the given targets every
// second.
//
// When the binary is missing the test is skipped with a message saying
// how to install it, except under CI (the environment variable CI set to
// true), where it fails: CI must not silently skip.
package promqltest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/proctest"
)

// BinaryEnv names an environment variable that may hold the path of the
// prometheus binary. Default: prometheus on the PATH.
const BinaryEnv = "CANARY_PROMETHEUS"

// Options configure a Server.
type Options struct {
	// Targets are host:port addresses scraped at /metrics (job "canary").
	Targets []string
	// ScrapeInterval of every target. Default: 1s.
	ScrapeInterval time.Duration
}

// Server is a running Prometheus.
type Server struct {
	t    testing.TB
	addr string
	opt  Options
	p    *proctest.Process
}

// Binary returns the path of the prometheus binary. When there is none it
// skips t, or fails it when CI is true.
func Binary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(BinaryEnv); bin != "" {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s=%s: %v", BinaryEnv, bin, err)
		}
		return bin
	}
	if bin, err := exec.LookPath("prometheus"); err == nil {
		return bin
	}
	const msg = "the prometheus binary is not installed: apt-get install -y prometheus " +
		"(hack/test.sh does when prometheus is in CANARY_APT_PACKAGES), or set " + BinaryEnv
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + " (CI=true: not skipping)")
	}
	t.Skip(msg)
	return ""
}

// Start starts Prometheus for t and stops it when t ends. It returns once
// Prometheus is ready; use WaitUp to wait for the targets' first scrape.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	bin := Binary(t)
	if opt.ScrapeInterval == 0 {
		opt.ScrapeInterval = time.Second
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, config(opt), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, opt: opt}
	s.p = proctest.Start(t, func() (*proctest.Process, error) {
		port, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		return &proctest.Process{Name: "prometheus", Timeout: 15 * time.Second, Ready: proctest.HTTPReady(s.URL() + "/-/ready"),
			Args: []string{bin, "--config.file=" + cfgFile, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
				"--web.listen-address=" + s.addr, "--log.level=warn"}}, nil
	})
	return s
}

// config is a prometheus.yml scraping opt.Targets.
func config(opt Options) []byte {
	iv := opt.ScrapeInterval.String()
	var b strings.Builder
	fmt.Fprintf(&b, "global: {scrape_interval: %s, scrape_timeout: %s, evaluation_interval: %s}\n", iv, iv, iv)
	b.WriteString("scrape_configs:\n  - job_name: canary\n    static_configs:\n      - targets: [")
	for i, tg := range opt.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", tg)
	}
	b.WriteString("]\n")
	return []byte(b.String())
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return "http://" + s.addr }

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Stop stops Prometheus (SIGTERM, then SIGKILL after 10s) and waits for it
// to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.p.Stop() }

// Restart starts a stopped Prometheus again on the same address with the
// same data directory and waits until it is ready.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.p.Start(); err != nil {
		s.t.Fatalf("restart prometheus: %v\n%s", err, s.p.Log(4000))
	}
}

// WaitScraping waits until Prometheus has tried to scrape every target
// at least once (up exists, 0 or 1), at most timeout. Prometheus applies
// its targets about 5s after it starts; a target that is not listening
// yet is then tried every ScrapeInterval.
func (s *Server) WaitScraping(timeout time.Duration) {
	s.t.Helper()
	s.waitQuery(timeout, "count(up)", "targets scraped")
}

// WaitUp waits until every target has been scraped successfully
// (up == 1), at most timeout.
func (s *Server) WaitUp(timeout time.Duration) {
	s.t.Helper()
	s.waitQuery(timeout, "count(up == 1)", "targets up")
}

// waitQuery waits until expr is the number of targets.
func (s *Server) waitQuery(timeout time.Duration, expr, what string) {
	s.t.Helper()
	want := len(s.opt.Targets)
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		v, err := s.Query(context.Background(), expr)
		if err == nil && len(v) == 1 && v[0] == float64(want) {
			return
		}
		last = fmt.Sprint(v, err)
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("prometheus: not all %d %s after %s (%s: %s)", want, what, timeout, expr, last)
}

// Query runs an instant query now and returns the values of its result
// (one per series, a scalar as one value), or the server's error message.
func (s *Server) Query(ctx context.Context, expr string) ([]float64, error) {
	resp, err := PostQuery(ctx, s.URL(), expr)
	if err != nil {
		return nil, err
	}
	var out []float64
	switch resp.Data.ResultType {
	case "vector":
		var vec []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(resp.Data.Result, &vec); err != nil {
			return nil, err
		}
		for _, smp := range vec {
			out = append(out, parseValue(smp.Value[1]))
		}
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(resp.Data.Result, &sc); err != nil {
			return nil, err
		}
		out = append(out, parseValue(sc[1]))
	}
	return out, nil
}

func parseValue(v any) float64 {
	s, _ := v.(string)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// Response is the body of /api/v1/query.
type Response struct {
	// Status is success or error.
	Status string `json:"status"`
	// ErrorType (bad_data, execution, timeout, ...) and Error describe a
	// failed query.
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	// Data is the result: its type (vector, scalar, matrix, string) and
	// the raw JSON of the result.
	Data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// PostQuery POSTs expr to base/api/v1/query and decodes the answer. An
// answer with status error is returned as an error carrying
// Prometheus's errorType and message.
func PostQuery(ctx context.Context, base, expr string) (*Response, error) {
	form := url.Values{"query": {expr}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %q: status %s: %w", expr, resp.Status, err)
	}
	if r.Status != "success" {
		return &r, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return &r, nil
}
