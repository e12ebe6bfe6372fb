package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// hostilePlan is a valid plan that sits at its first step (an hour's
// hold, measured once a minute) behind a proxy on a port of its own.
const hostilePlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: scale}
spec:
  version: v2
  traffic: {proxy: {listen: "127.0.0.1:0", stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 1h}, {weight: 100}]
  analysis: {interval: 1m, minRequests: 10}
  rules:
    - {metric: errorRate, above: 5%%, window: 5m, for: 1m, action: rollback-immediate}
`

// applyAll POSTs bodies with 8 clients and returns each one's status and
// body, in order.
func applyAll(srv *serveProc, bodies [][]byte) ([]int, []string) {
	statuses, out := make([]int, len(bodies)), make([]string, len(bodies))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				statuses[i], out[i] = srv.do("POST", "/api/v1/rollouts", bodies[i])
			}
		})
	}
	for i := range bodies {
		next <- i
	}
	close(next)
	wg.Wait()
	return statuses, out
}

// TestServeHostileScale applies thousands of plans to a real canary serve
// with --max-rollouts 2000: 3,000 distinct valid plans (2,000 created,
// 1,000 refused with 409 naming the limit), then 1,000 invalid ones (bad
// YAML, unknown fields, bad values, odd names: path separators, 10,000
// characters, unicode, dots), each answered with 400 and the plan's
// errors; oversized bodies are 413 and odd names in paths 400. Between
// batches the server answers /healthz, and list and get still work. RSS
// before and after is logged (no assertion on time or memory).
func TestServeHostileScale(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of plans: about 30s")
	}
	srv := startServe(t, t.TempDir()+"/s.db", "--max-rollouts", "2000", "--rate-limit", "0") // scale, not rate: the limit has its own tests
	health := func(when string) {
		t.Helper()
		if st, _ := srv.do("GET", "/healthz", nil); st != http.StatusOK || !srv.alive() {
			t.Fatalf("/healthz %s: %d (alive %v)\n%s", when, st, srv.alive(), srv.logTail())
		}
	}
	rss0 := rssKiB(srv.cmd.Process.Pid)

	valid := make([][]byte, 3000)
	for i := range valid {
		valid[i] = fmt.Appendf(nil, hostilePlan, fmt.Sprintf("svc-%04d", i))
	}
	sts, bodies := applyAll(srv, valid)
	created, limited := 0, 0
	for i, st := range sts {
		switch {
		case st == http.StatusCreated:
			created++
		case st == http.StatusConflict && strings.Contains(bodies[i], "--max-rollouts 2000"):
			limited++
		default:
			t.Fatalf("valid plan %d: %d %s", i, st, bodies[i])
		}
	}
	if created != 2000 || limited != 1000 {
		t.Errorf("3,000 valid plans: %d created, %d refused at the limit; want 2000 and 1000", created, limited)
	}
	health("after 3,000 valid plans")
	rss1 := rssKiB(srv.cmd.Process.Pid)
	// At the limit, re-applying a running rollout is still a no-op.
	if st, body := srv.do("POST", "/api/v1/rollouts", valid[0]); st != http.StatusOK || !strings.Contains(body, `"unchanged":true`) {
		if st != http.StatusOK && !strings.Contains(body, "--max-rollouts") { // svc-0000 may have been refused
			t.Errorf("re-apply at the limit: %d %.200s", st, body)
		}
	}

	long := strings.Repeat("a", 10000)
	odd := []string{"a/b", "../etc", `a\b`, long, "ünïcødé", "a.b", "..", "UPPER", "-dash", "sp ace", "%2F", "a\x00b"}
	var invalid [][]byte
	var kinds []string
	for i := range 1000 {
		switch i % 5 {
		case 0: // an odd name
			name := odd[i/5%len(odd)]
			nb, _ := json.Marshal(name)
			invalid = append(invalid, fmt.Appendf(nil, hostilePlan, nb))
			kinds = append(kinds, "name "+fmt.Sprintf("%.20q", name))
		case 1: // malformed YAML
			invalid = append(invalid, []byte("apiVersion: [unclosed\n  : : :\n"))
			kinds = append(kinds, "malformed")
		case 2: // an unknown field
			invalid = append(invalid, fmt.Appendf(nil, strings.Replace(hostilePlan, "  version: v2\n", "  version: v2\n  bogus: 1\n", 1), fmt.Sprintf("bad-%d", i)))
			kinds = append(kinds, "unknown field")
		case 3: // a bad value
			invalid = append(invalid, fmt.Appendf(nil, strings.Replace(hostilePlan, "weight: 10,", "weight: 250,", 1), fmt.Sprintf("bad-%d", i)))
			kinds = append(kinds, "bad weight")
		case 4: // binary junk
			invalid = append(invalid, []byte(strings.Repeat("\xff\xfe\x00{", 64)))
			kinds = append(kinds, "junk")
		}
	}
	sts, bodies = applyAll(srv, invalid)
	for i, st := range sts {
		if st != http.StatusBadRequest || !strings.Contains(bodies[i], `"code":"invalid"`) {
			t.Errorf("invalid plan %d (%s): %d %.300s; want 400 invalid", i, kinds[i], st, bodies[i])
		}
	}
	health("after 1,000 invalid plans")

	// Oversized bodies and odd names in paths.
	big := make([]byte, 2<<20)
	if st, body := srv.do("POST", "/api/v1/rollouts", big); st != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB plan: %d %.200s; want 413", st, body)
	}
	for _, name := range []string{"a%2Fb", long, url.PathEscape("ünïcødé"), "a.b", "..%2F..%2Fetc"} {
		if st, body := srv.do("GET", "/api/v1/rollouts/scale/"+name, nil); st != http.StatusBadRequest {
			t.Errorf("GET odd name %.30q: %d %.200s; want 400", name, st, body)
		}
	}
	health("after oversized bodies and odd paths")

	var list struct {
		Items []rollout `json:"items"`
	}
	if !srv.getJSON("/api/v1/rollouts?limit=1000", &list) || len(list.Items) != 1000 {
		t.Errorf("list of 1000: got %d", len(list.Items))
	}
	var one rollout
	if !srv.getJSON("/api/v1/rollouts/scale/svc-0001", &one) && !srv.getJSON("/api/v1/rollouts/scale/svc-2999", &one) {
		t.Error("get of an applied rollout failed")
	}
	rss2 := rssKiB(srv.cmd.Process.Pid)
	t.Logf("RSS: %d MiB at start, %d MiB with 2,000 rollouts, %d MiB after 1,000 invalid plans and odd requests",
		rss0>>10, rss1>>10, rss2>>10)
	health("at the end")
	srv.stop()
}
