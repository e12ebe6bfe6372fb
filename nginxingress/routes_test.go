package nginxingress_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/nginxingress"
)

// routing shows the canary Ingress's routing annotations, sorted, without
// the prefix: "canary-by-header=X-Beta ... canary-weight=0 canary=true".
func routing(a map[string]string) string {
	var parts []string
	for k, v := range a {
		if k, ok := strings.CutPrefix(k, "nginx.ingress.kubernetes.io/"); ok && strings.HasPrefix(k, "canary") {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestSetRoute: a header (exact or regex) and a cookie match become the
// canary-by-* annotations at every step, replaced by the next step's and
// removed by a plain weight; a replay writes nothing; a prefix, another
// cookie value or a mirror is refused naming NGINX Ingress.
func TestSetRoute(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t, traffic)
	orig := newIngress(t, env, ns)
	ctx := t.Context()
	beta := canary.Match{Header: &canary.HeaderMatch{Name: "X-Beta", Exact: "1"}}
	staff := canary.Match{Header: &canary.HeaderMatch{Name: "X-User", Regex: ".*@example.com"}}
	always := canary.Match{Cookie: &canary.CookieMatch{Name: "beta", Value: "always"}}
	steps := []struct {
		route canary.Route
		want  string
	}{
		{canary.Route{Matches: []canary.Match{beta}}, "canary-by-header-value=1 canary-by-header=X-Beta canary-weight=0 canary=true"},
		{canary.Route{Weight: 10, Matches: []canary.Match{staff, always}},
			"canary-by-cookie=beta canary-by-header-pattern=^(?:.*@example.com)$ canary-by-header=X-User canary-weight=10 canary=true"},
		{canary.Route{Weight: 50}, "canary-weight=50 canary=true"},
		{canary.Route{Weight: 0}, "canary-weight=0 canary=true"},
	}
	for _, st := range steps {
		if err := r.SetRoute(ctx, st.route); err != nil {
			t.Fatalf("SetRoute(%s): %v", st.route, err)
		}
		c := get(t, env, ns, "recoveryos-canary")
		if got := routing(c.Annotations); got != st.want {
			t.Errorf("SetRoute(%s): annotations %s, want %s", st.route, got, st.want)
		}
		if err := r.SetRoute(ctx, st.route); err != nil {
			t.Fatal(err)
		}
		if rv := get(t, env, ns, "recoveryos-canary").ResourceVersion; rv != c.ResourceVersion {
			t.Errorf("replaying SetRoute(%s) wrote the canary ingress", st.route)
		}
		stableUntouched(t, env, ns, orig)
	}
	before := get(t, env, ns, "recoveryos-canary").ResourceVersion
	for _, rt := range []canary.Route{
		{Weight: 5, Matches: []canary.Match{{Header: &canary.HeaderMatch{Name: "X-Beta", Prefix: "1"}}}},
		{Weight: 5, Matches: []canary.Match{{Cookie: &canary.CookieMatch{Name: "beta", Value: "yes"}}}},
		{Weight: 5, Matches: []canary.Match{beta, staff}},
		{MirrorPercent: 100},
	} {
		if err := r.SetRoute(ctx, rt); err == nil || !strings.Contains(err.Error(), "NGINX Ingress") {
			t.Errorf("SetRoute(%s): %v, want refused naming NGINX Ingress", rt, err)
		}
	}
	if rv := get(t, env, ns, "recoveryos-canary").ResourceVersion; rv != before {
		t.Error("a refused SetRoute wrote the canary ingress")
	}
	if err := r.RemoveCanary(ctx); err != nil {
		t.Fatal(err)
	}
	if c := get(t, env, ns, "recoveryos-canary"); c != nil {
		t.Errorf("after RemoveCanary: %s", describe(c))
	}
	_ = fmt.Sprint(nginxingress.AnnotationByHeader)
}
