package srvtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary/proctest"
)

// GraphiteStep is the storage step of every metric the test Graphite
// keeps: its storage-schemas.conf has one archive, 1s for a day
// (Carbon's default, 60s, would make rollouts take minutes). Points
// older than a day, or newer than now, are not kept.
const GraphiteStep = time.Second

// Graphite is a running Carbon (carbon-cache, the line receiver) and
// graphite-web (the render API) sharing one whisper directory.
type Graphite struct {
	// URL is graphite-web's http://127.0.0.1:PORT.
	URL string
	// Carbon is the line receiver's 127.0.0.1:PORT.
	Carbon string
	carbon *proctest.Process
	web    *proctest.Process
	mu     sync.Mutex
	known  map[string]bool // paths the render API has answered
}

// StartGraphite starts Graphite for one test; it stops when t ends.
// Packages with several Graphite tests share one with LaunchGraphite in
// TestMain: starting it takes seconds.
func StartGraphite(t testing.TB) *Graphite {
	t.Helper()
	if err := GraphiteInstalled(); err != nil {
		skipOrFail(t, err.Error())
	}
	g, err := LaunchGraphite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// GraphiteInstalled reports, as an error saying how to install them,
// that carbon-cache or django-admin (graphite-web) is missing.
func GraphiteInstalled() error {
	for _, b := range []struct{ name, pkg string }{{"carbon-cache", "graphite-carbon"}, {"django-admin", "graphite-web"}} {
		if _, err := exec.LookPath(b.name); err != nil {
			return fmt.Errorf("%s not found: apt-get install -y --no-install-recommends %s (hack/test.sh installs it)", b.name, b.pkg)
		}
	}
	if _, err := os.Stat("/usr/lib/python3/dist-packages/graphite/settings.py"); err != nil {
		return errors.New("graphite-web's python package not found: apt-get install -y --no-install-recommends graphite-web (hack/test.sh installs it)")
	}
	return nil
}

// SkipWithoutGraphite skips t (fails it under CI=true) when Graphite is
// not installed.
func SkipWithoutGraphite(t testing.TB) {
	t.Helper()
	if err := GraphiteInstalled(); err != nil {
		skipOrFail(t, err.Error())
	}
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// LaunchGraphite starts carbon-cache and graphite-web on free 127.0.0.1
// ports with their configuration, whisper files and logs under dir;
// Close stops them. graphite-web reads points not yet on disk from
// carbon-cache's cache (CARBONLINK_HOSTS).
func LaunchGraphite(dir string) (*Graphite, error) {
	var err error
	for range 3 { // a free port can be taken between picking and binding it
		var g *Graphite
		if g, err = launchGraphite(dir); err == nil {
			return g, nil
		}
	}
	return nil, err
}

func launchGraphite(dir string) (*Graphite, error) {
	ports := make([]int, 4)
	for i := range ports {
		p, err := proctest.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	line, pickle, cacheQuery, web := ports[0], ports[1], ports[2], ports[3]
	whisper := filepath.Join(dir, "whisper")
	for _, d := range []string{whisper, filepath.Join(dir, "log", "webapp"), filepath.Join(dir, "lists")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"carbon.conf": fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s
LOCAL_DATA_DIR = %[2]s
WHITELISTS_DIR = %[1]s/lists
CONF_DIR = %[1]s
LOG_DIR = %[1]s/log
PID_DIR = %[1]s
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[3]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[4]d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[5]d
LOG_LISTENER_CONN_SUCCESS = False
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
`, dir, whisper, line, pickle, cacheQuery),
		"storage-schemas.conf":     "[all]\npattern = .*\nretentions = 1s:1d\n",
		"storage-aggregation.conf": "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n",
		"canary_graphite_local.py": fmt.Sprintf(`SECRET_KEY = 'canary-srvtest'
STORAGE_DIR = %[1]q
WHISPER_DIR = %[2]q
STANDARD_DIRS = [%[2]q]
LOG_DIR = %[1]q + '/log/webapp'
INDEX_FILE = %[1]q + '/index'
CONF_DIR = %[1]q
CARBONLINK_HOSTS = ['127.0.0.1:%[3]d']
DEFAULT_XFILES_FACTOR = 0
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
DATABASES = {'default': {'NAME': %[1]q + '/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
`, dir, whisper, cacheQuery),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	env := []string{"PYTHONPATH=" + dir, "DJANGO_SETTINGS_MODULE=graphite.settings",
		"GRAPHITE_SETTINGS_MODULE=canary_graphite_local", "PYTHONDONTWRITEBYTECODE=1"}
	// The render API needs no database: no `django-admin migrate` (7s).
	g := &Graphite{URL: fmt.Sprintf("http://127.0.0.1:%d", web), Carbon: fmt.Sprintf("127.0.0.1:%d", line)}
	g.carbon = &proctest.Process{Name: "carbon-cache",
		Args:  []string{"carbon-cache", "--config=" + filepath.Join(dir, "carbon.conf"), "--pidfile=" + filepath.Join(dir, "carbon.pid"), "--nodaemon", "start"},
		Ready: proctest.DialReady(g.Carbon)}
	if err := g.carbon.Start(); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, g.carbon.Log(3000))
	}
	g.web = &proctest.Process{Name: "graphite-web", Env: env,
		Args:  []string{"django-admin", "runserver", "--noreload", "--nothreading", fmt.Sprintf("127.0.0.1:%d", web)},
		Ready: proctest.HTTPReady(g.URL + "/render?target=canary.ready&format=json")}
	if err := g.web.Start(); err != nil {
		g.carbon.Stop()
		return nil, fmt.Errorf("%w\n%s", err, g.web.Log(3000))
	}
	return g, nil
}

// Close stops graphite-web and carbon-cache.
func (g *Graphite) Close() {
	g.web.Stop()
	g.carbon.Stop()
}

// StopWeb stops graphite-web (the render API) and StartWeb starts it
// again on the same port: an outage of the source while Carbon keeps
// receiving.
func (g *Graphite) StopWeb() { g.web.Stop() }

// StartWeb starts a stopped graphite-web again.
func (g *Graphite) StartWeb() error {
	if err := g.web.Start(); err != nil {
		return fmt.Errorf("%w\n%s", err, g.web.Log(3000))
	}
	return nil
}

// Logs returns the end of both servers' logs, for a failed test.
func (g *Graphite) Logs() string {
	return "carbon-cache:\n" + g.carbon.Log(2000) + "\ngraphite-web:\n" + g.web.Log(2000)
}

// Point is one value of a metric path at a time.
type Point struct {
	Path  string
	Value float64
	At    time.Time
}

// Write sends points in Carbon's plaintext protocol ("path value
// unix-seconds") and waits (up to 30s) until the render API answers
// each metric's newest point: then every point sent is readable, from
// the whisper file or Carbon's cache.
func (g *Graphite) Write(points []Point) error {
	c, err := net.DialTimeout("tcp", g.Carbon, 5*time.Second)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c)
	newest := map[string]Point{}
	var last Point
	for _, p := range points {
		last = p
		fmt.Fprintf(w, "%s %s %d\n", p.Path, strconv.FormatFloat(p.Value, 'f', -1, 64), p.At.Unix())
		if n, ok := newest[p.Path]; !ok || !p.At.Before(n.At) {
			newest[p.Path] = p
		}
	}
	if err := w.Flush(); err != nil {
		c.Close()
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	// Carbon reads a connection's lines in order into its cache, which
	// graphite-web reads: once the last point is readable the others are,
	// for paths whose whisper file exists (the render API answered them
	// before). New paths are checked each.
	check := map[string]Point{}
	g.mu.Lock()
	for path, p := range newest {
		if !g.known[path] || path == last.Path {
			check[path] = p
		}
	}
	g.mu.Unlock()
	if len(points) > 0 {
		check[last.Path] = last
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := g.visible(check)
		if err == nil {
			g.mu.Lock()
			if g.known == nil {
				g.known = map[string]bool{}
			}
			for path := range check {
				g.known[path] = true
			}
			g.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// visible checks that the render API answers each point.
func (g *Graphite) visible(newest map[string]Point) error {
	for path, p := range newest {
		at := p.At.Unix()
		v := url.Values{"target": {path}, "format": {"json"}, "from": {strconv.FormatInt(at-1, 10)}, "until": {strconv.FormatInt(at, 10)}}
		resp, err := http.Get(g.URL + "/render?" + v.Encode())
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var series []struct {
			Datapoints [][2]*float64 `json:"datapoints"`
		}
		if err := json.Unmarshal(b, &series); err != nil {
			return fmt.Errorf("render %s: %s %s", path, resp.Status, b)
		}
		ok := false
		for _, s := range series {
			for _, dp := range s.Datapoints {
				if dp[0] != nil && dp[1] != nil && int64(*dp[1]) == at && math.Abs(*dp[0]-p.Value) < 1e-9 {
					ok = true
				}
			}
		}
		if !ok {
			return fmt.Errorf("graphite: %s %v at %d not readable yet: %s", path, p.Value, at, strings.TrimSpace(string(b)))
		}
	}
	return nil
}
