package plan

import (
	"net/http"
	"reflect"
	"strings"
	"text/template"
	"time"

	canary "github.com/canary-dev/canary"
)

// sourceQueries are the query templates of the web, influxdb and
// graphite sources (prometheus has latencyBuckets too).
var sourceQueries = []string{"latency", "errorRate", "requestRate", "requests"}

// oneSource refuses more than one metrics source, naming the second.
func (v *validator) oneSource(m *canary.MetricsSource, path string) {
	var set []string
	rv := reflect.ValueOf(m).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			set = append(set, strings.Split(rv.Type().Field(i).Tag.Get("json"), ",")[0])
		}
	}
	if len(set) > 1 {
		v.add(path+"."+set[1], "only one metrics source may be set, but %s is set too: remove one of them", set[0])
	}
}

// otherSources checks the web, influxdb and graphite sources.
func (v *validator) otherSources(m *canary.MetricsSource, path string) {
	if w := m.Web; w != nil {
		path := path + ".web"
		v.template(path+".url", w.URL, "a URL template, e.g. https://metrics.example.com/api/{{.Query}}?track={{.Track}}&window={{.Window}}")
		if w.URL != "" && !strings.Contains(w.URL, "{{") {
			v.url(path+".url", w.URL, "")
		}
		if w.Method != "" && !isOneOf(w.Method, []string{http.MethodGet, http.MethodPost, http.MethodPut}) {
			v.add(path+".method", "%q is not a method a query uses: write GET or POST", w.Method)
		}
		for _, k := range sortedKeys(w.SecretHeaders) {
			v.secretRequired(path+".secretHeaders["+k+"]", w.SecretHeaders[k], "env:METRICS_AUTH")
			if _, ok := w.Headers[k]; ok {
				v.add(path+".headers["+k+"]", "also in secretHeaders: keep one of them")
			}
		}
		if w.Body != "" {
			v.template(path+".body", w.Body, "")
		}
		if v.template(path+".jq", w.JQ, "a jq expression yielding the number, e.g. .data.value") && !strings.Contains(w.JQ, "{{") {
			if err := compileJQ(w.JQ); err != nil {
				v.add(path+".jq", "%q is not a valid jq expression (%v): fix it, e.g. .data.value", w.JQ, err)
			}
		}
		v.sourceCommon(path, w.Queries, w.Selector, w.Timeout, "the request's {{.Query}}")
	}
	if i := m.InfluxDB; i != nil {
		path := path + ".influxdb"
		v.url(path+".address", i.Address, "the InfluxDB server's URL, e.g. http://influxdb:8086")
		v.required(path+".database", i.Database, "name the database to query, e.g. telegraf")
		v.basicAuth(path, i.BasicAuth, i.Token != "", "token")
		v.secret(path+".token", i.Token)
		v.sourceCommon(path, i.Queries, i.Selector, i.Timeout, "an InfluxQL query template")
	}
	if g := m.Graphite; g != nil {
		path := path + ".graphite"
		v.url(path+".address", g.Address, "graphite-web's URL, e.g. http://graphite:8080")
		v.basicAuth(path, g.BasicAuth, g.BearerToken != "", "bearerToken")
		v.secret(path+".bearerToken", g.BearerToken)
		v.sourceCommon(path, g.Queries, g.Selector, g.Timeout, "a render target template")
		if d := g.Resolution.D(); d < 0 || d%time.Second != 0 {
			v.add(path+".resolution", "%s is not a storage step: write whole seconds as in Carbon's storage-schemas.conf, e.g. 10s or 60s", g.Resolution)
		}
	}
}

// basicAuth checks a source's basicAuth; other names the other
// credential, set when otherSet.
func (v *validator) basicAuth(path string, b *canary.BasicAuth, otherSet bool, other string) {
	if b == nil {
		return
	}
	v.required(path+".basicAuth.username", b.Username, "the user name sent with every query")
	if v.required(path+".basicAuth.password", string(b.Password), "a reference such as env:METRICS_PASSWORD") {
		v.secret(path+".basicAuth.password", b.Password)
	}
	if otherSet {
		v.add(path+".basicAuth", "%s is set too: use one of them", other)
	}
}

// sourceCommon checks queries, selector and timeout.
func (v *validator) sourceCommon(path string, queries, selector map[string]string, timeout canary.Duration, what string) {
	for _, name := range sortedKeys(queries) {
		qpath := path + ".queries[" + name + "]"
		if !isOneOf(name, sourceQueries) {
			v.add(qpath, "%q is not a query name: write %s", name, orList(sourceQueries))
		} else if strings.TrimSpace(queries[name]) == "" {
			v.add(qpath, "required: write %s, or remove the entry for the built-in one", what)
		} else {
			v.template(qpath, queries[name], "")
		}
	}
	for _, track := range sortedKeys(selector) {
		spath := path + ".selector[" + track + "]"
		if !isOneOf(track, []string{string(canary.TrackStable), string(canary.TrackCanary)}) {
			v.add(spath, "%q is not a track: write stable or canary", track)
		} else if v.template(spath, selector[track], "the track's selector") && strings.TrimSpace(selector[track]) == "" {
			v.add(spath, "required: write the track's selector, or remove the entry for the default")
		}
	}
	v.nonNegative(path+".timeout", timeout)
}

// templateVars are the variables of source templates, for parse errors.
const templateVars = ".Window, .Seconds, .Start, .End, .Track, .Service, .Namespace, .Quantile, .Percentile, .Selector (web also .Name and .Query)"

// template checks a text/template's syntax; how, when not empty, makes
// the field required. It reports whether s is set and parses.
func (v *validator) template(path, s, how string) bool {
	if s == "" {
		if how != "" {
			v.add(path, "required: write %s", how)
		}
		return false
	}
	if _, err := template.New(path).Funcs(template.FuncMap{"replace": strings.ReplaceAll}).Parse(s); err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		v.add(path, "%q is not a valid template (%s): the variables are %s", s, msg, templateVars)
		return false
	}
	return true
}
