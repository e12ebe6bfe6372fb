package plan

import (
	"reflect"
	"strconv"

	canary "github.com/canary-dev/canary"
)

// textHints describe the text-encoded types in "got X, want Y" messages.
var textHints = map[reflect.Type]string{
	reflect.TypeFor[canary.Duration](): "a duration such as 30s",
	reflect.TypeFor[canary.Percent]():  "a percentage such as 99.9%",
	reflect.TypeFor[canary.Quantity](): "a threshold such as 600ms, 1% or 2x",
}

func textHint(t reflect.Type) string {
	if h, ok := textHints[t]; ok {
		return h
	}
	return "a single value"
}

type zeroKey struct {
	t    reflect.Type
	name string
}

func zk[T any](name string) zeroKey { return zeroKey{reflect.TypeFor[T](), name} }

// zeroDefaults are the fields whose zero value means "use the default":
// a zero written in a plan would silently become the default, so Parse
// rejects it. The value is the default, as shown to the user.
var zeroDefaults = map[zeroKey]string{
	zk[canary.Analysis]("interval"):          canary.FormatDuration(canary.DefaultInterval),
	zk[canary.Analysis]("minRequests"):       strconv.Itoa(canary.DefaultMinRequests),
	zk[canary.RollbackPolicy]("drain"):       canary.FormatDuration(canary.DefaultDrain),
	zk[canary.Spec]("actionTimeout"):         canary.FormatDuration(canary.DefaultActionTimeout),
	zk[canary.SLO]("objective"):              canary.FormatPercent(canary.DefaultObjective),
	zk[canary.PreCheck]("timeout"):           canary.FormatDuration(DefaultPreCheckTimeout),
	zk[canary.Hook]("timeout"):               canary.FormatDuration(DefaultHookTimeout),
	zk[canary.PrometheusMetrics]("timeout"):  canary.FormatDuration(DefaultPrometheusTimeout),
	zk[canary.WebMetrics]("timeout"):         canary.FormatDuration(DefaultSourceTimeout),
	zk[canary.InfluxDBMetrics]("timeout"):    canary.FormatDuration(DefaultSourceTimeout),
	zk[canary.GraphiteMetrics]("timeout"):    canary.FormatDuration(DefaultSourceTimeout),
	zk[canary.GraphiteMetrics]("resolution"): canary.FormatDuration(canary.DefaultGraphiteResolution),
	zk[canary.GatewayAPITraffic]("port"):     strconv.Itoa(DefaultGatewayPort),
	zk[canary.NGINXIngressTraffic]("port"):   "the stable backend's port",
	zk[canary.Rule]("window"):                "analysis.interval",
	zk[canary.Rule]("for"):                   "analysis.interval",
}

// explicitZero records an error when a field whose zero means "default"
// was written as zero.
func (d *decoder) explicitZero(t reflect.Type, name, path string, v reflect.Value) {
	def, ok := zeroDefaults[zeroKey{t, name}]
	n := d.nodes[path]
	if !ok || d.bad[path] || n == nil || isNull(n) || !v.IsZero() {
		return
	}
	d.errorf(n, path, "%s means \"use the default\" (%s) here: omit the field for the default, or write a value above 0", n.Value, def)
}
