package gatewayapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/gatewayapi"

	"k8s.io/apimachinery/pkg/api/equality"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// rules shows every rule of rt on a line: name, matches, backendRefs and
// mirror filters, e.g. "canary-dev-match-1 [/ X-Beta=1] -> recoveryos-canary:80=1".
func rules(rt *gatewayv1.HTTPRoute) []string {
	var out []string
	for _, rule := range rt.Spec.Rules {
		name := "-"
		if rule.Name != nil {
			name = string(*rule.Name)
		}
		var ms []string
		for _, m := range rule.Matches {
			s := *m.Path.Value
			if m.Method != nil {
				s = string(*m.Method) + " " + s
			}
			for _, h := range m.Headers {
				op := "="
				if *h.Type == gatewayv1.HeaderMatchRegularExpression {
					op = "~"
				}
				s += fmt.Sprintf(" %s%s%s", h.Name, op, h.Value)
			}
			ms = append(ms, s)
		}
		var bs []string
		for _, b := range rule.BackendRefs {
			w := "nil"
			if b.Weight != nil {
				w = fmt.Sprint(*b.Weight)
			}
			bs = append(bs, fmt.Sprintf("%s:%d=%s", b.Name, *b.Port, w))
		}
		line := fmt.Sprintf("%s [%s] -> %s", name, strings.Join(ms, ", "), strings.Join(bs, " "))
		for _, f := range rule.Filters {
			if f.RequestMirror != nil {
				line += fmt.Sprintf(" mirror %s:%d %d%%", f.RequestMirror.BackendRef.Name, *f.RequestMirror.BackendRef.Port, *f.RequestMirror.Percent)
			}
		}
		out = append(out, line)
	}
	return out
}

// TestSetRoute: matches and mirrors become rules of their own beside the
// main rule, exactly as expected at every step (the API server's CRD
// validation accepts them), a replay writes nothing, and a plain weight
// (a rollback) or RemoveCanary removes them, leaving the route as it was.
func TestSetRoute(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	orig := newRoute(t, env, ns)
	ctx := t.Context()
	beta := canary.Match{Header: &canary.HeaderMatch{Name: "X-Beta", Exact: "1"}}
	staff := canary.Match{Header: &canary.HeaderMatch{Name: "X-User", Regex: ".*@example.com"}}
	const admin = "- [/admin] -> admin:8080=1" // the API server defaults the weight to 1 and the path to /
	steps := []struct {
		route canary.Route
		want  []string
	}{
		{canary.Route{Matches: []canary.Match{beta}}, []string{admin,
			"canary-dev-match-1 [/ X-Beta=1] -> recoveryos-canary:80=1",
			"- [/] -> recoveryos:80=100 recoveryos-canary:80=0"}},
		// Blue/green before the switch: no user traffic, a mirror of GET
		// and HEAD requests.
		{canary.Route{MirrorPercent: 100}, []string{admin,
			"canary-dev-mirror-1 [GET /, HEAD /] -> recoveryos:80=100 recoveryos-canary:80=0 mirror recoveryos-canary:80 100%",
			"- [/] -> recoveryos:80=100 recoveryos-canary:80=0"}},
		{canary.Route{Weight: 10, Matches: []canary.Match{beta, staff}, MirrorPercent: 20}, []string{admin,
			"canary-dev-match-1 [GET / X-Beta=1, HEAD / X-Beta=1, / X-Beta=1, GET / X-User~^(?:.*@example.com)$, HEAD / X-User~^(?:.*@example.com)$, / X-User~^(?:.*@example.com)$] -> recoveryos-canary:80=1",
			"canary-dev-mirror-1 [GET /, HEAD /] -> recoveryos:80=90 recoveryos-canary:80=10 mirror recoveryos-canary:80 20%",
			"- [/] -> recoveryos:80=90 recoveryos-canary:80=10"}},
		// Blue/green's switch, then a rollback's switch back.
		{canary.Route{Weight: 100}, []string{admin, "- [/] -> recoveryos:80=0 recoveryos-canary:80=100"}},
		{canary.Route{Weight: 0}, []string{admin, "- [/] -> recoveryos:80=100 recoveryos-canary:80=0"}},
	}
	for _, st := range steps {
		if err := r.SetRoute(ctx, st.route); err != nil {
			t.Fatalf("SetRoute(%s): %v", st.route, err)
		}
		rt := getRoute(t, env, ns)
		if got := rules(rt); strings.Join(got, "\n") != strings.Join(st.want, "\n") {
			t.Errorf("SetRoute(%s): rules\n  %s\nwant\n  %s", st.route, strings.Join(got, "\n  "), strings.Join(st.want, "\n  "))
		}
		if !equality.Semantic.DeepEqual(rt.Spec.Rules[0], orig.Spec.Rules[0]) {
			t.Errorf("SetRoute(%s) changed the /admin rule", st.route)
		}
		before := rt.ResourceVersion
		if err := r.SetRoute(ctx, st.route); err != nil {
			t.Fatal(err)
		}
		if after := getRoute(t, env, ns).ResourceVersion; after != before {
			t.Errorf("replaying SetRoute(%s) wrote the route", st.route)
		}
	}
	if err := r.SetRoute(ctx, canary.Route{Weight: 5, Matches: []canary.Match{beta}, MirrorPercent: 10}); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveCanary(ctx); err != nil {
		t.Fatal(err)
	}
	// As after a rollback with SetWeight: the stable at 100, no canary,
	// no generated rule.
	want := admin + "\n- [/] -> recoveryos:80=100"
	if got := strings.Join(rules(getRoute(t, env, ns)), "\n"); got != want {
		t.Errorf("after RemoveCanary the rules are\n%s\nwant\n%s", got, want)
	}
}

// TestSetRouteRefusesWhatTheStandardLacks: a cookie or a header prefix is
// refused, naming the Gateway API, and the route is not written.
func TestSetRouteRefusesWhatTheStandardLacks(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	newRoute(t, env, ns)
	before := getRoute(t, env, ns).ResourceVersion
	for _, m := range []canary.Match{
		{Cookie: &canary.CookieMatch{Name: "beta"}},
		{Header: &canary.HeaderMatch{Name: "X-Beta", Prefix: "1"}},
	} {
		err := r.SetRoute(t.Context(), canary.Route{Weight: 5, Matches: []canary.Match{m}})
		if err == nil || !strings.Contains(err.Error(), "gateway API (standard) cannot match") {
			t.Errorf("SetRoute with %s: %v, want refused naming the Gateway API", m, err)
		}
	}
	if getRoute(t, env, ns).ResourceVersion != before {
		t.Error("a refused SetRoute wrote the route")
	}
	_ = gatewayapi.GeneratedPrefix
}
