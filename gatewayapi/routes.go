package gatewayapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GeneratedPrefix starts the names of the rules the router generates for a
// route's matches and mirror (canary-dev-match-N, canary-dev-mirror-N, N
// the index of the rule they come from); rules so named are the router's
// and are replaced on every call.
const GeneratedPrefix = "canary-dev-"

// maxMatches is the Gateway API's limit of matches in one rule.
const maxMatches = 64

var _ canary.RouteSetter = (*Router)(nil)

// SetRoute sets the canary's weight as SetWeight does and, for every rule
// that sends traffic to the stable Service, generates beside it (before
// it, named GeneratedPrefix...):
//
//   - for the route's matches, a rule with the original rule's matches
//     and each header match added, sending everything to the canary
//     Service (a request matching any one goes to the canary whatever the
//     weight): an HTTPRouteMatch with more headers is more specific, so
//     it wins over the original rule;
//   - for a mirror, a rule with the original's matches restricted to the
//     methods GET and HEAD, the same backendRefs and weights, and a
//     RequestMirror filter to the canary Service with percent (Gateway
//     API v1.6 standard). With both, the match rule gets the same method
//     matches too, so a matching GET still reaches the canary (a method
//     match outranks header matches).
//
// A plain route (no matches, no mirror) removes the generated rules.
// Cookie and header prefix matches are not in the Gateway API standard:
// they are refused (validation refuses such plans first), never emulated.
func (r *Router) SetRoute(ctx context.Context, rt canary.Route) error {
	for _, m := range rt.Matches {
		if _, err := headerMatch(m); err != nil {
			return fmt.Errorf("set route %s on route %s: %w", rt, r.cfg.Traffic.HTTPRoute, err)
		}
	}
	return r.obj.SetRoute(ctx, rt)
}

// headerMatch is m as a Gateway API header match.
func headerMatch(m canary.Match) (gatewayv1.HTTPHeaderMatch, error) {
	h := m.Header
	switch {
	case h == nil:
		return gatewayv1.HTTPHeaderMatch{}, fmt.Errorf("gateway API (standard) cannot match %s: no cookie matches", m)
	case h.Prefix != "":
		return gatewayv1.HTTPHeaderMatch{}, fmt.Errorf("gateway API (standard) cannot match %s: no header prefix matches", m)
	case h.Regex != "":
		t := gatewayv1.HeaderMatchRegularExpression
		return gatewayv1.HTTPHeaderMatch{Type: &t, Name: gatewayv1.HTTPHeaderName(h.Name), Value: "^(?:" + h.Regex + ")$"}, nil
	}
	t := gatewayv1.HeaderMatchExact
	return gatewayv1.HTTPHeaderMatch{Type: &t, Name: gatewayv1.HTTPHeaderName(h.Name), Value: h.Exact}, nil
}

// generated reports whether the router generated rule.
func generated(rule gatewayv1.HTTPRouteRule) bool {
	return rule.Name != nil && strings.HasPrefix(string(*rule.Name), GeneratedPrefix)
}

// withoutGenerated drops the rules the router generated.
func withoutGenerated(rules []gatewayv1.HTTPRouteRule) []gatewayv1.HTTPRouteRule {
	out := rules[:0:0]
	for _, rule := range rules {
		if !generated(rule) {
			out = append(out, rule)
		}
	}
	return out
}

// withGenerated returns rt's rules with the match and mirror rules of s
// before each rule to the stable Service.
func (r *Router) withGenerated(rt *gatewayv1.HTTPRoute, s kube.Want) []gatewayv1.HTTPRouteRule {
	if s.Remove || (len(s.Matches) == 0 && s.Mirror == 0) {
		return rt.Spec.Rules
	}
	var out []gatewayv1.HTTPRouteRule
	for i, rule := range rt.Spec.Rules {
		si := r.find(rt, rule.BackendRefs, r.cfg.Traffic.StableService)
		if si >= 0 && len(s.Matches) > 0 {
			out = append(out, r.matchRule(rule, si, i, s))
		}
		if si >= 0 && s.Mirror > 0 {
			if m, ok := r.mirrorRule(rule, si, i, s.Mirror); ok {
				out = append(out, m)
			}
		}
		out = append(out, rule)
	}
	return out
}

// matchRule sends the requests of rule that match any of s's matches to
// the canary Service.
func (r *Router) matchRule(rule gatewayv1.HTTPRouteRule, si, i int, s kube.Want) gatewayv1.HTTPRouteRule {
	g := *rule.DeepCopy()
	g.Name = sectionName(fmt.Sprintf("%smatch-%d", GeneratedPrefix, i))
	g.BackendRefs = []gatewayv1.HTTPBackendRef{r.canaryRef(rule.BackendRefs[si], 1)}
	g.Matches = nil
	for _, om := range baseMatches(rule) {
		for _, m := range s.Matches {
			hm, _ := headerMatch(m) // checked by SetRoute
			nm := *om.DeepCopy()
			nm.Headers = append(nm.Headers, hm)
			if s.Mirror > 0 && nm.Method == nil {
				g.Matches = append(g.Matches, withMethods(nm)...)
			}
			g.Matches = append(g.Matches, nm)
		}
	}
	return g
}

// mirrorRule is rule restricted to GET and HEAD with a RequestMirror
// filter to the canary Service; ok is false when none of rule's matches
// can be a GET or HEAD.
func (r *Router) mirrorRule(rule gatewayv1.HTTPRouteRule, si, i, percent int) (gatewayv1.HTTPRouteRule, bool) {
	g := *rule.DeepCopy()
	g.Name = sectionName(fmt.Sprintf("%smirror-%d", GeneratedPrefix, i))
	g.Matches = nil
	for _, om := range baseMatches(rule) {
		switch {
		case om.Method == nil:
			g.Matches = append(g.Matches, withMethods(om)...)
		case *om.Method == gatewayv1.HTTPMethodGet || *om.Method == gatewayv1.HTTPMethodHead:
			g.Matches = append(g.Matches, om)
		}
	}
	if len(g.Matches) == 0 {
		return g, false
	}
	ref := r.canaryRef(rule.BackendRefs[si], 0).BackendObjectReference
	p := int32(percent)
	g.Filters = append(g.Filters, gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestMirror,
		RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: ref, Percent: &p}})
	return g, true
}

// baseMatches are rule's matches, or the one match of everything (a
// prefix match on /) when it has none.
func baseMatches(rule gatewayv1.HTTPRouteRule) []gatewayv1.HTTPRouteMatch {
	if len(rule.Matches) > 0 {
		return rule.Matches
	}
	t, v := gatewayv1.PathMatchPathPrefix, "/"
	return []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &t, Value: &v}}}
}

// withMethods is m for GET and for HEAD.
func withMethods(m gatewayv1.HTTPRouteMatch) []gatewayv1.HTTPRouteMatch {
	var out []gatewayv1.HTTPRouteMatch
	for _, method := range []gatewayv1.HTTPMethod{gatewayv1.HTTPMethodGet, gatewayv1.HTTPMethodHead} {
		c := *m.DeepCopy()
		c.Method = &method
		out = append(out, c)
	}
	return out
}

func sectionName(s string) *gatewayv1.SectionName {
	n := gatewayv1.SectionName(s)
	return &n
}

// checkGenerated fails when a generated rule has more matches than the
// Gateway API allows.
func checkGenerated(rules []gatewayv1.HTTPRouteRule) error {
	for _, rule := range rules {
		if generated(rule) && len(rule.Matches) > maxMatches {
			return fmt.Errorf("rule %s would have %d matches, over the Gateway API's %d: use fewer matches in the step or fewer matches in the rule",
				*rule.Name, len(rule.Matches), maxMatches)
		}
	}
	return nil
}
