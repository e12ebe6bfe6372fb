package promql

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestSecretsSeam: Config.Secrets reads bearerToken and
// basicAuth.password (canary operator's secret:NAME/KEY), the values
// reach Prometheus, and a failing resolver's error names the field and
// the reference, never a value.
func TestSecretsSeam(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}`))
	}))
	defer srv.Close()
	secrets := map[canary.SecretRef]string{"secret:prom/token": "tok-123", "secret:prom/password": "pw-456"}
	resolve := func(ref canary.SecretRef) (string, error) {
		if v, ok := secrets[ref]; ok {
			return v, nil
		}
		return "", errors.New("secret " + ref.String() + ": Secret not found")
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bearer token from a Secret", Config{BearerToken: "secret:prom/token"}, "Bearer tok-123"},
		{"basic auth password from a Secret", Config{BasicAuth: &BasicAuth{Username: "canary", Password: "secret:prom/password"}}, "Basic Y2FuYXJ5OnB3LTQ1Ng=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Address, cfg.Secrets = srv.URL, resolve
			s := newSource(t, cfg)
			if _, err := s.Instant(t.Context(), "probe", "vector(1)", time.Unix(1, 0)); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := auth[len(auth)-1]
			mu.Unlock()
			if got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
	_, err := New(Config{Address: srv.URL, BearerToken: "secret:prom/missing", Secrets: resolve})
	if err == nil || !strings.Contains(err.Error(), "bearerToken: secret secret:prom/missing") {
		t.Errorf("missing Secret: %v; want the field and the reference", err)
	}
	// Without the seam a secret:NAME/KEY reference is refused with the reason.
	_, err = New(Config{Address: srv.URL, BearerToken: "secret:prom/token"})
	if err == nil || !strings.Contains(err.Error(), "only canary operator reads") {
		t.Errorf("secret: without a resolver: %v", err)
	}
}
