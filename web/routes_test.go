package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/canary-dev/canary/api"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/web"
)

func TestApply(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/rollouts", opToken, testPlan, "Content-Type", "application/yaml")
	want(t, r, http.StatusCreated, "")
	golden(t, "apply_created.json", r.body)

	r = e.do("POST", "/api/v1/rollouts", opToken, testPlan)
	want(t, r, http.StatusOK, "")
	var res api.ApplyResult
	if err := json.Unmarshal(r.body, &res); err != nil || !res.Unchanged || res.Created {
		t.Errorf("second apply: %+v %v, want unchanged", res, err)
	}

	changed := strings.Replace(testPlan, "hold: 1m", "hold: 2m", 1)
	want(t, e.do("POST", "/api/v1/rollouts", opToken, changed), http.StatusConflict, canary.ECONFLICT)
	want(t, e.do("POST", "/api/v1/rollouts?force=true", opToken, changed), http.StatusOK, "")
	want(t, e.do("POST", "/api/v1/rollouts?force=maybe", opToken, changed), http.StatusBadRequest, canary.EINVALID)

	calls := e.api.Calls()
	if !slices.Contains(calls, "Apply force=false actor=alice") || !slices.Contains(calls, "Apply force=true actor=alice") {
		t.Errorf("calls %q: want the token's name as the actor", calls)
	}
}

func TestApplyInvalidPlan(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/rollouts", opToken, badPlan)
	want(t, r, http.StatusBadRequest, canary.EINVALID)
	golden(t, "error_plan_invalid.json", r.body)
	if d := errorOf(t, r).Details; len(d) != 2 || !strings.HasPrefix(d[0], "plan:8:") {
		t.Errorf("details %q: want 2, with file:line:col", d)
	}
}

func TestApplyRefusesBadBodies(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.MaxBody = 4096 })
	big := testPlan + "# " + strings.Repeat("x", 5000) + "\n"
	tests := []struct {
		name, body, ctype string
		status            int
	}{
		{"empty", "", "", http.StatusBadRequest},
		{"blank", " \n\t", "", http.StatusBadRequest},
		{"too large", big, "", http.StatusRequestEntityTooLarge},
		{"multipart", "a=b", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"bad media type", testPlan, "application/;;", http.StatusUnsupportedMediaType},
		{"not yaml", "{{{{", "", http.StatusBadRequest},
		{"binary", "\x00\x01\x02\xff", "", http.StatusBadRequest},
		{"unknown field", strings.Replace(testPlan, "version: v2", "version: v2\n  colour: red", 1), "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.ctype != "" {
				hdr = []string{"Content-Type", tt.ctype}
			}
			r := e.do("POST", "/api/v1/rollouts", opToken, tt.body, hdr...)
			want(t, r, tt.status, canary.EINVALID)
		})
	}
	r := e.do("POST", "/api/v1/rollouts", opToken, big)
	if msg := errorOf(t, r).Message; msg != "the request body is larger than the server's limit of 4 KiB" {
		t.Errorf("413 message %q", msg)
	}
	want(t, e.do("GET", "/healthz", "", ""), http.StatusOK, "")
}

func TestList(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/rollouts", viewToken, "")
	want(t, r, http.StatusOK, "")
	if string(r.body) != `{"items":[]}`+"\n" {
		t.Errorf("empty list %s", r.body)
	}
	e.applied()
	r = e.do("GET", "/api/v1/rollouts?phase=PreChecks&limit=10", viewToken, "")
	want(t, r, http.StatusOK, "")
	golden(t, "list.json", r.body)
	r = e.do("GET", "/api/v1/rollouts?phase=paused", viewToken, "")
	var l web.List
	if err := json.Unmarshal(r.body, &l); err != nil || len(l.Items) != 0 {
		t.Errorf("phase=paused: %s %v", r.body, err)
	}
	for _, q := range []string{"phase=Sleeping", "limit=0", "limit=1001", "limit=x", "limit=-1"} {
		want(t, e.do("GET", "/api/v1/rollouts?"+q, viewToken, ""), http.StatusBadRequest, canary.EINVALID)
	}
}

func TestGetAndDelete(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/rollouts/default/web", viewToken, "")
	want(t, r, http.StatusNotFound, canary.ENOTFOUND)
	golden(t, "error_not_found.json", r.body)

	e.applied()
	r = e.do("GET", "/api/v1/rollouts/default/web", viewToken, "")
	want(t, r, http.StatusOK, "")
	golden(t, "get.json", r.body)

	want(t, e.do("DELETE", "/api/v1/rollouts/default/web", opToken, ""), http.StatusConflict, canary.ECONFLICT)
	want(t, e.do("POST", "/api/v1/rollouts/default/web/abort", opToken, ""), http.StatusOK, "")
	ro, _ := e.api.Get(t.Context(), "default/web")
	ro.State.Phase = canary.PhaseRolledBack // as the runner would finish it
	e.api.Put(ro)
	r = e.do("DELETE", "/api/v1/rollouts/default/web", opToken, "")
	want(t, r, http.StatusOK, "")
	if got := string(r.body); got != `{"name":"default/web","generations":[1]}`+"\n" {
		t.Errorf("DELETE answered %s", got)
	}
	want(t, e.do("GET", "/api/v1/rollouts/default/web", viewToken, ""), http.StatusNotFound, canary.ENOTFOUND)
	want(t, e.do("DELETE", "/api/v1/rollouts/default/web", opToken, ""), http.StatusNotFound, canary.ENOTFOUND)
}

func TestEventsPaged(t *testing.T) {
	e := newEnv(t)
	e.applied()
	var all []canary.Event
	after := int64(0)
	for range 10 {
		r := e.do("GET", "/api/v1/rollouts/default/web/events?limit=2&after="+strconv.FormatInt(after, 10), viewToken, "")
		want(t, r, http.StatusOK, "")
		var p web.EventPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Items) == 0 {
			if p.Next != after {
				t.Errorf("empty page next %d, want %d", p.Next, after)
			}
			break
		}
		all = append(all, p.Items...)
		after = p.Next
	}
	if len(all) < 3 || all[0].Type != canary.EvCreated {
		t.Fatalf("events %+v", all)
	}
	for i, ev := range all {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, ev.Seq)
		}
	}
	r := e.do("GET", "/api/v1/rollouts/default/web/events?after=1&limit=1", viewToken, "")
	golden(t, "events_page.json", r.body)
	for _, q := range []string{"after=-1", "after=x", "limit=0", "limit=5000"} {
		want(t, e.do("GET", "/api/v1/rollouts/default/web/events?"+q, viewToken, ""), http.StatusBadRequest, canary.EINVALID)
	}
	want(t, e.do("GET", "/api/v1/rollouts/default/nope/events", viewToken, ""), http.StatusNotFound, canary.ENOTFOUND)
}

func TestReport(t *testing.T) {
	e := newEnv(t)
	e.applied()
	r := e.do("GET", "/api/v1/rollouts/default/web/report", viewToken, "")
	want(t, r, http.StatusOK, "")
	if ct := r.header.Get("Content-Type"); ct != "text/markdown; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(string(r.body), "# Rollout report: default/web v2\n") {
		t.Errorf("report:\n%s", r.body)
	}
	want(t, e.do("GET", "/api/v1/rollouts/default/nope/report", viewToken, ""), http.StatusNotFound, canary.ENOTFOUND)
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	want(t, e.do("GET", "/healthz", "", ""), http.StatusOK, "")
	want(t, e.do("GET", "/readyz", "", ""), http.StatusOK, "")
	e.api.ReadyFunc = func(ctx context.Context) error { return canary.Errorf(canary.EUNAVAILABLE, "the store is read-only") }
	r := e.do("GET", "/readyz", "", "")
	want(t, r, http.StatusServiceUnavailable, canary.EUNAVAILABLE)
	if msg := errorOf(t, r).Message; msg != "not ready: the store is read-only" {
		t.Errorf("message %q", msg)
	}
	e.api.ReadyFunc = func(ctx context.Context) error { return errors.New("open /var/lib/canary/db: disk I/O error") }
	r = e.do("GET", "/readyz", "", "")
	want(t, r, http.StatusServiceUnavailable, canary.EUNAVAILABLE)
	if strings.Contains(string(r.body), "/var/lib") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
	want(t, e.do("GET", "/healthz", "", ""), http.StatusOK, "")
}

func TestMethodsAndUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("PUT", "/api/v1/rollouts", opToken, "")
	want(t, r, http.StatusMethodNotAllowed, canary.EINVALID)
	if a := r.header.Get("Allow"); a != "GET, POST" {
		t.Errorf("Allow %q", a)
	}
	r = e.do("GET", "/api/v1/rollouts/default/web/pause", opToken, "")
	want(t, r, http.StatusMethodNotAllowed, canary.EINVALID)
	if a := r.header.Get("Allow"); a != "POST" {
		t.Errorf("Allow %q", a)
	}
	r = e.do("PATCH", "/api/v1/rollouts/default/web", opToken, "")
	if a := r.header.Get("Allow"); a != "DELETE, GET" {
		t.Errorf("Allow %q", a)
	}
	for _, p := range []string{"/", "/api/v2/rollouts", "/api/v1/rollouts/default/web/explode", "/api/v1/rollouts/default"} {
		want(t, e.do("GET", p, opToken, ""), http.StatusNotFound, canary.ENOTFOUND)
	}
}

// TestReportBounded: a report reads at most 50,000 events and says so.
func TestReportBounded(t *testing.T) {
	e := newEnv(t)
	e.applied()
	e.api.EventsFunc = func(_ context.Context, _ string, after int64, limit int) ([]canary.Event, error) {
		evs := make([]canary.Event, limit)
		for i := range evs {
			evs[i] = canary.Event{Seq: after + int64(i) + 1, Type: canary.EvActionSucceeded}
		}
		return evs, nil
	}
	r := e.do("GET", "/api/v1/rollouts/default/web/report", viewToken, "")
	want(t, r, http.StatusOK, "")
	if !strings.HasSuffix(string(r.body), "> This report covers the first 50000 events only; the event log has them all.\n") {
		t.Errorf("report end: %q", r.body[max(0, len(r.body)-200):])
	}
}

// TestGenerationInPath: {name}@GEN reaches the API as "ns/name@GEN" on
// every rollout route (GEN normalized); a GEN that is not a whole number
// from 1 is 400 before the API is called.
func TestGenerationInPath(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"web@0", "web@x", "web@", "web@-1", "web@1@2", "web@9999999999", "@2"} {
		want(t, e.do("GET", "/api/v1/rollouts/default/"+bad, viewToken, ""), http.StatusBadRequest, canary.EINVALID)
	}
	want(t, e.do("GET", "/api/v1/rollouts/default/web/report?format=pdf", viewToken, ""), http.StatusBadRequest, canary.EINVALID)
	if calls := e.api.Calls(); len(calls) != 0 {
		t.Errorf("bad generations (or a bad report format) reached the API: %q", calls)
	}
	e.do("GET", "/api/v1/rollouts/default/web@02", viewToken, "")
	e.do("GET", "/api/v1/rollouts/default/web@2/events", viewToken, "")
	e.do("DELETE", "/api/v1/rollouts/default/web@3", opToken, "")
	got := strings.Join(e.api.Calls(), "\n")
	for _, w := range []string{"Get default/web@2", "Delete default/web@3"} {
		if !strings.Contains(got, w) {
			t.Errorf("calls lack %q:\n%s", w, got)
		}
	}
}
