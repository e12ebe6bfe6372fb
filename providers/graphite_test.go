package providers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/providers"
)

// TestGraphiteSecretFromHost: a Graphite source's basicAuth password is
// read through the host's resolver (the operator's reads secret:NAME/KEY
// from the Rollout's namespace) once, while the source is built; every
// render request carries it, and an error never shows it.
func TestGraphiteSecretFromHost(t *testing.T) {
	var mu sync.Mutex
	var reads, auth []string
	resolve := func(ctx context.Context, ref canary.SecretRef) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		reads = append(reads, string(ref))
		return "pw-" + strings.TrimPrefix(string(ref), "secret:graphite/"), nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path != "/render" || r.URL.Query().Get("format") != "json" {
			http.NotFound(w, r)
			return
		}
		if strings.Contains(r.URL.Query().Get("target"), ".canary.") {
			http.Error(w, "upstream said "+r.Header.Get("Authorization"), http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, `[{"target": "x", "datapoints": [[null, 1], [42.0, 2]]}]`)
	}))
	defer srv.Close()
	p := parse(t, `{gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary}}`,
		fmt.Sprintf("{graphite: {address: %q, resolution: 1s, basicAuth: {username: canary, password: 'secret:graphite/password'}}}", srv.URL), "")
	src, err := providers.Metrics(t.Context(), p, providers.Env{Host: "canary operator", Secrets: resolve})
	if err != nil {
		t.Fatal(err)
	}
	q := canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackStable, Window: time.Minute, At: time.Now()}
	m, err := src.Measure(t.Context(), q)
	if err != nil || m.Value != 42 || m.Samples != 42 {
		t.Fatalf("stable: got %+v, %v; want 42 over 42", m, err)
	}
	q.Track = canary.TrackCanary
	_, err = src.Measure(t.Context(), q)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("canary:pw-password"))
	if err == nil || !strings.Contains(err.Error(), "upstream said") || strings.Contains(err.Error(), "pw-password") || strings.Contains(err.Error(), want[6:]) {
		t.Errorf("canary: got %v; want an error without the password", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reads) != 1 || reads[0] != "secret:graphite/password" {
		t.Errorf("resolver reads %q, want the password once", reads)
	}
	for _, a := range auth {
		if a != want {
			t.Errorf("Authorization %q, want %q", a, want)
		}
	}
}
