package metricsrc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/egress"
)

const secretToken = "s3cr3t-token-value"

// TestHTTPRetriesAndRedacts: the secret header is sent, read once;
// a 503 is retried and then answered; a 400 is a bad query, not retried;
// a 401 whose body echoes the token is reported without it.
func TestHTTPRetriesAndRedacts(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("X-Api-Key") != secretToken || r.Header.Get("Accept") != "application/json" {
			t.Errorf("headers: got %v", r.Header)
		}
		switch r.URL.Path {
		case "/flaky":
			if n == 1 {
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{"v":1}`))
		case "/bad":
			http.Error(w, "parse error at 3", http.StatusBadRequest)
		case "/auth":
			http.Error(w, "bad key "+r.Header.Get("X-Api-Key"), http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	reads := 0
	h, err := NewHTTP(HTTPConfig{Source: "test", Address: srv.URL, Backoff: time.Millisecond,
		Headers:       map[string]string{"Accept": "application/json"},
		SecretHeaders: map[string]canary.SecretRef{"X-Api-Key": "env:KEY"},
		Secrets: func(ref canary.SecretRef) (string, error) {
			reads++
			return secretToken, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) ([]byte, error) {
		u, _ := url.Parse(srv.URL + path)
		return h.Do(context.Background(), Request{URL: u})
	}
	if b, err := get("/flaky"); err != nil || string(b) != `{"v":1}` || calls.Load() != 2 {
		t.Errorf("flaky: got %q, %v after %d calls; want the answer after 2", b, err, calls.Load())
	}
	calls.Store(0)
	_, err = get("/bad")
	var f *Failure
	if !errors.As(err, &f) || f.Kind != ErrBadQuery || calls.Load() != 1 || !strings.Contains(err.Error(), "HTTP 400 Bad Request: parse error at 3") {
		t.Errorf("bad: got %v after %d calls, want a bad query after 1", err, calls.Load())
	}
	calls.Store(0)
	_, err = get("/auth")
	if err == nil || strings.Contains(err.Error(), secretToken) || !strings.Contains(err.Error(), "bad key [redacted]") ||
		!errors.Is(err, ErrUnavailable) || calls.Load() != 1 {
		t.Errorf("auth: got %v after %d calls; want unavailable, redacted, not retried", err, calls.Load())
	}
	if reads != 1 {
		t.Errorf("the secret was read %d times, want once", reads)
	}
}

// TestHTTPEgress: the client dials through the policy it is given, so a
// plan cannot reach an address the owner did not allow.
func TestHTTPEgress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the refused server was reached")
	}))
	defer srv.Close()
	pol := &egress.Policy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	h, err := NewHTTP(HTTPConfig{Source: "test", Address: srv.URL, Dial: pol.DialContext, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	_, err = h.Do(context.Background(), Request{URL: u})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "refused by the outbound policy") {
		t.Errorf("got %v, want refused by the outbound policy", err)
	}
}

func TestNewHTTPRefuses(t *testing.T) {
	tests := []struct {
		name string
		c    HTTPConfig
		want string
	}{
		{"not a URL", HTTPConfig{Address: "influx:8086"}, "is not an http(s) URL"},
		{"user info", HTTPConfig{Address: "http://u:pw@h"}, "credentials in the URL are not allowed"},
		{"two credentials", HTTPConfig{Address: "http://h", BearerToken: "env:A", BasicAuth: &canary.BasicAuth{Username: "u"}}, "use one"},
		{"unset secret", HTTPConfig{Address: "http://h", BearerToken: "env:CANARY_TEST_SURELY_UNSET"}, "bearerToken: secret env:CANARY_TEST_SURELY_UNSET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTP(tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), ":pw@") {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestHTTPKeys: a key is required, named by its plan field; its value is
// sent as its header and never shown; a refusal says to check the keys
// by name and is not retried.
func TestHTTPKeys(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "key "+r.Header.Get("DD-API-KEY")+" revoked", http.StatusForbidden)
	}))
	defer srv.Close()
	t.Setenv("TEST_KEY", secretToken)
	keys := []Key{{Field: "apiKey", Header: "DD-API-KEY", Ref: "env:TEST_KEY"}, {Field: "applicationKey", Header: "DD-APPLICATION-KEY"}}
	if _, err := NewHTTP(HTTPConfig{Address: srv.URL, Keys: keys}); err == nil || err.Error() != "applicationKey: required (a reference such as env:NAME)" {
		t.Errorf("missing key: got %v", err)
	}
	h, err := NewHTTP(HTTPConfig{Address: srv.URL, Keys: keys[:1], Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	_, err = h.Do(context.Background(), Request{URL: u})
	if err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "(check apiKey)") ||
		strings.Contains(err.Error(), secretToken) || calls.Load() != 1 {
		t.Errorf("refused: got %v after %d requests, want one, redacted, naming apiKey", err, calls.Load())
	}
}
