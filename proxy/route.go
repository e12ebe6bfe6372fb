package proxy

import (
	"context"
	"net/http"
	"regexp"

	"github.com/canary-dev/canary"

	"github.com/valyala/fasthttp"
)

var _ canary.RouteSetter = (*Proxy)(nil)

// trackPreview names the blue/green preview's upstream: it serves the
// canary's URL but is not a track the recorder counts, so a person trying
// the preview is never evidence about the new version.
const trackPreview canary.Track = "preview"

// MirrorHeader is set to "1" on every mirrored copy sent to the canary,
// so the new version can tell copies from users' requests.
const MirrorHeader = "X-Canary-Mirrored"

// matcher is one compiled canary.Match.
type matcher struct {
	header string // canonical header name, or ""
	cookie string // cookie name, or ""
	m      canary.Match
	re     *regexp.Regexp
}

// matchAny reports whether the request matches one of ms. It does not
// allocate.
func matchAny(ms []matcher, h *fasthttp.RequestHeader) bool {
	for i := range ms {
		m := &ms[i]
		if m.header != "" {
			v := h.Peek(m.header)
			if len(v) == 0 {
				continue
			}
			hm := m.m.Header
			switch {
			case m.re != nil:
				if m.re.Match(v) {
					return true
				}
			case hm.Prefix != "":
				if len(v) >= len(hm.Prefix) && string(v[:len(hm.Prefix)]) == hm.Prefix {
					return true
				}
			case string(v) == hm.Exact:
				return true
			}
			continue
		}
		v := cookieValue(h.PeekAll(fasthttp.HeaderCookie), m.cookie)
		if v != nil && (m.m.Cookie.Value == "" || string(v) == m.m.Cookie.Value) {
			return true
		}
	}
	return false
}

// compileMatches compiles a route's matches.
func compileMatches(list []canary.Match) ([]matcher, error) {
	var ms []matcher
	for _, m := range list {
		re, err := canary.CompileMatch(m)
		if err != nil {
			return nil, canary.Errorf(canary.EINVALID, "match %s: %v", m, err)
		}
		c := matcher{m: m, re: re}
		switch {
		case m.Header != nil && m.Header.Name != "":
			c.header = http.CanonicalHeaderKey(m.Header.Name)
		case m.Cookie != nil && m.Cookie.Name != "":
			c.cookie = m.Cookie.Name
		default:
			return nil, canary.Errorf(canary.EINVALID, "match %s: want a header or a cookie with a name", m)
		}
		ms = append(ms, c)
	}
	return ms, nil
}

// Route returns the current route.
func (p *Proxy) Route() canary.Route {
	rt := p.route.Load()
	r := canary.Route{Weight: rt.weight, MirrorPercent: rt.mirror}
	for _, m := range rt.matches {
		r.Matches = append(r.Matches, m.m)
	}
	return r
}

// SetRoute sets the canary's weight, the requests it gets whatever the
// weight (matching any of r.Matches) and the share of the stable's GET
// and HEAD requests copied to it, all at once: a request sees the old
// route or the new one, never a mix, and requests in flight finish where
// they were sent. Setting the current route is a no-op.
func (p *Proxy) SetRoute(_ context.Context, r canary.Route) error {
	if r.Weight < 0 || r.Weight > 100 || r.MirrorPercent < 0 || r.MirrorPercent > 100 {
		return canary.Errorf(canary.EINVALID, "set route %s: want a weight and a mirror of 0 to 100%%", r)
	}
	ms, err := compileMatches(r.Matches)
	if err != nil {
		return err
	}
	desc := r.String()
	for {
		old := p.route.Load()
		if old.desc() == desc {
			return nil
		}
		next := *old
		next.weight, next.matches, next.mirror = r.Weight, ms, r.MirrorPercent
		if p.route.CompareAndSwap(old, &next) {
			p.log.Info("canary route set", "from", old.desc(), "to", desc)
			return nil
		}
	}
}

// desc is the routing's route as Route.String writes it.
func (rt *routing) desc() string {
	r := canary.Route{Weight: rt.weight, MirrorPercent: rt.mirror}
	for _, m := range rt.matches {
		r.Matches = append(r.Matches, m.m)
	}
	return r.String()
}
