package flags

import (
	"fmt"
	"github.com/canary-dev/canary"
	"net/http"
	"strings"
	"testing"
)

func TestOFREPSingle(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		h := newHandler(t, s)
		mustSet(t, s, "split", true, 10)
		mustSet(t, s, "off", false, 50)
		mustSet(t, s, "all", true, 100)
		mustSet(t, s, "none", true, 0)
		// user-4 is in bucket 558 (on at 10%), user-1 in 5477 (off).
		if canary.Bucket("user-4") >= 1000 || canary.Bucket("user-1") < 1000 {
			t.Fatalf("fixture keys moved: buckets %d, %d", canary.Bucket("user-4"), canary.Bucket("user-1"))
		}
		tests := []struct {
			name, key, body string
			status          int
			want            string // the whole body
		}{
			{"on by split", "split", `{"context": {"targetingKey": "user-4", "plan": "pro"}}`, 200,
				`{"key":"split","value":true,"reason":"SPLIT","variant":"on","metadata":{"bucket":558,"environment":"production","rolloutPercentage":10,"version":1}}`},
			{"off by split", "split", `{"context": {"targetingKey": "user-1"}}`, 200,
				`{"key":"split","value":false,"reason":"SPLIT","variant":"off","metadata":{"bucket":5477,"environment":"production","rolloutPercentage":10,"version":1}}`},
			{"disabled needs no key", "off", `{}`, 200,
				`{"key":"off","value":false,"reason":"DISABLED","variant":"off","metadata":{"environment":"production","rolloutPercentage":50,"version":1}}`},
			{"100% needs no key", "all", ``, 200,
				`{"key":"all","value":true,"reason":"STATIC","variant":"on","metadata":{"environment":"production","rolloutPercentage":100,"version":1}}`},
			{"0% is off", "none", `{"context": {"targetingKey": "user-4"}}`, 200,
				`{"key":"none","value":false,"reason":"STATIC","variant":"off","metadata":{"environment":"production","rolloutPercentage":0,"version":1}}`},
			{"targeting key missing", "split", `{"context": {"email": "a@b"}}`, 400,
				`{"key":"split","errorCode":"TARGETING_KEY_MISSING","errorDetails":"flag split is at 10%: its value depends on the user, so the evaluation context needs a targetingKey (the sticky key the proxy splits by, e.g. the X-User-ID)"}`},
			{"empty targeting key", "split", `{"context": {"targetingKey": ""}}`, 400, `"errorCode":"TARGETING_KEY_MISSING"`},
			{"no context", "split", `{"context": null}`, 400, `"errorCode":"TARGETING_KEY_MISSING"`},
			{"unknown flag", "nope", `{"context": {"targetingKey": "user-1"}}`, 404,
				`{"key":"nope","errorCode":"FLAG_NOT_FOUND","errorDetails":"flag nope not found: create it with POST /feature-flags/nope"}`},
			{"not JSON", "split", `{"context": `, 400, `{"key":"split","errorCode":"PARSE_ERROR","errorDetails":"the request body is not a JSON object (it ends too early)`},
			{"not an object", "split", `[1]`, 400, `"errorCode":"PARSE_ERROR"`},
			{"trailing data", "split", `{} x`, 400, `"errorCode":"PARSE_ERROR","errorDetails":"the request body has more after its JSON object"`},
			{"context not an object", "split", `{"context": "user-1"}`, 400,
				`{"key":"split","errorCode":"INVALID_CONTEXT","errorDetails":"context is not a JSON object"}`},
			{"targeting key not a string", "split", `{"context": {"targetingKey": 42}}`, 400,
				`{"key":"split","errorCode":"INVALID_CONTEXT","errorDetails":"context.targetingKey is not a string"}`},
			// Fields OFREP may add later do not break evaluation.
			{"unknown top-level field", "all", `{"context": {}, "future": 1}`, 200, `"value":true`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := call(t, h, "POST", "/ofrep/v1/evaluate/flags/"+tt.key, tt.body)
				if r.status != tt.status {
					t.Fatalf("got %d %s, want %d", r.status, r.body, tt.status)
				}
				if strings.HasPrefix(tt.want, "{") && strings.HasSuffix(tt.want, "}") {
					if got := strings.TrimSpace(r.body); got != tt.want {
						t.Errorf("got  %s\nwant %s", got, tt.want)
					}
				} else if !strings.Contains(r.body, tt.want) {
					t.Errorf("got %s, want it to contain %s", r.body, tt.want)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
		wantStatus(t, call(t, h, "GET", "/ofrep/v1/evaluate/flags/split", ""), http.StatusMethodNotAllowed)
	})
}

func TestOFREPBulk(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		h := newHandler(t, s)
		r := call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "user-4"}}`)
		wantStatus(t, r, 200)
		if got := strings.TrimSpace(r.body); got != `{"flags":[]}` {
			t.Errorf("no flags: got %s", got)
		}
		mustSet(t, s, "b_split", true, 10)
		mustSet(t, s, "a_off", false, 10)
		r = call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "user-4"}}`)
		wantStatus(t, r, 200)
		want := `{"flags":[` +
			`{"key":"a_off","value":false,"reason":"DISABLED","variant":"off","metadata":{"environment":"production","rolloutPercentage":10,"version":1}},` +
			`{"key":"b_split","value":true,"reason":"SPLIT","variant":"on","metadata":{"bucket":558,"environment":"production","rolloutPercentage":10,"version":1}}]}`
		if got := strings.TrimSpace(r.body); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		etag := r.header.Get("ETag")
		if len(etag) < 3 || etag[0] != '"' {
			t.Fatalf("ETag %q", etag)
		}
		// Unchanged: 304 for the same ETag, in a list, weak, or "*".
		for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*"} {
			r2 := call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "user-4"}}`, "If-None-Match: "+inm)
			if r2.status != http.StatusNotModified || r2.body != "" || r2.header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: got %d %q etag %q, want 304", inm, r2.status, r2.body, r2.header.Get("ETag"))
			}
		}
		// Another context, another result, another ETag.
		r3 := call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "user-1"}}`, "If-None-Match: "+etag)
		wantStatus(t, r3, 200, `"key":"b_split","value":false`)
		// A change of a flag changes the ETag.
		mustSet(t, s, "b_split", true, 60)
		r4 := call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{"context": {"targetingKey": "user-4"}}`, "If-None-Match: "+etag)
		wantStatus(t, r4, 200, `"rolloutPercentage":60`)
		if r4.header.Get("ETag") == etag {
			t.Error("the ETag did not change with the flag")
		}
		// Without a key, the split flag fails alone; the others evaluate.
		r5 := call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{}`)
		wantStatus(t, r5, 200, `{"key":"a_off","value":false`, `{"key":"b_split","errorCode":"TARGETING_KEY_MISSING"`)
		// A request that does not parse fails as a whole.
		r6 := call(t, h, "POST", "/ofrep/v1/evaluate/flags", `{"context": 1}`)
		if got := strings.TrimSpace(r6.body); r6.status != 400 || got != `{"errorCode":"INVALID_CONTEXT","errorDetails":"context is not a JSON object"}` {
			t.Errorf("got %d %s", r6.status, got)
		}
	})
}

func TestOFREPConfiguration(t *testing.T) {
	h := newHandler(t, &Memory{})
	r := call(t, h, "GET", "/ofrep/v1/configuration", "")
	wantStatus(t, r, 200, `"name":"canary"`, `"supportedTypes":["boolean"]`, `"minPollingIntervalMs":1000`)
}

// TestEvaluateIsTheProxySplit checks Evaluate against canary.Bucket for
// 20,000 keys at every percentage: on exactly when the proxy would send
// the key to the canary, monotone as the percentage grows, and a share
// close to the percentage.
func TestEvaluateIsTheProxySplit(t *testing.T) {
	const n = 20000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	prev := make([]bool, n)
	for p := 0; p <= 100; p++ {
		f := Flag{Name: "f", Enabled: true, RolloutPercentage: p}
		on := 0
		for i, k := range keys {
			ev, err := Evaluate(f, k)
			if err != nil {
				t.Fatalf("%d%% %s: %v", p, k, err)
			}
			if want := canary.Bucket(k) < p*100; ev.Value != want {
				t.Fatalf("%d%% %s: got %v, the proxy sends it to the canary: %v", p, k, ev.Value, want)
			}
			if prev[i] && !ev.Value {
				t.Fatalf("%s was on at %d%% and is off at %d%%", k, p-1, p)
			}
			prev[i] = ev.Value
			if ev.Value {
				on++
			}
		}
		if share := 100 * float64(on) / n; share < float64(p)-1 || share > float64(p)+1 {
			t.Errorf("%d%%: %.2f%% of keys on", p, share)
		}
	}
	ev, err := Evaluate(Flag{Enabled: false, RolloutPercentage: 100}, "user-1")
	if err != nil || ev.Value || ev.Reason != ReasonDisabled {
		t.Errorf("disabled at 100%%: %+v %v", ev, err)
	}
	if _, err := Evaluate(Flag{Enabled: true, RolloutPercentage: 50}, ""); err != ErrTargetingKeyMissing {
		t.Errorf("empty key at 50%%: got %v, want ErrTargetingKeyMissing", err)
	}
}
