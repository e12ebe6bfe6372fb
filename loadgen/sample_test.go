package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
)

// TestAgainstSample drives a sample backend and checks both sides agree
// on what happened.
func TestAgainstSample(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := sample.Start(ctx, "", sample.Config{
		ErrorRate: 0.2, Seed: 5,
		Latency: sample.LatencyDist{Median: time.Millisecond, P95: 3 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	res, err := loadgen.Run(ctx, loadgen.Config{Target: srv.URL() + "/api", Rate: 2000, MaxRequests: 300, Concurrency: 16, Users: 10})
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Service().Stats()
	if res.Requests != 300 || st.Requests != 300 {
		t.Errorf("generator finished %d, service answered %d; want 300 each", res.Requests, st.Requests)
	}
	if res.Status5xx != st.Errors || res.Status2xx != 300-st.Errors {
		t.Errorf("generator saw %d 5xx and %d 2xx, service sent %d errors of 300", res.Status5xx, res.Status2xx, st.Errors)
	}
	if st.Errors < 30 || st.Errors > 90 {
		t.Errorf("service errors = %d of 300, want about 60", st.Errors)
	}
}
