package plan

import (
	"fmt"
	"math"
	"strings"

	canary "github.com/canary-dev/canary"
)

// routes checks the steps' matches and mirrors, the strategy, and that the
// traffic provider can express them: a router's missing feature is refused
// naming the router, never emulated.
func (v *validator) routes(s *canary.Spec, path string) {
	prov := s.Traffic.Provider()
	sup, routes := canary.RouteSupportOf(prov)
	for i, st := range s.Steps {
		spath := fmt.Sprintf("%s.steps[%d]", path, i)
		headers, cookies := 0, 0
		for j, m := range st.Match {
			mpath := fmt.Sprintf("%s.match[%d]", spath, j)
			if !v.match(m, mpath) {
				continue
			}
			if m.Header != nil {
				headers++
			} else {
				cookies++
			}
			if prov != "" {
				v.matchSupported(m, mpath, prov, sup, routes)
			}
		}
		v.matchCounts(spath+".match", sup, headers, cookies)
		if len(st.Match) > 0 && s.FeatureFlag != nil {
			v.add(spath+".match", "match cannot be combined with featureFlag: the flag service does not apply the step's match, so the same users would not see the new code through both; remove featureFlag (the match decides who sees the new version) or the match")
		}
		if st.Mirror != 0 {
			v.mirror(st.Mirror, spath+".mirror", prov, sup, routes)
			if (st.Weight > 0 || len(st.Match) > 0) && hasBurnRule(s.Rules) {
				v.add(spath+".mirror", "a burnRate rule cannot be judged on a step that mixes mirrored copies with users' requests (the canary's errors could not be told apart): mirror on a step of its own (no weight or match), or remove the burnRate rule")
			}
		}
	}
	if bg := s.Strategy.BlueGreen; bg != nil {
		v.blueGreen(s, bg, path, prov, sup)
	}
	if s.Strategy.MirrorBodies != 0 {
		v.mirrorBodies(s, path+".strategy.mirrorBodies", prov, sup, routes)
	}
}

// MaxMirrorBodies is the largest strategy.mirrorBodies.
const MaxMirrorBodies = 1 << 20

// mirrorBodies checks the opt-in to mirroring requests with a body: a
// size the proxy buffers, a step that mirrors, a router that bounds it.
func (v *validator) mirrorBodies(s *canary.Spec, path, prov string, sup canary.RouteSupport, routes bool) {
	n := s.Strategy.MirrorBodies
	switch {
	case n < 0 || n > MaxMirrorBodies:
		v.add(path, "%s is too large: each mirrored body is held in memory until sent; write at most %s, e.g. 64KiB", n, canary.ByteSize(MaxMirrorBodies))
	case prov == "":
	case !routes || !sup.MirrorBodies:
		v.add(path, "%s cannot mirror only bodies up to a size (it would copy requests of every method whatever their body's size): remove mirrorBodies (GET and HEAD are mirrored), or use traffic.proxy", routerName(prov, sup, routes))
	}
	for _, st := range s.Steps {
		if st.Mirror != 0 {
			return
		}
	}
	v.add(path, "no step mirrors requests, so mirrorBodies has no effect: remove it, or add mirror to a step")
}

// match checks one match entry on its own.
func (v *validator) match(m canary.Match, path string) bool {
	switch {
	case m.Header == nil && m.Cookie == nil:
		v.add(path, "set exactly one of header or cookie, e.g. {header: {name: X-Beta, exact: \"1\"}}")
		return false
	case m.Header != nil && m.Cookie != nil:
		v.add(path+".cookie", "only one of header and cookie may be set in one entry: write a second entry (entries are alternatives)")
		return false
	case m.Cookie != nil:
		if !v.required(path+".cookie.name", m.Cookie.Name, "name the cookie, e.g. beta") {
			return false
		}
		if !isToken(m.Cookie.Name) {
			v.add(path+".cookie.name", "%q is not a cookie name: use letters, digits and -_.", m.Cookie.Name)
			return false
		}
		return true
	}
	h := m.Header
	ok := v.required(path+".header.name", h.Name, "name the header, e.g. X-Beta")
	if ok && !isToken(h.Name) {
		v.add(path+".header.name", "%q is not a header name: use letters, digits and -_.", h.Name)
		ok = false
	}
	set := present(opt{"exact", h.Exact != ""}, opt{"regex", h.Regex != ""}, opt{"prefix", h.Prefix != ""})
	if len(set) != 1 {
		v.add(path+".header", "set exactly one of exact, regex or prefix (a non-empty value), e.g. exact: \"1\"")
		return false
	}
	if _, err := canary.CompileMatch(m); err != nil {
		v.add(path+".header.regex", "%q is not a regular expression: %v (RE2 syntax, matched against the whole value)", h.Regex, unwrapRegexp(err))
		return false
	}
	return ok
}

// matchSupported refuses a match the provider cannot express.
func (v *validator) matchSupported(m canary.Match, path, prov string, sup canary.RouteSupport, routes bool) {
	k := m.Kind()
	switch {
	case !routes:
		v.add(path, "%s only sets weights: it cannot send requests to the canary by header or cookie; use traffic.proxy, gatewayAPI, istio or nginxIngress for matches (a match is never emulated)", traffic(prov))
	case !sup.Supports(k) && m.Cookie != nil && sup.Supports(canary.MatchCookieValue):
		v.add(path+".cookie.value", "%s matches a cookie only by value: write value: %s", sup.Router, orList(sup.CookieValues))
	case !sup.Supports(k):
		v.add(path, "%s cannot match %s (%s); it can match %s: change the match or the traffic provider (a match is never emulated)",
			sup.Router, kindText(k), m, orList(kindTexts(sup.Matches)))
	case m.Cookie != nil && len(sup.CookieValues) > 0 && !isOneOf(m.Cookie.Value, sup.CookieValues):
		v.add(path+".cookie.value", "%s matches a cookie only by the value %s, not %q: set the cookie to that value for the users who should see the canary",
			sup.Router, orList(sup.CookieValues), m.Cookie.Value)
	}
}

// matchCounts refuses more header or cookie entries than the router has.
func (v *validator) matchCounts(path string, sup canary.RouteSupport, headers, cookies int) {
	if sup.MaxHeaders > 0 && headers > sup.MaxHeaders {
		v.add(path, "%s can match at most %d header per step, not %d: keep one", sup.Router, sup.MaxHeaders, headers)
	}
	if sup.MaxCookies > 0 && cookies > sup.MaxCookies {
		v.add(path, "%s can match at most %d cookie per step, not %d: keep one", sup.Router, sup.MaxCookies, cookies)
	}
}

// mirror checks a step's mirror share and that the router can mirror it.
func (v *validator) mirror(m canary.Percent, path, prov string, sup canary.RouteSupport, routes bool) {
	pct := float64(m) * 100
	switch {
	case pct <= 0 || pct > 100 || math.Abs(pct-math.Round(pct)) > 1e-9:
		v.add(path, "%s is not a mirror share: write a whole percentage, 1%% to 100%%, e.g. 10%%", m)
	case prov == "":
	case !routes || !sup.Mirror:
		v.add(path, "%s cannot mirror requests: remove mirror, or use traffic.proxy, gatewayAPI or istio", routerName(prov, sup, routes))
	case !sup.MirrorPercent && math.Round(pct) != 100:
		v.add(path, "%s mirrors all requests or none: write mirror: 100%%", sup.Router)
	}
}

// blueGreen checks the blue/green strategy: no user traffic before the
// switch, mirrored traffic to judge the new version by.
func (v *validator) blueGreen(s *canary.Spec, bg *canary.BlueGreen, path, prov string, sup canary.RouteSupport) {
	bpath := path + ".strategy.blueGreen"
	v.nonNegative(bpath+".scaleDownDelay", bg.ScaleDownDelay)
	if bg.Preview != "" {
		v.hostPort(bpath+".preview", bg.Preview)
		if prov != "" && !sup.Preview {
			v.add(bpath+".preview", "%s has no preview address (only the built-in proxy serves one): remove preview", traffic(prov))
		}
	}
	for i, st := range s.Steps[:max(len(s.Steps)-1, 0)] {
		spath := fmt.Sprintf("%s.steps[%d]", path, i)
		if st.Weight != 0 {
			v.add(spath+".weight", "blue/green sends no user traffic to the new version before the switch: remove the weight (the last step, weight 100, switches)")
		}
		if len(st.Match) > 0 {
			v.add(spath+".match", "blue/green sends no user traffic to the new version before the switch: remove the match (or use the canary strategy for A/B)")
		}
		if st.Mirror == 0 {
			v.add(spath+".mirror", "required with blueGreen: without mirrored traffic nothing can judge the new version; write e.g. mirror: 100%%")
		}
	}
	if len(s.Steps) == 1 {
		v.add(path+".steps", "blue/green needs a mirrored step before the switch, e.g. [{mirror: 100%%, hold: 30m}, {weight: 100}]")
	}
}

// routerName names a provider in messages.
func routerName(prov string, sup canary.RouteSupport, routes bool) string {
	if routes {
		return sup.Router
	}
	return traffic(prov)
}

func traffic(prov string) string { return "traffic." + prov }

var kindWords = map[string]string{
	canary.MatchHeaderExact:  "a header's exact value",
	canary.MatchHeaderRegex:  "a header by regex",
	canary.MatchHeaderPrefix: "a header by prefix",
	canary.MatchCookie:       "a cookie's presence",
	canary.MatchCookieValue:  "a cookie's value",
}

func kindText(k string) string { return kindWords[k] }

func kindTexts(ks []string) []string {
	l := make([]string, len(ks))
	for i, k := range ks {
		l[i] = kindWords[k]
	}
	return l
}

// isToken reports whether s is a plausible header or cookie name.
func isToken(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}

// unwrapRegexp drops regexp's "error parsing regexp: " prefix.
func unwrapRegexp(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func hasBurnRule(rules []canary.Rule) bool {
	for _, r := range rules {
		if r.Metric == canary.MetricBurnRate {
			return true
		}
	}
	return false
}
