package canary_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/canary-dev/canary"

// importRule forbids the packages matching pkg (a package path relative to
// the module, "" for the root; a trailing "/..." matches a tree) to import,
// directly or through other packages of the module, what matches one of
// deny (module-relative like pkg, or a third-party prefix such as
// "k8s.io/"). allowDirect, when set, lists the only module packages pkg
// may import directly. The rules are docs/architecture.md's "Import
// rules"; non-test files only.
type importRule struct {
	pkg         string
	why         string
	deny        []string
	allowDirect []string
}

var importRules = []importRule{
	{pkg: "", why: "the root package is the vocabulary: standard library only", allowDirect: []string{}, deny: []string{"."}},
	{pkg: "engine", why: "the engine is pure: the vocabulary and statistics only",
		allowDirect: []string{"", "analysis"}, deny: []string{"k8s.io/", "sigs.k8s.io/", "modernc.org/", "github.com/prometheus/"}},
	{pkg: "analysis", why: "statistics: standard library and gonum", allowDirect: []string{}, deny: []string{"."}},
	{pkg: "plan", why: "plans are parsed against the vocabulary only", allowDirect: []string{""}},
	{pkg: "executor", why: "the executor is shared by the hosts and imports none of them",
		deny: []string{"runner", "manager", "operator/...", "store", "web/...", "cmd/...", "providers", "k8s.io/", "sigs.k8s.io/", "modernc.org/"}},
	{pkg: "providers", why: "the provider builder is shared by the hosts (runner, operator, canary query) and imports none of them",
		deny: []string{"engine", "runner", "manager", "operator/...", "store", "web/...", "cmd/...", "client", "modernc.org/"}},
	{pkg: "runner", why: "the runner's loop knows the engine, the executor and the vocabulary only",
		allowDirect: []string{"", "engine", "executor"}, deny: []string{"store", "operator/...", "manager", "web/...", "k8s.io/", "sigs.k8s.io/", "modernc.org/"}},
	{pkg: "operator/...", why: "the operator shares the executor, not the runner's loop or serve's manager",
		deny: []string{"runner", "manager", "web/...", "client"}},
	{pkg: "client", why: "the API client does not run rollouts", deny: []string{"operator/...", "web/...", "k8s.io/", "sigs.k8s.io/"}},
	{pkg: "proxy", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "promql", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "metricsrc", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "webmetrics", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "influxql", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "helm", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "gatewayapi", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "istio", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "nginxingress", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "kube", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "checks", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "flags", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "notify", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "datadog", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "cloudwatch", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
	{pkg: "newrelic", why: "a provider measures and acts; it does not run rollouts", deny: hosts},
}

// hosts are the packages that run rollouts, the engine they drive and the
// builder of their providers.
var hosts = []string{"engine", "executor", "providers", "runner", "manager", "operator/...", "web/...", "cmd/..."}

// testHelpers are for tests; only other test helpers and the benchmark
// programs (bench/...) may import them.
var testHelpers = []string{"canarytest", "enginetest", "store/storetest", "kube/kubetest", "web/webtest", "promql/promqltest",
	"web/dashboard/dashboardtest", "metricsrc/srvtest", "proctest"}

// TestImportRules fails on an import the architecture forbids, naming the
// chain of imports that leads to it and the rule.
func TestImportRules(t *testing.T) {
	graph := moduleImports(t)
	for _, r := range importRules {
		matched := false
		for pkg := range graph {
			if !match(r.pkg, pkg) {
				continue
			}
			matched = true
			r.check(t, graph, pkg)
		}
		if !matched {
			t.Errorf("rule for %q matches no package (a rule that cannot fail)", r.pkg)
		}
	}
	for pkg, imps := range graph {
		if match("bench/...", pkg) || slices.ContainsFunc(testHelpers, func(h string) bool { return match(h, pkg) }) {
			continue
		}
		for _, imp := range imps {
			if slices.Contains(testHelpers, imp) {
				t.Errorf("%s imports the test helper %s outside its tests", show(pkg), show(imp))
			}
		}
	}
}

func (r importRule) check(t *testing.T, graph map[string][]string, pkg string) {
	t.Helper()
	if r.allowDirect != nil {
		for _, imp := range graph[pkg] {
			if isModule(imp) && !slices.Contains(r.allowDirect, imp) {
				t.Errorf("%s imports %s: %s (it may import only %s)", show(pkg), show(imp), r.why, showAll(r.allowDirect))
			}
		}
	}
	for _, chain := range reach(graph, pkg) {
		dep := chain[len(chain)-1]
		for _, d := range r.deny {
			if (d == "." && !isModule(dep) && !strings.HasPrefix(dep, "gonum.org/")) || (d != "." && match(d, dep)) {
				t.Errorf("%s imports %s (%s): %s", show(pkg), show(dep), strings.Join(mapShow(chain), " → "), r.why)
			}
		}
	}
}

// moduleImports reads every package of the module (non-test files):
// module packages by relative path ("" for the root) to their imports
// (module ones relative, others as written; standard library left out).
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	graph := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != "." {
			return filepath.SkipDir // another module
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel := filepath.ToSlash(path)
		if rel == "." {
			rel = ""
		}
		var imps []string
		for _, imp := range p.Imports {
			switch {
			case imp == module:
				imps = append(imps, "")
			case strings.HasPrefix(imp, module+"/"):
				imps = append(imps, strings.TrimPrefix(imp, module+"/"))
			case strings.Contains(strings.Split(imp, "/")[0], "."):
				imps = append(imps, imp)
			}
		}
		graph[rel] = imps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(graph) < 20 {
		t.Fatalf("read %d packages; is the test running at the module's root?", len(graph))
	}
	return graph
}

// reach returns, for every package pkg imports directly or through the
// module's packages, one chain of imports from pkg to it.
func reach(graph map[string][]string, pkg string) [][]string {
	parent := map[string]string{pkg: ""}
	queue := []string{pkg}
	var order []string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		imps := slices.Clone(graph[p])
		sort.Strings(imps)
		for _, imp := range imps {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = p
			order = append(order, imp)
			if isModule(imp) {
				queue = append(queue, imp)
			}
		}
	}
	var chains [][]string
	for _, dep := range order {
		chain := []string{dep}
		for p := parent[dep]; p != pkg; p = parent[p] {
			chain = append([]string{p}, chain...)
		}
		chains = append(chains, append([]string{pkg}, chain...))
	}
	return chains
}

// isModule reports whether a graph key or import is a module package.
func isModule(p string) bool { return p == "" || !strings.Contains(strings.Split(p, "/")[0], ".") }

// match reports whether pkg is pattern or, for "x/...", x or below it; a
// pattern with a dot in its first element ("k8s.io/") is a prefix of
// third-party paths.
func match(pattern, pkg string) bool {
	if !isModule(pattern) {
		return !isModule(pkg) && strings.HasPrefix(pkg, pattern)
	}
	if !isModule(pkg) {
		return false
	}
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == tree || strings.HasPrefix(pkg, tree+"/")
	}
	return pkg == pattern
}

func show(p string) string {
	if p == "" {
		return "canary (root)"
	}
	return p
}

func mapShow(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = show(p)
	}
	return out
}

func showAll(ps []string) string {
	if len(ps) == 0 {
		return "the standard library"
	}
	return strings.Join(mapShow(ps), ", ")
}
