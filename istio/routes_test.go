package istio_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/canary-dev/canary"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
)

func stringMatch(m *networking.StringMatch) string {
	switch {
	case m.GetExact() != "":
		return "=" + m.GetExact()
	case m.GetPrefix() != "":
		return "^=" + m.GetPrefix()
	}
	return "~" + m.GetRegex()
}

// routes shows every HTTP route of vs on a line: name, matches,
// destinations and mirror, e.g. "canary-dev-match-main [x-beta=1] -> recoveryos/canary=100".
func routes(vs *istionetworking.VirtualService) []string {
	var out []string
	for _, h := range vs.Spec.Http {
		var ms []string
		for _, m := range h.Match {
			var parts []string
			if m.Uri != nil {
				parts = append(parts, "uri"+stringMatch(m.Uri))
			}
			if m.Method != nil {
				parts = append(parts, "method"+stringMatch(m.Method))
			}
			names := slices.Collect(func(yield func(string) bool) {
				for k := range m.Headers {
					if !yield(k) {
						return
					}
				}
			})
			sort.Strings(names)
			for _, k := range names {
				parts = append(parts, k+stringMatch(m.Headers[k]))
			}
			ms = append(ms, strings.Join(parts, " "))
		}
		var ds []string
		for _, d := range h.Route {
			name := d.Destination.Host
			if d.Destination.Subset != "" {
				name += "/" + d.Destination.Subset
			}
			ds = append(ds, fmt.Sprintf("%s=%d", name, d.Weight))
		}
		line := fmt.Sprintf("%s [%s] -> %s", h.Name, strings.Join(ms, ", "), strings.Join(ds, " "))
		if h.Mirror != nil {
			line += fmt.Sprintf(" mirror %s/%s:%d %g%%", h.Mirror.Host, h.Mirror.Subset, h.Mirror.GetPort().GetNumber(), h.MirrorPercentage.GetValue())
		}
		out = append(out, line)
	}
	return out
}

// TestSetRoute: matches (header exact, regex, prefix, cookie) and mirrors
// become HTTP routes before the main one, exactly as expected at every
// step (the API server's CRD schema accepts them), a replay writes
// nothing, and a plain weight (a rollback) or RemoveCanary removes them.
func TestSetRoute(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t, subsets)
	orig := newVirtualService(t, env, ns, subsets.Stable)
	ctx := t.Context()
	beta := canary.Match{Header: &canary.HeaderMatch{Name: "X-Beta", Exact: "1"}}
	staff := canary.Match{Header: &canary.HeaderMatch{Name: "X-User", Prefix: "staff-"}}
	cookie := canary.Match{Cookie: &canary.CookieMatch{Name: "beta", Value: "yes"}}
	const admin = "admin [uri^=/admin] -> admin=0"
	steps := []struct {
		route canary.Route
		want  []string
	}{
		{canary.Route{Matches: []canary.Match{beta, staff, cookie}}, []string{admin,
			`canary-dev-match-main [x-beta=1, x-user^=staff-, cookie~^(.*;\s*)?beta=yes(;.*)?$] -> recoveryos/canary=100`,
			"main [] -> recoveryos/stable=100 recoveryos/canary=0"}},
		// Blue/green before the switch: no user traffic, a mirror of GET
		// and HEAD requests.
		{canary.Route{MirrorPercent: 100}, []string{admin,
			"canary-dev-mirror-main [method~GET|HEAD] -> recoveryos/stable=100 recoveryos/canary=0 mirror recoveryos/canary:80 100%",
			"main [] -> recoveryos/stable=100 recoveryos/canary=0"}},
		{canary.Route{Weight: 10, Matches: []canary.Match{{Header: &canary.HeaderMatch{Name: "X-User", Regex: ".*@example.com"}}}, MirrorPercent: 20}, []string{admin,
			"canary-dev-match-main [x-user~^(?:.*@example.com)$] -> recoveryos/canary=100",
			"canary-dev-mirror-main [method~GET|HEAD] -> recoveryos/stable=90 recoveryos/canary=10 mirror recoveryos/canary:80 20%",
			"main [] -> recoveryos/stable=90 recoveryos/canary=10"}},
		// Blue/green's switch, then a rollback's switch back.
		{canary.Route{Weight: 100}, []string{admin, "main [] -> recoveryos/stable=0 recoveryos/canary=100"}},
		{canary.Route{Weight: 0}, []string{admin, "main [] -> recoveryos/stable=100 recoveryos/canary=0"}},
	}
	for _, st := range steps {
		if err := r.SetRoute(ctx, st.route); err != nil {
			t.Fatalf("SetRoute(%s): %v", st.route, err)
		}
		vs := getVirtualService(t, env, ns)
		if got := routes(vs); strings.Join(got, "\n") != strings.Join(st.want, "\n") {
			t.Errorf("SetRoute(%s): routes\n  %s\nwant\n  %s", st.route, strings.Join(got, "\n  "), strings.Join(st.want, "\n  "))
		}
		untouched(t, fmt.Sprintf("SetRoute(%s)", st.route), vs, orig)
		before := vs.ResourceVersion
		if err := r.SetRoute(ctx, st.route); err != nil {
			t.Fatal(err)
		}
		if after := getVirtualService(t, env, ns).ResourceVersion; after != before {
			t.Errorf("replaying SetRoute(%s) wrote the virtualservice", st.route)
		}
	}
	if err := r.SetRoute(ctx, canary.Route{Weight: 5, Matches: []canary.Match{beta}, MirrorPercent: 10}); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveCanary(ctx); err != nil {
		t.Fatal(err)
	}
	got := getVirtualService(t, env, ns)
	want := orig.DeepCopy()
	want.Spec.Http[1].Route[0].Weight = 100
	if !proto.Equal(&got.Spec, &want.Spec) {
		t.Errorf("after RemoveCanary the routes are\n  %s\nwant\n  %s", strings.Join(routes(got), "\n  "), strings.Join(routes(want), "\n  "))
	}
}
