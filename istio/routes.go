package istio

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
)

// GeneratedPrefix starts the names of the HTTP routes the router generates
// for a step's matches and mirror (canary-dev-match-NAME,
// canary-dev-mirror-NAME, NAME the managed route's name or index); routes
// so named are the router's and are replaced on every call.
const GeneratedPrefix = "canary-dev-"

var _ canary.RouteSetter = (*Router)(nil)

// SetRoute sets the canary's weight as SetWeight does and, before every
// managed route (Istio takes the first route that matches), generates:
//
//   - for the route's matches, a route with the managed route's matches
//     and each of the step's added (headers exact, regex or prefix; a
//     cookie as a regex on the Cookie header), sending everything to the
//     canary destination;
//   - for a mirror, a route with the managed route's matches restricted
//     to the methods GET and HEAD, the same destinations and weights, and
//     mirror (the canary destination) with mirrorPercentage.
//
// A plain route (no matches, no mirror) removes the generated routes.
func (r *Router) SetRoute(ctx context.Context, rt canary.Route) error {
	return r.obj.SetRoute(ctx, rt)
}

// generated reports whether the router generated h.
func generated(h *networking.HTTPRoute) bool {
	return strings.HasPrefix(h.Name, GeneratedPrefix)
}

// withGenerated returns all with the match and mirror routes of s before
// each of the managed routes.
func (r *Router) withGenerated(all, managed []*networking.HTTPRoute, s kube.Want) []*networking.HTTPRoute {
	if s.Remove || (len(s.Matches) == 0 && s.Mirror == 0) {
		return all
	}
	var out []*networking.HTTPRoute
	for i, h := range all {
		if !isOneOf(h, managed) {
			out = append(out, h)
			continue
		}
		id := h.Name
		if id == "" {
			id = fmt.Sprint(i)
		}
		if len(s.Matches) > 0 {
			out = append(out, r.matchRoute(h, id, s.Matches))
		}
		if m := r.mirrorRoute(h, id, s.Mirror); s.Mirror > 0 && m != nil {
			out = append(out, m)
		}
		out = append(out, h)
	}
	return out
}

func isOneOf(h *networking.HTTPRoute, l []*networking.HTTPRoute) bool {
	for _, x := range l {
		if x == h {
			return true
		}
	}
	return false
}

// matchRoute sends the requests of h that match any of ms to the canary.
func (r *Router) matchRoute(h *networking.HTTPRoute, id string, ms []canary.Match) *networking.HTTPRoute {
	g := proto.Clone(h).(*networking.HTTPRoute)
	g.Name = GeneratedPrefix + "match-" + id
	g.Match = nil
	for _, om := range baseMatches(h) {
		for _, m := range ms {
			nm := proto.Clone(om).(*networking.HTTPMatchRequest)
			name, sm := headerMatch(m)
			if nm.Headers == nil {
				nm.Headers = map[string]*networking.StringMatch{}
			}
			nm.Headers[name] = sm
			g.Match = append(g.Match, nm)
		}
	}
	d := r.canaryDestination(h.Route[r.find(h.Route, r.cfg.Traffic.Stable)], 100)
	g.Route = []*networking.HTTPRouteDestination{d}
	return g
}

// mirrorRoute is h restricted to GET and HEAD, mirroring percent of its
// requests to the canary; nil when none of h's matches can be a GET or
// HEAD.
func (r *Router) mirrorRoute(h *networking.HTTPRoute, id string, percent int) *networking.HTTPRoute {
	g := proto.Clone(h).(*networking.HTTPRoute)
	g.Name = GeneratedPrefix + "mirror-" + id
	g.Match = nil
	for _, om := range baseMatches(h) {
		switch m := om.GetMethod(); {
		case m == nil:
			nm := proto.Clone(om).(*networking.HTTPMatchRequest)
			nm.Method = &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: "GET|HEAD"}}
			g.Match = append(g.Match, nm)
		case m.GetExact() == "GET" || m.GetExact() == "HEAD":
			g.Match = append(g.Match, om)
		}
	}
	if len(g.Match) == 0 {
		return nil
	}
	stable := h.Route[r.find(h.Route, r.cfg.Traffic.Stable)].Destination
	g.Mirror = &networking.Destination{Host: r.cfg.Traffic.Canary.Host, Subset: r.cfg.Traffic.Canary.Subset,
		Port: proto.Clone(stable.GetPort()).(*networking.PortSelector)}
	if stable.GetPort() == nil {
		g.Mirror.Port = nil
	}
	g.MirrorPercentage = &networking.Percent{Value: float64(percent)}
	return g
}

// baseMatches are h's matches, or one match of everything when it has
// none.
func baseMatches(h *networking.HTTPRoute) []*networking.HTTPMatchRequest {
	if len(h.Match) > 0 {
		return h.Match
	}
	return []*networking.HTTPMatchRequest{{}}
}

// headerMatch is m as an Istio header match: its (lower-case) header name
// and value match. A cookie is a regex on the Cookie header.
func headerMatch(m canary.Match) (string, *networking.StringMatch) {
	if c := m.Cookie; c != nil {
		value := "[^;]*"
		if c.Value != "" {
			value = regexp.QuoteMeta(c.Value)
		}
		re := `^(.*;\s*)?` + regexp.QuoteMeta(c.Name) + `=` + value + `(;.*)?$`
		return "cookie", &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: re}}
	}
	h := m.Header
	name := strings.ToLower(h.Name)
	switch {
	case h.Regex != "":
		return name, &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: "^(?:" + h.Regex + ")$"}}
	case h.Prefix != "":
		return name, &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: h.Prefix}}
	}
	return name, &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: h.Exact}}
}
