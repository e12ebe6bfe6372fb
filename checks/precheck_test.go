package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// newServer starts an httptest server closed with the test.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// jsonBody answers status with body as JSON.
func jsonBody(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func TestPreCheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		jq      string
		want    string // output
		wantErr string // substring of the error; "" means pass
	}{
		{name: "comparison true", status: 200, body: `{"avg_success_rate":0.995}`,
			jq: ".avg_success_rate >= 0.99", want: "true"},
		{name: "comparison false shows inputs", status: 200, body: `{"avg_success_rate":0.97}`,
			jq: ".avg_success_rate >= 0.99", want: "false",
			wantErr: ".avg_success_rate >= 0.99 was false (.avg_success_rate is 0.97)"},
		{name: "and shows both operands", status: 200, body: `{"a":0,"b":5}`,
			jq: ".a > 1 and .b < 2", want: "false", wantErr: "(.a is 0, .b is 5)"},
		{name: "non-boolean object passes", status: 200, body: `{"features": {"elite": true}}`,
			jq: ".features", want: `{"elite":true}`},
		{name: "zero is truthy as in jq", status: 200, body: `{"n":0}`, jq: ".n", want: "0"},
		{name: "null fails", status: 200, body: `{"other":1}`, jq: ".features != null",
			want: "false", wantErr: ".features != null was false (.features is null)"},
		{name: "bare null result fails", status: 200, body: `{}`, jq: ".features",
			want: "null", wantErr: ".features was null"},
		{name: "every result must be truthy", status: 200, body: `[true,false]`, jq: ".[]",
			want: "true false", wantErr: ".[] was true false"},
		{name: "no result fails", status: 200, body: `[]`, jq: ".[]", wantErr: ".[] produced no result"},
		{name: "large integers stay exact", status: 200, body: `{"id":12345678901234567890}`,
			jq: ".id", want: "12345678901234567890"},
		{name: "no expression: 2xx passes", status: 200, body: `not even json`, want: "200 OK"},
		{name: "503 fails", status: 503, body: ``, jq: ".ok", wantErr: ": 503 Service Unavailable"},
		{name: "500 shows body", status: 500, body: `{"error": "db down"}`, jq: ".ok",
			wantErr: `500 Internal Server Error: {"error": "db down"}`},
		{name: "non-JSON body", status: 200, body: `<html>oops</html>`, jq: ".ok",
			wantErr: "body is not JSON"},
		{name: "trailing data", status: 200, body: `{"ok":true} {"ok":false}`, jq: ".ok",
			wantErr: "trailing data"},
		{name: "empty body", status: 200, body: ``, jq: ".ok", wantErr: "empty body"},
		{name: "runtime error", status: 200, body: `{"a":1}`, jq: ".a.b",
			wantErr: "jq .a.b: expected an object"},
		{name: "environment hidden", status: 200, body: `{}`,
			jq: `$ENV.CANARY_CHECKS_SECRET == null`, want: "true"},
	}
	t.Setenv("CANARY_CHECKS_SECRET", "hunter2")
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, jsonBody(tt.status, tt.body))
			got, err := r.PreCheck(context.Background(), canary.PreCheck{Name: tt.name, URL: srv.URL + "/elite/metrics", JQ: tt.jq})
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("output = %q, want %q", got, tt.want)
			}
		})
	}
}

// checkErr fails unless err contains want, or is nil when want is "".
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got error %q, want none", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("got error %q, want it to contain %q", err, want)
	}
}

func TestPreCheckBadExpressionMakesNoRequest(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	tests := []struct{ name, jq, wantErr string }{
		{"parse error", ".avg_success_rate >=", `jq expression ".avg_success_rate >=": unexpected EOF`},
		{"unknown function", "nosuchfn(1)", `jq expression "nosuchfn(1)": function not defined: nosuchfn/1`},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.PreCheck(context.Background(), canary.PreCheck{URL: srv.URL, JQ: tt.jq})
			checkErr(t, err, tt.wantErr)
		})
	}
	if got := hits.Load(); got != 0 {
		t.Errorf("server hits = %d, want 0", got)
	}
}

func TestPreCheckLimits(t *testing.T) {
	big := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"pad": "%s"}`, strings.Repeat("x", MaxBody))
	})
	hang := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	tests := []struct {
		name    string
		pc      canary.PreCheck
		wantErr string
	}{
		{"body over the cap", canary.PreCheck{URL: big.URL, JQ: ".pad"}, "body larger than 1048576 bytes"},
		{"timeout", canary.PreCheck{URL: hang.URL, JQ: ".", Timeout: canary.Duration(100 * time.Millisecond)},
			"timed out after 100ms"},
		{"no URL", canary.PreCheck{JQ: "."}, "no URL"},
		{"relative URL", canary.PreCheck{URL: "/elite/metrics"}, "not an absolute http(s) URL"},
		{"other scheme", canary.PreCheck{URL: "file:///etc/passwd"}, "not an absolute http(s) URL"},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := r.PreCheck(context.Background(), tt.pc)
			checkErr(t, err, tt.wantErr)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s, want well under 5s", d)
			}
		})
	}
}

func TestPreCheckTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	var r Runner
	_, err := r.PreCheck(context.Background(), canary.PreCheck{URL: url, JQ: "."})
	checkErr(t, err, "connection refused")
}

func TestPreCheckCanceled(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var r Runner
	_, err := r.PreCheck(ctx, canary.PreCheck{URL: srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
