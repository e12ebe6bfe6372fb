package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
)

// diskFaultRollouts run at once on the faulty disk.
const diskFaultRollouts = 4

// diskFaultPlan is a compressed rollout behind its own built-in proxy
// (listen, admin), measured by the proxy (builtin metrics) on real load.
// The long maxHoldExtension keeps an outage from turning into a pause for
// lack of evidence: the test wants the same path as an uninterrupted run.
const diskFaultPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: disk}
spec:
  version: v2
  traffic: {proxy: {listen: "%s", admin: "%s", stable: "%s", canary: "%s"}}
  steps: [{weight: 10, hold: 3s}, {weight: 40, hold: 3s}, {weight: 100}]
  analysis: {interval: 500ms, minRequests: 10, maxHoldExtension: 5m}
  rules:
    - {metric: errorRate, above: 5%%, window: 2s, for: 1s, action: rollback-immediate}
`

// diskRig is a real canary serve on a state directory the test breaks,
// with rollouts behind real proxies under real load.
type diskRig struct {
	t        *testing.T
	ctx      context.Context
	dir      string // the state directory (the faulty file system)
	srv      *serveProc
	stable   string
	canary   string
	admins   map[string]string // rollout name → its proxy's admin address
	stopLoad []func()
}

func newDiskRig(t *testing.T, dir string) *diskRig {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	fast := sample.LatencyDist{Median: 2 * time.Millisecond, P95: 5 * time.Millisecond}
	stable, err := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	can, err := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	rig := &diskRig{t: t, ctx: ctx, dir: dir, stable: stable.URL(), canary: can.URL(), admins: map[string]string{}}
	t.Cleanup(func() {
		for _, stop := range rig.stopLoad {
			stop()
		}
	})
	rig.srv = startServe(t, filepath.Join(dir, "serve.db"))
	return rig
}

// apply starts rollout name with its own proxy and 80 requests a second
// through it; it returns the API's status and body.
func (r *diskRig) apply(name string) (int, string) {
	listen, admin := freeAddr(r.t), freeAddr(r.t)
	st, body := r.srv.do("POST", "/api/v1/rollouts", fmt.Appendf(nil, diskFaultPlan, name, listen, admin, r.stable, r.canary))
	if st != http.StatusCreated {
		return st, body
	}
	r.admins["disk/"+name] = admin
	gen, err := loadgen.Start(r.ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 80, Users: 500, Duration: 3 * time.Minute})
	if err != nil {
		r.t.Fatal(err)
	}
	r.stopLoad = append(r.stopLoad, func() { gen.Stop() })
	return st, body
}

// rollout is the API's view of one rollout.
type rollout struct {
	Name  string       `json:"name"`
	State canary.State `json:"state"`
}

func (r *diskRig) get(name string) (rollout, bool) {
	var ro rollout
	ok := r.srv.getJSON("/api/v1/rollouts/"+name, &ro)
	return ro, ok
}

// proxyWeight is the weight the rollout's proxy routes with now, from its
// admin /metrics (-1 when unreadable).
func (r *diskRig) proxyWeight(name string) int {
	resp, err := http.Get("http://" + r.admins[name] + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "canary_proxy_weight "); ok {
			var w float64
			if _, err := fmt.Sscan(v, &w); err == nil {
				return int(w)
			}
		}
	}
	return -1
}

// liveUpstream is the stable (live) upstream of the front door that
// rollout name holds, from GET /api/v1/services ("" when not found).
func (r *diskRig) liveUpstream(name string) string {
	var page struct {
		Items []ServiceView `json:"items"`
	}
	if !r.srv.getJSON("/api/v1/services", &page) {
		return ""
	}
	for _, s := range page.Items {
		if s.Holder == name {
			return s.Stable
		}
	}
	return ""
}

// events returns all of a rollout's events.
func (r *diskRig) events(name string) []canary.Event {
	var page struct {
		Items []canary.Event `json:"items"`
	}
	if !r.srv.getJSON("/api/v1/rollouts/"+name+"/events?limit=1000", &page) {
		r.t.Fatalf("events of %s unreadable", name)
	}
	return page.Items
}

// ready is /readyz's status and body.
func (r *diskRig) ready() (int, string) { return r.srv.do("GET", "/readyz", nil) }

// frozen is what must not move while the state cannot be saved.
type frozen struct {
	step, weight, proxy int
	seq                 int64
	phase               canary.Phase
}

func (r *diskRig) snapshot(names []string) map[string]frozen {
	out := map[string]frozen{}
	for _, n := range names {
		ro, ok := r.get(n)
		if !ok {
			r.t.Fatalf("GET %s failed during the outage", n)
		}
		out[n] = frozen{step: ro.State.Step, weight: ro.State.Weight, seq: ro.State.EventSeq, phase: ro.State.Phase,
			proxy: r.proxyWeight(n)}
	}
	return out
}

// checkOutage asserts what the API and the rollouts do while the store
// cannot be written; why is the reason the errors must give.
func (r *diskRig) checkOutage(names []string, why string) {
	t := r.t
	t.Helper()
	canarytest.WaitUntil(t, 30*time.Second, "/readyz not ready after the fault", func() bool {
		st, _ := r.ready()
		return st == http.StatusServiceUnavailable
	})
	st, body := r.ready()
	t.Logf("/readyz during the outage: %d %s", st, body)
	if !strings.Contains(body, "unavailable") {
		t.Errorf("/readyz body %s: want code unavailable and the reason", body)
	}
	// Writes: 503 with the store's reason, never 500.
	st, body = r.apply("late")
	if st != http.StatusServiceUnavailable || !strings.Contains(body, `"unavailable"`) || !strings.Contains(body, why) {
		t.Errorf("apply during the outage: %d %s; want 503 unavailable saying %q", st, body, why)
	}
	st, body = r.srv.do("POST", "/api/v1/rollouts/"+names[0]+"/pause", nil)
	if st != http.StatusServiceUnavailable || !strings.Contains(body, why) {
		t.Errorf("pause during the outage: %d %s; want 503 saying %q", st, body, why)
	}
	// Reads answer (the database is readable), and nothing moves: no step,
	// no weight at the proxy, no event, for several analysis intervals
	// and runner restarts.
	before := r.snapshot(names)
	for i := 0; i < 20; i++ {
		time.Sleep(200 * time.Millisecond)
		if !r.srv.alive() {
			t.Fatalf("canary serve exited during the outage: %v\n%s", r.srv.err, r.srv.logTail())
		}
		if st, _ := r.srv.do("GET", "/healthz", nil); st != http.StatusOK {
			t.Errorf("/healthz during the outage: %d", st)
		}
		for _, n := range names {
			if w := r.proxyWeight(n); w != before[n].proxy {
				t.Fatalf("%s: the proxy's weight moved from %d to %d while its state could not be saved", n, before[n].proxy, w)
			}
		}
	}
	after := r.snapshot(names)
	for _, n := range names {
		if after[n] != before[n] {
			t.Errorf("%s moved while its state could not be saved: %+v → %+v", n, before[n], after[n])
		}
		if before[n].proxy != before[n].weight {
			t.Errorf("%s: proxy at %d%%, state at %d%%", n, before[n].proxy, before[n].weight)
		}
	}
	var list struct {
		Items []rollout `json:"items"`
	}
	if !r.srv.getJSON("/api/v1/rollouts", &list) || len(list.Items) != len(names) {
		t.Errorf("list during the outage: %d rollouts, want %d", len(list.Items), len(names))
	}
	t.Logf("during the outage: %+v", after)
}

// finish waits for every rollout to succeed and compares each one's
// decisions with ref's, a rollout that ran with no outage.
func (r *diskRig) finish(names []string, ref string) {
	t := r.t
	t.Helper()
	for _, n := range append(slices.Clone(names), ref) {
		canarytest.WaitUntil(t, 90*time.Second, n+" succeeds after the recovery", func() bool {
			ro, _ := r.get(n)
			return ro.State.Phase == canary.PhaseSucceeded
		})
	}
	want := skeleton(r.events(ref))
	for _, n := range names {
		evs := r.events(n)
		ro, _ := r.get(n)
		if int64(len(evs)) != ro.State.EventSeq {
			t.Errorf("%s: %d events, state at seq %d: an event was lost", n, len(evs), ro.State.EventSeq)
		}
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Fatalf("%s: event %d has seq %d: a gap or a repeat", n, i+1, ev.Seq)
			}
		}
		if got := skeleton(evs); !slices.Equal(got, want) {
			t.Errorf("%s decisions across the outage:\n  %v\nwant (uninterrupted %s):\n  %v", n, got, ref, want)
		}
		// The front door outlives the rollout: after the promotion the
		// canary's upstream is its live (stable) one, at weight 0.
		if w := r.proxyWeight(n); w != 0 {
			t.Errorf("%s: proxy at %d%% after promotion, want 0 (all on the promoted upstream)", n, w)
		}
		if live := r.liveUpstream(n); live != r.canary {
			t.Errorf("%s: front door's live upstream %q after promotion, want the promoted %q", n, live, r.canary)
		}
	}
}

// skeleton is a rollout's decisions: steps started and completed, actions
// issued and their outcome, phase changes; not evaluations, whose number
// depends on timing.
func skeleton(evs []canary.Event) []string {
	var out []string
	for _, ev := range evs {
		switch ev.Type {
		case canary.EvEvaluated, canary.EvRulePending, canary.EvRuleCleared, canary.EvHoldExtended:
			continue
		}
		s := fmt.Sprintf("%s/%d", ev.Type, ev.Step)
		if ev.Action != nil {
			s += fmt.Sprintf("/%s:%d", ev.Action.Kind, ev.Action.Weight)
		}
		out = append(out, s)
	}
	return out
}

// startRollouts applies the rollouts and waits until all run at step 1.
func (r *diskRig) startRollouts() []string {
	var names []string
	for i := range diskFaultRollouts {
		n := fmt.Sprintf("r%d", i)
		if st, body := r.apply(n); st != http.StatusCreated {
			r.t.Fatalf("apply %s: %d %s", n, st, body)
		}
		names = append(names, "disk/"+n)
	}
	for _, n := range names {
		var ro rollout
		var proxy int
		deadline := time.Now().Add(30 * time.Second)
		for ro.State.Phase != canary.PhaseProgressing || ro.State.Weight != 10 || proxy != 10 {
			if time.Now().After(deadline) {
				r.t.Fatalf("%s not at step 1, 10%% within 30s: %s step %d weight %d, proxy %d\n%s", n,
					ro.State.Phase, ro.State.Step+1, ro.State.Weight, proxy, r.srv.logTail())
			}
			time.Sleep(100 * time.Millisecond)
			ro, _ = r.get(n)
			proxy = r.proxyWeight(n)
		}
	}
	return names
}

// integrityCheck runs PRAGMA integrity_check on the stopped server's
// database.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check: %q, %v", res, err)
	}
}

// TestServeDiskFull fills the state's file system under a running canary
// serve with rollouts under way: writes answer 503 saying the disk is
// full, /readyz is not ready, the rollouts stop where they are (no step,
// no weight, no event), the process stays up; once the filler is removed,
// /readyz is ready again and the rollouts finish as an uninterrupted one
// does, with no event lost and an intact database.
func TestServeDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with a real tmpfs: about 30s")
	}
	dir := mountFS(t, "-t", "tmpfs", "-o", "size=16m", "tmpfs")
	r := newDiskRig(t, dir)
	names := r.startRollouts()
	filler := canarytest.FillDisk(t, dir)
	r.checkOutage(names, "disk full")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 60*time.Second, "/readyz ready after the disk was freed", func() bool {
		st, _ := r.ready()
		return st == http.StatusOK
	})
	if st, body := r.apply("ref"); st != http.StatusCreated {
		t.Fatalf("apply after the recovery: %d %s", st, body)
	}
	r.finish(names, "disk/ref")
	if !r.srv.alive() {
		t.Fatalf("canary serve exited: %v", r.srv.err)
	}
	r.srv.stop()
	integrityCheck(t, filepath.Join(dir, "serve.db"))
}

// TestServeReadOnlyDisk makes the state's file system read-only under a
// running canary serve, as ext4 does on an I/O error (errors=remount-ro;
// triggered through ext4's trigger_fs_error). A plain `mount -o
// remount,ro` is refused (EBUSY) while the database is open for writing,
// so this is how a file system goes read-only under a live server. Writes
// answer 503 saying read-only, /readyz is not ready, rollouts stop, the
// process stays up. ext4 cannot be made writable again without an
// unmount and fsck, so recovery is what an operator does: stop the
// server, repair and remount, start it again; the rollouts then finish
// as an uninterrupted one does, and the database is intact.
func TestServeReadOnlyDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with a real ext4 file system: about 40s")
	}
	for _, tool := range []string{"mkfs.ext4", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	img := filepath.Join(mountFS(t, "-t", "tmpfs", "-o", "size=80m", "tmpfs"), "state.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	dir := mountFS(t, "-t", "ext4", "-o", "loop,errors=remount-ro", img)
	dev, err := exec.Command("findmnt", "-no", "SOURCE", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	trigger := filepath.Join("/sys/fs/ext4", filepath.Base(strings.TrimSpace(string(dev))), "trigger_fs_error")
	r := newDiskRig(t, dir)
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err == nil {
		t.Log("remount,ro succeeded under a live server")
	} else {
		t.Logf("remount,ro under a live server: %v: %s", err, strings.TrimSpace(string(out)))
	}
	names := r.startRollouts()
	if err := os.WriteFile(trigger, []byte("canary test: read-only\n"), 0o200); err != nil {
		t.Skipf("cannot trigger an ext4 error: %v", err)
	}
	// SQLite reports a write refused with EROFS as an I/O error
	// (SQLITE_IOERR_WRITE), without the errno; the store then checks the
	// file system and says it is read-only.
	r.checkOutage(names, "read-only")
	// The operator's recovery: stop, repair, remount, start.
	r.srv.stop()
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	if out, err := exec.Command("e2fsck", "-fy", img).CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() > 1 { // 1: errors corrected
			t.Fatalf("e2fsck: %v: %s", err, out)
		}
	}
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,errors=remount-ro", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount after repair: %v: %s", err, out)
	}
	r.srv = startServe(t, filepath.Join(dir, "serve.db"))
	canarytest.WaitUntil(t, 30*time.Second, "/readyz ready after the repair", func() bool {
		st, _ := r.ready()
		return st == http.StatusOK
	})
	if st, body := r.apply("ref"); st != http.StatusCreated {
		t.Fatalf("apply after the recovery: %d %s", st, body)
	}
	r.finish(names, "disk/ref")
	r.srv.stop()
	integrityCheck(t, filepath.Join(dir, "serve.db"))
}
