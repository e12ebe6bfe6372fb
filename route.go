package canary

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Match selects requests that go to the canary whatever its weight (A/B
// testing: internal users, a beta header). Exactly one of Header and
// Cookie. A step's matches are alternatives: a request matching any one
// of them goes to the canary.
type Match struct {
	// Header matches a request header.
	Header *HeaderMatch `json:"header,omitempty"`
	// Cookie matches a cookie of the request's Cookie header.
	Cookie *CookieMatch `json:"cookie,omitempty"`
}

// HeaderMatch matches a request header by name (case-insensitive) and
// value: exactly one of exact, regex and prefix.
type HeaderMatch struct {
	// Name of the header, e.g. X-Canary. Required.
	Name string `json:"name"`
	// Exact matches a value equal to this one.
	Exact string `json:"exact,omitempty"`
	// Regex matches a value this RE2 regular expression matches (anchored
	// at both ends: ^(?:regex)$).
	Regex string `json:"regex,omitempty"`
	// Prefix matches a value that starts with this one.
	Prefix string `json:"prefix,omitempty"`
}

// CookieMatch matches a cookie by name and, when Value is set, value.
type CookieMatch struct {
	// Name of the cookie, e.g. beta. Required.
	Name string `json:"name"`
	// Value the cookie must have. Default: none, any request carrying
	// the cookie matches.
	Value string `json:"value,omitempty"`
}

// String is a short human form: "header X-Canary=yes", "cookie beta".
func (m Match) String() string {
	switch {
	case m.Header != nil:
		h := m.Header
		switch {
		case h.Regex != "":
			return fmt.Sprintf("header %s~/%s/", h.Name, h.Regex)
		case h.Prefix != "":
			return fmt.Sprintf("header %s=%s*", h.Name, h.Prefix)
		}
		return fmt.Sprintf("header %s=%s", h.Name, h.Exact)
	case m.Cookie != nil:
		if m.Cookie.Value == "" {
			return "cookie " + m.Cookie.Name
		}
		return fmt.Sprintf("cookie %s=%s", m.Cookie.Name, m.Cookie.Value)
	}
	return "nothing"
}

// Kind names what the match tests, as RouteSupport does: headerExact,
// headerRegex, headerPrefix, cookie or cookieValue.
func (m Match) Kind() string {
	switch {
	case m.Header != nil && m.Header.Regex != "":
		return MatchHeaderRegex
	case m.Header != nil && m.Header.Prefix != "":
		return MatchHeaderPrefix
	case m.Header != nil:
		return MatchHeaderExact
	case m.Cookie != nil && m.Cookie.Value != "":
		return MatchCookieValue
	}
	return MatchCookie
}

// The kinds of match, as Match.Kind names them.
const (
	MatchHeaderExact  = "headerExact"
	MatchHeaderRegex  = "headerRegex"
	MatchHeaderPrefix = "headerPrefix"
	MatchCookie       = "cookie"      // the cookie is present
	MatchCookieValue  = "cookieValue" // the cookie has a value
)

// Route is where the engine wants traffic at one moment, absolutely: the
// canary's weight, the requests sent to it whatever the weight, and the
// share of the stable's requests copied to it. A route with no matches and
// no mirror is a plain weight.
type Route struct {
	// Weight is the canary's share of traffic in percent, 0 to 100.
	Weight int `json:"weight"`
	// Matches send matching requests to the canary (any one matching).
	Matches []Match `json:"matches,omitempty"`
	// MirrorPercent is the share of the stable's requests (GET and HEAD
	// only, unless the built-in proxy is configured to copy bodies up to
	// strategy.mirrorBodies) copied to the canary, 0 to 100; the copies'
	// responses are discarded.
	MirrorPercent int `json:"mirrorPercent,omitempty"`
}

// Plain reports whether the route is only a weight (a router without
// SetRoute can set it).
func (r Route) Plain() bool { return len(r.Matches) == 0 && r.MirrorPercent == 0 }

// String is "25%", "0% + header X-Beta=1 + mirror 10%".
func (r Route) String() string {
	s := fmt.Sprintf("%d%%", r.Weight)
	for _, m := range r.Matches {
		s += " + " + m.String()
	}
	if r.MirrorPercent > 0 {
		s += fmt.Sprintf(" + mirror %d%%", r.MirrorPercent)
	}
	return s
}

// RouteSetter is implemented by routers that can route by request (matches)
// and mirror. SetRoute is absolute and idempotent like SetWeight: it
// replaces the previous route's weight, matches and mirror.
type RouteSetter interface {
	SetRoute(ctx context.Context, r Route) error
}

// RouteSupport is what a traffic provider can express beyond weights.
// Validation refuses a plan that needs more, naming the router: a match a
// router cannot express is never emulated.
type RouteSupport struct {
	// Router names the provider in messages, e.g. "the built-in proxy".
	Router string
	// Matches lists the match kinds it expresses (MatchHeaderExact, ...).
	Matches []string
	// CookieValues, when set, are the only cookie values it can match
	// (NGINX Ingress's canary-by-cookie: "always").
	CookieValues []string
	// MaxHeaders and MaxCookies bound the matches of one step (0: any).
	MaxHeaders, MaxCookies int
	// Mirror says it can copy requests to the canary; MirrorPercent that
	// it can copy a share below 100%.
	Mirror, MirrorPercent bool
	// MirrorBodies says it can mirror requests with a body up to a stated
	// size (strategy.mirrorBodies), refusing larger ones.
	MirrorBodies bool
	// Preview says it can serve a blue/green preview address.
	Preview bool
}

// Supports reports whether the router expresses match kind k.
func (s RouteSupport) Supports(k string) bool {
	for _, m := range s.Matches {
		if m == k {
			return true
		}
	}
	return false
}

// routeSupport is every provider's support, by Traffic.Provider name.
// Providers not listed (helm, replicas) only set weights.
var routeSupport = map[string]RouteSupport{
	"proxy": {Router: "the built-in proxy (traffic.proxy)", Mirror: true, MirrorPercent: true, MirrorBodies: true, Preview: true,
		Matches: []string{MatchHeaderExact, MatchHeaderRegex, MatchHeaderPrefix, MatchCookie, MatchCookieValue}},
	// Gateway API v1.6 standard channel: HTTPRouteMatch headers Exact and
	// RegularExpression, no cookie match; RequestMirror with percent.
	"gatewayAPI": {Router: "Gateway API (traffic.gatewayAPI)", Mirror: true, MirrorPercent: true,
		Matches: []string{MatchHeaderExact, MatchHeaderRegex}},
	"istio": {Router: "Istio (traffic.istio)", Mirror: true, MirrorPercent: true,
		Matches: []string{MatchHeaderExact, MatchHeaderRegex, MatchHeaderPrefix, MatchCookie, MatchCookieValue}},
	// NGINX Ingress canary annotations: canary-by-header with
	// canary-by-header-value (exact) or canary-by-header-pattern (regex),
	// and canary-by-cookie ("always"); one of each; no mirroring through a
	// canary Ingress.
	"nginxIngress": {Router: "NGINX Ingress (traffic.nginxIngress)", MaxHeaders: 1, MaxCookies: 1,
		Matches: []string{MatchHeaderExact, MatchHeaderRegex, MatchCookieValue}, CookieValues: []string{"always"}},
}

// RouteSupportOf returns the provider's support; ok is false for a provider
// that only sets weights.
func RouteSupportOf(provider string) (s RouteSupport, ok bool) {
	s, ok = routeSupport[provider]
	if !ok {
		s.Router = provider
	}
	return s, ok
}

// MatchRequest reports whether a request with header values h (canonical
// or not) and cookie values c matches m. re is m.Header.Regex compiled
// anchored (CompileMatch), or nil.
func MatchRequest(m Match, re *regexp.Regexp, header func(string) (string, bool), cookie func(string) (string, bool)) bool {
	if h := m.Header; h != nil {
		v, ok := header(h.Name)
		switch {
		case !ok:
			return false
		case re != nil:
			return re.MatchString(v)
		case h.Prefix != "":
			return strings.HasPrefix(v, h.Prefix)
		}
		return v == h.Exact
	}
	if c := m.Cookie; c != nil {
		v, ok := cookie(c.Name)
		return ok && (c.Value == "" || v == c.Value)
	}
	return false
}

// CompileMatch compiles a header match's regex anchored at both ends; nil
// for other matches.
func CompileMatch(m Match) (*regexp.Regexp, error) {
	if m.Header == nil || m.Header.Regex == "" {
		return nil, nil
	}
	return regexp.Compile("^(?:" + m.Header.Regex + ")$")
}

// StepRoute is step s's route, its mirror in whole percent.
func StepRoute(s Step) Route {
	return Route{Weight: s.Weight, Matches: s.Match, MirrorPercent: int(math.Round(float64(s.Mirror) * 100))}
}

// UsesRoutes reports whether the plan needs SetRoute (a step with a match
// or a mirror, or the blue/green strategy): its every weight is then set
// as a Route, so a later plain step clears the earlier matches.
func (p *Plan) UsesRoutes() bool {
	if p.Spec.Strategy.BlueGreen != nil {
		return true
	}
	for _, s := range p.Spec.Steps {
		if len(s.Match) > 0 || s.Mirror > 0 {
			return true
		}
	}
	return false
}

// ApplyRoute sets route on r: with SetRoute when r has it, else with
// SetWeight when the route is a plain weight; a route r cannot express is
// an error (validation refuses such plans, naming the router).
func ApplyRoute(ctx context.Context, r TrafficRouter, route Route) error {
	if rs, ok := r.(RouteSetter); ok {
		return rs.SetRoute(ctx, route)
	}
	if route.Plain() {
		return r.SetWeight(ctx, route.Weight)
	}
	return Errorf(EINVALID, "set route %s: this traffic router sets only weights (it cannot match requests or mirror them)", route)
}
