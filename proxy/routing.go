package proxy

import (
	"net/url"

	"github.com/canary-dev/canary"
)

// Routing returns the stable and canary upstream URLs and the weight.
func (p *Proxy) Routing() (stable, canaryURL string, weight int) {
	rt := p.route.Load()
	return rt.stable.url.String(), rt.canary.url.String(), rt.weight
}

// SetRouting replaces both upstreams and the weight at once, for a front
// door that outlives a rollout: the next rollout brings its own canary,
// and a restart restores what was served. An upstream whose URL does not
// change keeps its connection pool; requests in flight finish where they
// were sent.
func (p *Proxy) SetRouting(stable, canaryURL string, weight int) error {
	su, err := parseUpstream("stable", stable)
	if err != nil {
		return err
	}
	cu, err := parseUpstream("canary", canaryURL)
	if err != nil {
		return err
	}
	if weight < 0 || weight > 100 {
		return canary.Errorf(canary.EINVALID, "set weight %d%%: want 0 to 100", weight)
	}
	for {
		old := p.route.Load()
		next := &routing{weight: weight}
		next.stable = p.reuse(canary.TrackStable, su, old)
		if sameOrigin(su, cu) {
			next.canary = p.newUpstream(canary.TrackCanary, cu, next.stable.pool)
		} else {
			next.canary = p.reuse(canary.TrackCanary, cu, old)
		}
		next.preview = p.previewOf(next.canary)
		if p.route.CompareAndSwap(old, next) {
			for _, up := range []*upstream{old.stable, old.canary} {
				if up.pool != next.stable.pool && up.pool != next.canary.pool {
					up.pool.closeIdle() // an upstream no longer routed to
				}
			}
			p.log.Info("proxy routing set", "stable", su.Redacted(), "canary", cu.Redacted(), "weight", weight)
			return nil
		}
	}
}

// reuse returns track's upstream for target, sharing the pool of an
// upstream of old with the same origin.
func (p *Proxy) reuse(track canary.Track, target *url.URL, old *routing) *upstream {
	for _, up := range []*upstream{old.stable, old.canary} {
		if sameOrigin(up.url, target) {
			return p.newUpstream(track, target, up.pool)
		}
	}
	return p.newUpstream(track, target, nil)
}
