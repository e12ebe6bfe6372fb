package docgen

import (
	"fmt"
	"strings"

	"github.com/canary-dev/canary/plan"
)

// What the Go types cannot say about a plan, and validation checks, told
// to the schema. Every entry names a type or field that must exist in the
// source, so a rename fails the generator instead of silently dropping a
// constraint.

const (
	num               = `(\d+(\.\d*)?|\.\d+)`
	durationPattern   = `^(0|(` + num + `(ns|us|µs|μs|ms|s|m|h))+)$`
	percentPattern    = `^` + num + `%$`
	pointsPattern     = `^` + num + `pp$`
	multiplierPattern = `^` + num + `x$`
	numberPattern     = `^` + num + `$`
	sizePattern       = `^\d+(KiB|MiB)?$`
	secretPattern     = `^(env:.+|file:.+|secret:[a-z0-9.-]+/[-._a-zA-Z0-9]+)$`
	urlPattern        = `^https?://.+`
	dnsLabelPattern   = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
)

// unit is how a scalar type is written.
type unit struct {
	human  string
	schema map[string]any
}

// units covers the types decoded from text (UnmarshalText) and the named
// string types with a format.
func (g *gen) units() map[string]unit {
	var base []string
	for _, m := range g.src.constValues("Metric", "") {
		if !strings.HasPrefix(m, "latencyP") {
			base = append(base, m)
		}
	}
	metric := `^(` + strings.Join(base, "|") + `|latencyP` + num + `)$`
	str := func(pattern string) map[string]any { return map[string]any{"type": "string", "pattern": pattern} }
	return map[string]unit{
		"Duration": {"duration", str(durationPattern)},
		"Percent":  {"percentage", str(percentPattern)},
		"Quantity": {"threshold", map[string]any{"anyOf": []any{
			str(durationPattern), str(percentPattern), str(pointsPattern), str(multiplierPattern), str(numberPattern),
			map[string]any{"type": "number", "minimum": 0},
		}}},
		"SecretRef": {"secret reference", str(secretPattern)},
		"ByteSize":  {"size", str(sizePattern)},
		"Metric":    {"metric", str(metric)},
	}
}

// fieldRules are schema keywords added to a field (Type.Field, Go names;
// Field[] for a list's items).
func (g *gen) fieldRules() (map[string]map[string]any, error) {
	enum := func(vals ...string) map[string]any { return map[string]any{"enum": vals} }
	url := map[string]any{"pattern": urlPattern}
	label := map[string]any{"pattern": dnsLabelPattern, "maxLength": 63}
	rules := map[string]map[string]any{
		"Plan.APIVersion":           {"const": g.src.constValue("APIVersion")},
		"Plan.Kind":                 {"const": g.src.constValue("Kind")},
		"Metadata.Name":             label,
		"Metadata.Namespace":        label,
		"Step.Weight":               {"minimum": 1, "maximum": 100},
		"GatewayAPITraffic.Port":    {"minimum": 1, "maximum": 65535},
		"Analysis.MinRequests":      {"minimum": 0},
		"Rule.Action":               enum(g.src.constValues("", "Action")...),
		"Rule.Vs":                   enum(plan.VsSLO, plan.VsBaseline, plan.VsStable),
		"Rule.Compare":              {"const": g.src.constValue("CompareBaseline")},
		"Rule.Confidence":           {"exclusiveMinimum": 0.5},
		"Hook.At":                   enum(g.src.constValues("", "Hook")...),
		"HTTPHook.Method":           {"pattern": `^[A-Z]+$`},
		"FeatureFlag.Provider":      enum(plan.ProviderBuiltin, plan.ProviderHTTP),
		"Audience.On[]":             enum(append([]string{plan.AllEvents}, g.src.constValues("EventType", "Ev")...)...),
		"ProxyTraffic.Stable":       url,
		"ProxyTraffic.Canary":       url,
		"FeatureFlag.URL":           url,
		"PreCheck.URL":              url,
		"HTTPHook.URL":              url,
		"Approval.Webhook":          url,
		"PrometheusMetrics.Address": url,
		"WebhookChannel.URL":        url,
		"PagerDutyChannel.URL":      url,
	}
	for key, r := range rules {
		if e, ok := r["enum"].([]string); ok && len(e) < 2 {
			return nil, fmt.Errorf("%s: no enum values found in the source", key)
		}
		if c, ok := r["const"].(string); ok && c == "" {
			return nil, fmt.Errorf("%s: constant not found in the source", key)
		}
	}
	return rules, nil
}

// typeRules are schema keywords added to a struct's definition: the
// "exactly one of" and "at least one of" checks.
func typeRules() map[string]map[string]any {
	one := func(names ...string) []any {
		var alts []any
		for _, n := range names {
			alts = append(alts, map[string]any{"required": []string{n}})
		}
		return alts
	}
	return map[string]map[string]any{
		"Traffic":       {"oneOf": one("proxy", "helm", "gatewayAPI")},
		"MetricsSource": {"maxProperties": 1},
		"Rule":          {"oneOf": one("above", "below", "compare")},
		"Hook":          {"oneOf": one("http", "command")},
		"Approval": {"oneOf": []any{
			map[string]any{"required": []string{"manual"}, "properties": map[string]any{"manual": map[string]any{"const": true}}},
			map[string]any{"required": []string{"webhook"}},
		}},
		"Audience": {"anyOf": one("slack", "email", "webhook", "pagerduty")},
	}
}

// useRules are schema keywords added where a field uses its type
// (Type.Field, Go names): hooks need at, cleanup entries must not have it.
var useRules = map[string]map[string]any{
	"Spec.Hooks[]":   {"required": []string{"at"}},
	"Spec.Cleanup[]": {"not": map[string]any{"required": []string{"at"}}},
}
