package nginxingress

import (
	"context"
	"fmt"

	"github.com/canary-dev/canary"
)

// The annotations of a canary Ingress that route by request; each takes
// precedence over canary-weight for the requests it matches.
const (
	// AnnotationByHeader names the header; with no value or pattern, the
	// value "always" routes to the canary and "never" away from it.
	AnnotationByHeader = "nginx.ingress.kubernetes.io/canary-by-header"
	// AnnotationByHeaderValue is the header's exact value that routes to
	// the canary.
	AnnotationByHeaderValue = "nginx.ingress.kubernetes.io/canary-by-header-value"
	// AnnotationByHeaderPattern is a regular expression of the header's
	// value that routes to the canary.
	AnnotationByHeaderPattern = "nginx.ingress.kubernetes.io/canary-by-header-pattern"
	// AnnotationByCookie names a cookie whose value "always" routes to the
	// canary ("never" away from it).
	AnnotationByCookie = "nginx.ingress.kubernetes.io/canary-by-cookie"
)

// matchAnnotations are every annotation SetRoute sets or removes.
var matchAnnotations = []string{AnnotationByHeader, AnnotationByHeaderValue, AnnotationByHeaderPattern, AnnotationByCookie}

var _ canary.RouteSetter = (*Router)(nil)

// SetRoute sets the canary's weight as SetWeight does and the step's
// matches as annotations: at most one header match (an exact value as
// canary-by-header-value, a regex as canary-by-header-pattern anchored at
// both ends) and one cookie match (the value "always"). A header prefix, a
// cookie with another value or a mirror cannot be expressed with a canary
// Ingress and are refused (validation refuses such plans first), never
// emulated.
func (r *Router) SetRoute(ctx context.Context, rt canary.Route) error {
	if err := expressible(rt); err != nil {
		return fmt.Errorf("set route %s on canary ingress %s: %w", rt, r.cfg.Traffic.CanaryIngress, err)
	}
	return r.obj.SetRoute(ctx, rt)
}

// expressible fails for what a canary Ingress cannot do.
func expressible(rt canary.Route) error {
	headers, cookies := 0, 0
	for _, m := range rt.Matches {
		switch {
		case m.Header != nil && m.Header.Prefix != "":
			return fmt.Errorf("NGINX Ingress cannot match %s: no header prefix matches", m)
		case m.Header != nil:
			headers++
		case m.Cookie.Value != "always":
			return fmt.Errorf("NGINX Ingress cannot match %s: canary-by-cookie routes only the value always", m)
		default:
			cookies++
		}
	}
	switch {
	case headers > 1 || cookies > 1:
		return fmt.Errorf("NGINX Ingress matches at most one header and one cookie, not %d and %d", headers, cookies)
	case rt.MirrorPercent > 0:
		return fmt.Errorf("NGINX Ingress cannot mirror requests through a canary Ingress")
	}
	return nil
}

// matchAnnotationsOf are the annotations of ms (expressible).
func matchAnnotationsOf(ms []canary.Match) map[string]string {
	a := map[string]string{}
	for _, m := range ms {
		if c := m.Cookie; c != nil {
			a[AnnotationByCookie] = c.Name
			continue
		}
		h := m.Header
		a[AnnotationByHeader] = h.Name
		if h.Regex != "" {
			a[AnnotationByHeaderPattern] = "^(?:" + h.Regex + ")$"
		} else {
			a[AnnotationByHeaderValue] = h.Exact
		}
	}
	return a
}
