package web_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/canary-dev/canary/web"
	"github.com/canary-dev/canary/web/webtest"
)

// FuzzHandler: whatever the method, path, query and body, the API answers
// without a 5xx (the fake manager never fails) and without a panic.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), "/api/v1/rollouts", []byte(testPlan))
	f.Add(uint8(1), "/api/v1/rollouts/default/web/pause", []byte(`{"reason":"x"}`))
	f.Add(uint8(2), "/api/v1/rollouts/default/web/events?after=1&limit=2", []byte(nil))
	f.Add(uint8(3), "/api/v1/rollouts/a%2Fb/web", []byte(nil))
	f.Add(uint8(1), "/api/v1/rollouts/default/web/promote", []byte(`{"full":true,"x":[}`))
	f.Add(uint8(2), "/api/v1/rollouts?phase=%00&limit=9999999999999999999", []byte(nil))
	methods := []string{"POST", "POST", "GET", "DELETE", "PUT", "HEAD"}
	f.Fuzz(func(t *testing.T, m uint8, path string, body []byte) {
		fake := webtest.New()
		tk, _ := web.LoadTokens(bytes.NewReader([]byte(tokensLines)))
		h, err := web.New(web.Config{API: fake, Tokens: tk, MaxBody: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		fake.Apply(t.Context(), []byte(testPlan), false, "seed")
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://canary.test/", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.URL.Path, req.URL.RawPath, req.RequestURI = "", "", ""
		u, err := req.URL.Parse(path)
		if err != nil || len(path) == 0 || path[0] != '/' {
			return
		}
		req.URL = u
		req.Header.Set("Authorization", "Bearer "+opToken)
		if req.URL.Path == "/api/v1/rollouts/default/web/events/stream" {
			return // a stream does not end on its own
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", req.Method, path, rec.Code, rec.Body)
		}
	})
}
