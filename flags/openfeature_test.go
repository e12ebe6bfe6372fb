package flags

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/proxy"
	"github.com/canary-dev/canary/store"
)

// ofrepDir is the Node test client: the official OpenFeature server SDK
// with the OFREP provider, pinned by test/ofrep/package-lock.json.
const ofrepDir = "../test/ofrep"

// nodeClient prepares the Node test client: node ≥ 20 and npm on PATH,
// node_modules installed with `npm ci` when missing. Without them the test
// is skipped, or fails when CI=true.
func nodeClient(t *testing.T) (node, dir string) {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: the OpenFeature client test must run)", msg)
		}
		t.Skipf("%s: skipping the OpenFeature JavaScript client test (install Node.js 20+ and npm; CI=true makes this a failure)", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node not found")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		unavailable("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); major < 20 {
		unavailable("node %s is older than 20", v)
	}
	dir, err = filepath.Abs(ofrepDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@openfeature", "ofrep-provider", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			unavailable("npm not found (needed for npm ci in %s)", dir)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	return node, dir
}

// jsJob is script.mjs's job.
type jsJob struct {
	Token       string    `json:"token,omitempty"`
	Concurrency int       `json:"concurrency,omitempty"`
	Sweeps      []jsSweep `json:"sweeps,omitempty"`
	Probes      []jsProbe `json:"probes,omitempty"`
}

type jsSweep struct {
	Flag   string `json:"flag"`
	Prefix string `json:"prefix"`
	Count  int    `json:"count"`
	// Results:
	On      int            `json:"on"`
	Bitmap  string         `json:"bitmap"`
	Reasons map[string]int `json:"reasons"`
	Errors  map[string]int `json:"errors"`
}

type jsProbe struct {
	Flag    string         `json:"flag"`
	Context map[string]any `json:"context,omitempty"`
	// Results:
	Value        any            `json:"value"`
	Reason       string         `json:"reason"`
	Variant      *string        `json:"variant"`
	ErrorCode    *string        `json:"errorCode"`
	ErrorMessage *string        `json:"errorMessage"`
	FlagMetadata map[string]any `json:"flagMetadata"`
}

type jsResult struct {
	SDK       map[string]string `json:"sdk"`
	Sweeps    []jsSweep         `json:"sweeps"`
	Probes    []jsProbe         `json:"probes"`
	ElapsedMs int               `json:"elapsedMs"`
}

// runJS runs script.mjs against url.
func runJS(t *testing.T, node, dir, url string, job jsJob) jsResult {
	t.Helper()
	b, _ := json.Marshal(job)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "script.mjs", url, string(b))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node script.mjs: %v\n%s", err, stderr.Bytes())
	}
	var res jsResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	return res
}

// on reads bit i of a sweep's bitmap.
func (s jsSweep) bits(t *testing.T) func(i int) bool {
	b, err := base64.StdEncoding.DecodeString(s.Bitmap)
	if err != nil || len(b) != (s.Count+7)/8 {
		t.Fatalf("bitmap of %d bytes, %v; want %d", len(b), err, (s.Count+7)/8)
	}
	return func(i int) bool { return b[i>>3]&(1<<(i&7)) != 0 }
}

// TestOpenFeatureJS evaluates canary's flags with the official OpenFeature
// JavaScript server SDK and OFREP provider, while the flag is moved in
// lockstep with the built-in proxy's weight (5%, 10%, 25%) through the
// builtin provider over the (cached) SQLite store the flag service serves. At 10%
// it evaluates 100,000 keys, at 5% and 25% the first 10,000 of them (each
// evaluation is one HTTP request, about a millisecond of the SDK's CPU):
// the share on is within 0.5 points of the percentage; a key on stays on
// as the percentage grows; the keys on are exactly those the proxy sends
// to the canary, by canary.Bucket for every key and by sending each
// sampled key's request through the proxy.
func TestOpenFeatureJS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with Node.js: skipped with -short")
	}
	node, dir := nodeClient(t)
	ctx := context.Background()
	const flag, token, sample = "release_20250814", "ofrep-reader-0123456789abcdef01234567", 10000

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "canary.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// As canary serve wires it: one Cache in front of the SQLite store,
	// shared by the flag service and the builtin provider.
	cache := NewCache(st, 0, nil)
	h, err := NewHandler(Config{Store: cache, Authorize: func(r *http.Request, write bool) (string, error) {
		if r.Header.Get("Authorization") != "Bearer "+token || write {
			return "", fmt.Errorf("token refused")
		}
		return "token reader", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	backend := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(s.Close)
		return s
	}
	px, err := proxy.New(proxy.Config{Stable: backend("stable").URL, Canary: backend("canary").URL, StickyHeader: "X-User-ID",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	proxySrv := proxy.NewServer("", px)
	proxyAddr, err := proxySrv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxySrv.Close() })
	proxyClient := &http.Client{Timeout: 10 * time.Second}
	flags, err := NewSetter(t.Context(), &canary.FeatureFlag{Name: flag, Environment: "production"}, SetterConfig{Rollout: "shop/checkout", Store: cache})
	if err != nil {
		t.Fatal(err)
	}

	var prev func(int) bool
	for _, step := range []struct{ weight, keys int }{{5, sample}, {10, 100000}, {25, sample}} {
		w := step.weight
		// The runner's order: the flag, then the weight.
		if err := flags.SetFlag(ctx, flag, true, w); err != nil {
			t.Fatal(err)
		}
		if err := px.SetWeight(ctx, w); err != nil {
			t.Fatal(err)
		}
		res := runJS(t, node, dir, srv.URL, jsJob{Token: token, Concurrency: 16,
			Sweeps: []jsSweep{{Flag: flag, Prefix: "user-", Count: step.keys}}})
		sw := res.Sweeps[0]
		t.Logf("%d%%: %d of %d keys on (%.3f%%) in %dms with %v", w, sw.On, step.keys, 100*float64(sw.On)/float64(step.keys), res.ElapsedMs, res.SDK)
		if len(sw.Errors) > 0 || sw.Reasons[ReasonSplit] != step.keys {
			t.Fatalf("%d%%: reasons %v, errors %v; want %d SPLIT", w, sw.Reasons, sw.Errors, step.keys)
		}
		if share := 100 * float64(sw.On) / float64(step.keys); share < float64(w)-0.5 || share > float64(w)+0.5 {
			t.Errorf("%d%%: %.3f%% of %d keys on, want within 0.5 points", w, share, step.keys)
		}
		on := sw.bits(t)
		count := 0
		for i := range step.keys {
			key := "user-" + strconv.Itoa(i)
			if want := canary.Bucket(key) < w*100; on(i) != want {
				t.Fatalf("%d%%: %s is on=%v, but the proxy's bucket %d says %v", w, key, on(i), canary.Bucket(key), want)
			}
			if i < sample && prev != nil && prev(i) && !on(i) {
				t.Fatalf("%s was on at the previous step and is off at %d%%", key, w)
			}
			if on(i) {
				count++
			}
		}
		if count != sw.On {
			t.Fatalf("bitmap has %d keys on, the script counted %d", count, sw.On)
		}
		prev = on

		// Through the proxy: a sampled key's request reaches the canary
		// exactly when its flag is on.
		for i := range sample {
			req, _ := http.NewRequest("GET", "http://"+proxyAddr.String()+"/checkout", nil)
			req.Header.Set("X-User-ID", "user-"+strconv.Itoa(i))
			resp, err := proxyClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got, want := string(body), map[bool]string{true: "canary", false: "stable"}[on(i)]; got != want {
				t.Fatalf("%d%%: user-%d reached %q through the proxy, but the flag is on=%v", w, i, got, on(i))
			}
		}
	}

	// The OpenFeature details of the other outcomes.
	if err := flags.SetFlag(ctx, "disabled_flag", false, 50); err != nil {
		t.Fatal(err)
	}
	if err := flags.SetFlag(ctx, "everyone", true, 100); err != nil {
		t.Fatal(err)
	}
	res := runJS(t, node, dir, srv.URL, jsJob{Token: token, Probes: []jsProbe{
		{Flag: flag, Context: map[string]any{"targetingKey": "user-4"}}, // bucket 558: on at 25%
		{Flag: flag, Context: map[string]any{"targetingKey": "user-1"}}, // bucket 5477: off
		{Flag: flag, Context: map[string]any{"email": "a@example.com"}},
		{Flag: "no_such_flag", Context: map[string]any{"targetingKey": "user-1"}},
		{Flag: "disabled_flag", Context: map[string]any{"targetingKey": "user-4"}},
		{Flag: "everyone"},
	}})
	want := []string{
		"value=true reason=SPLIT variant=on error= bucket=558 pct=25 env=production",
		"value=false reason=SPLIT variant=off error= bucket=5477 pct=25 env=production",
		"value=false reason=ERROR variant= error=TARGETING_KEY_MISSING bucket=<nil> pct=<nil> env=<nil>",
		"value=false reason=ERROR variant= error=FLAG_NOT_FOUND bucket=<nil> pct=<nil> env=<nil>",
		"value=false reason=DISABLED variant=off error= bucket=<nil> pct=50 env=production",
		"value=true reason=STATIC variant=on error= bucket=<nil> pct=100 env=production",
	}
	for i, p := range res.Probes {
		got := fmt.Sprintf("value=%v reason=%s variant=%s error=%s bucket=%v pct=%v env=%v", p.Value, p.Reason, deref(p.Variant),
			deref(p.ErrorCode), p.FlagMetadata["bucket"], p.FlagMetadata["rolloutPercentage"], p.FlagMetadata["environment"])
		if got != want[i] {
			t.Errorf("probe %d (%s %v):\n got  %s\n want %s (message %q)", i, p.Flag, p.Context, got, want[i], deref(p.ErrorMessage))
		}
	}
	if m := deref(res.Probes[2].ErrorMessage); !strings.Contains(m, "needs a targetingKey") {
		t.Errorf("TARGETING_KEY_MISSING message %q", m)
	}

	// A client without the token gets the default value, never a flag.
	res = runJS(t, node, dir, srv.URL, jsJob{Probes: []jsProbe{{Flag: flag, Context: map[string]any{"targetingKey": "user-4"}}}})
	if p := res.Probes[0]; p.Value != false || p.Reason != "ERROR" {
		t.Errorf("without a token: %+v", p)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
