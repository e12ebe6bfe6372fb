package operator

import (
	"slices"
	"testing"
	"time"

	"github.com/canary-dev/canary/notify"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEligible: a rollout's PagerDuty messages to one audience go one at
// a time (the resolve waits for its trigger); other channels and other
// audiences are not held up; nextDue ignores the waiting ones.
func TestEligible(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	later := &metav1.Time{Time: now.Add(time.Minute)}
	ns := []Notification{
		{Message: notify.Message{Audience: "oncall", Channel: notify.ChannelPagerDuty, Action: notify.ActionTrigger}, NextAttempt: later},
		{Message: notify.Message{Audience: "oncall", Channel: notify.ChannelPagerDuty, Action: notify.ActionResolve}},
		{Message: notify.Message{Audience: "ops", Channel: notify.ChannelWebhook}, NextAttempt: later},
		{Message: notify.Message{Audience: "sre", Channel: notify.ChannelPagerDuty, Action: notify.ActionTrigger}, NextAttempt: later},
	}
	if got, want := eligible(ns), []int{0, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("eligible = %v, want %v", got, want)
	}
	// The resolve is due now but waits for the trigger, due in a minute.
	if got := nextDue(ns, now); !got.Equal(later.Time) {
		t.Errorf("nextDue = %s, want %s", got, later.Time)
	}
	if got := nextDue(nil, now); !got.IsZero() {
		t.Errorf("nextDue(nil) = %s, want zero", got)
	}
}

func TestBackoff(t *testing.T) {
	r := &Reconciler{cfg: Config{NotifyBackoffBase: 2 * time.Second, NotifyBackoffMax: 5 * time.Minute}}
	tests := []struct {
		n        int
		floor    time.Duration
		min, max time.Duration
	}{
		{1, 0, time.Second, 2 * time.Second},
		{3, 0, 4 * time.Second, 8 * time.Second},
		{40, 0, 150 * time.Second, 5 * time.Minute},               // capped, no overflow
		{1, 30 * time.Second, 30 * time.Second, 30 * time.Second}, // Retry-After is a minimum
	}
	for _, tt := range tests {
		for range 20 {
			if got := r.backoff(tt.n, tt.floor); got < tt.min || got > tt.max {
				t.Errorf("backoff(%d, %s) = %s, want within [%s, %s]", tt.n, tt.floor, got, tt.min, tt.max)
			}
		}
	}
}
