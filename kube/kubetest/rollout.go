package kubetest

import (
	"context"
	"strconv"
	"sync"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// Service describes the service a test rollout measures: requests per
// second over both tracks, and the canary's error ratio and P95 latency
// (the stable's are 0.1% and 200ms).
type Service struct {
	RPS           float64
	CanaryErrors  float64
	CanaryLatency float64 // seconds
}

// Metrics measures Service s with the canary's share of requests read from
// the cluster by weight (for instance an HTTPRoute's backendRef weight), so
// the traffic the analysis sees is the traffic the router really set. A
// failing read (the API server is down) is a failed measurement.
func Metrics(s Service, weight func(context.Context) (int, error)) canarytest.Metrics {
	return func(q canary.Query) (canary.Measurement, error) {
		w, err := weight(context.Background())
		if err != nil {
			return canary.Measurement{}, err
		}
		share, errRate, lat := float64(w)/100, s.CanaryErrors, s.CanaryLatency
		if q.Track == canary.TrackStable {
			share, errRate, lat = 1-share, 0.001, 0.2
		}
		n := int64(s.RPS * share * q.Window.Seconds())
		if n == 0 {
			return canary.Measurement{NoData: true}, nil
		}
		v := lat
		switch q.Metric {
		case canary.MetricErrorRate:
			v = errRate
		case canary.MetricRequestRate:
			v = s.RPS * share
		}
		return canary.Measurement{Value: v, Samples: n}, nil
	}
}

// Router wraps a TrafficRouter to watch each call: Before runs before it
// (with "w5", "promote" or "removeCanary"), After runs after it with its
// error. Log lists the calls that succeeded.
type Router struct {
	Inner  canary.TrafficRouter
	Before func(action string)
	After  func(action string, err error)

	mu  sync.Mutex
	log []string
}

var _ canary.TrafficRouter = (*Router)(nil)

func (r *Router) call(ctx context.Context, action string, f func(context.Context) error) error {
	if r.Before != nil {
		r.Before(action)
	}
	err := f(ctx)
	if r.After != nil {
		r.After(action, err)
	}
	if err == nil {
		r.mu.Lock()
		r.log = append(r.log, action)
		r.mu.Unlock()
	}
	return err
}

// SetWeight calls Inner.SetWeight.
func (r *Router) SetWeight(ctx context.Context, w int) error {
	return r.call(ctx, "w"+strconv.Itoa(w), func(c context.Context) error { return r.Inner.SetWeight(c, w) })
}

// Promote calls Inner.Promote.
func (r *Router) Promote(ctx context.Context) error { return r.call(ctx, "promote", r.Inner.Promote) }

// RemoveCanary calls Inner.RemoveCanary.
func (r *Router) RemoveCanary(ctx context.Context) error {
	return r.call(ctx, "removeCanary", r.Inner.RemoveCanary)
}

// Log returns the calls that succeeded, in order.
func (r *Router) Log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// RouteRouter is a Router that also passes SetRoute on (canary.ApplyRoute
// on Inner), so a plan's matches and mirror reach the router it wraps. A
// plain route is logged as SetWeight is ("w10"), another as "route " and
// the route ("route 0% + header X-Beta=1 + mirror 10%").
type RouteRouter struct {
	Router
}

var _ canary.RouteSetter = (*RouteRouter)(nil)

// SetRoute calls canary.ApplyRoute on Inner.
func (r *RouteRouter) SetRoute(ctx context.Context, rt canary.Route) error {
	action := "route " + rt.String()
	if rt.Plain() {
		action = "w" + strconv.Itoa(rt.Weight)
	}
	return r.call(ctx, action, func(c context.Context) error { return canary.ApplyRoute(c, r.Inner, rt) })
}
