package srvtest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary/proctest"
)

// Influx is a running influxd with one database.
type Influx struct {
	t testing.TB
	p *proctest.Process
	// URL is http://127.0.0.1:PORT.
	URL string
	// Database is the database created for the test.
	Database string
}

// StartInflux starts influxd (Debian's influxdb) on 127.0.0.1 with its
// meta, data and WAL directories in a temporary directory, and creates
// the database db.
func StartInflux(t testing.TB, db string) *Influx {
	t.Helper()
	bin := Binary(t, "influxd", "influxdb")
	dir := t.TempDir()
	s := &Influx{t: t, Database: db}
	s.p = proctest.Start(t, func() (*proctest.Process, error) {
		httpPort, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		rpcPort, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		cfg := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
		file := filepath.Join(dir, "influxdb.conf")
		if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		s.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		return &proctest.Process{Name: "influxd", Args: []string{bin, "-config", file}, Ready: proctest.HTTPReady(s.URL + "/ping")}, nil
	})
	s.Exec(t, "CREATE DATABASE "+db)
	return s
}

// Exec runs an InfluxQL statement (POST /query), failing t on an error.
func (s *Influx) Exec(t testing.TB, q string) {
	t.Helper()
	resp, err := http.PostForm(s.URL+"/query", url.Values{"q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"error"`) {
		t.Fatalf("influxdb %s: %s %s", q, resp.Status, b)
	}
}

// Write writes points in line protocol with precision ms (POST /write).
func (s *Influx) Write(lines string) error {
	resp, err := http.Post(s.URL+"/write?precision=ms&db="+url.QueryEscape(s.Database), "text/plain", strings.NewReader(lines))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("influxdb write: %s %s", resp.Status, b)
	}
	return nil
}

// Stop stops influxd; Restart starts it again with the same data.
func (s *Influx) Stop() { s.p.Stop() }

// Restart starts a stopped influxd again on the same port and data.
func (s *Influx) Restart() {
	s.t.Helper()
	if err := s.p.Start(); err != nil {
		s.t.Fatalf("restart influxd: %v\n%s", err, s.p.Log(3000))
	}
}
