// Package webmetrics is the web metric source (analysis.metrics.web): one
// HTTP(S) request per query to any JSON API, the value read from the
// answer with a jq expression. The request's url, body and jq are
// templates over metricsrc's variables plus the query's name and its
// rendered per-query template, so one source can ask an API a different
// question per metric (a query parameter) or pick a different field of
// one status document per metric (the jq).
package webmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/itchyny/gojq"
)

// Kind names the source in errors and in `canary query`.
const Kind = "web"

// Config configures the web source: Plan is the plan's
// analysis.metrics.web; HTTP's Source, Address, Headers, SecretHeaders,
// Timeout and CAFile are taken from it.
type Config = metricsrc.Config[canary.WebMetrics]

// FromPlan returns the Config of p's analysis.metrics.web.
func FromPlan(p *canary.Plan) (Config, error) {
	return metricsrc.FromPlan(p, "web", p.Spec.Analysis.Metrics.Web)
}

// vars are what the url, body and jq templates see.
type vars struct {
	metricsrc.Vars
	// Name of the query template: latency, errorRate, requestRate,
	// requests.
	Name string
	// Query is the rendered query template of Name.
	Query string
}

type source struct {
	http          *metricsrc.HTTP
	method        string
	url, body, jq *metricsrc.Template
	contentType   bool
	tmpl          *metricsrc.Templates
	svc, ns       string
	mu            sync.Mutex
	code          map[string]*gojq.Code // compiled jq by rendered text
}

// New validates cfg, reads its secrets and parses its templates (a typo
// is an error naming the field). It does not contact the server.
func New(cfg Config) (*metricsrc.Source, error) {
	w := cfg.Plan
	if w == nil {
		return nil, canary.Errorf(canary.EINVALID, "web: no configuration")
	}
	s := &source{svc: cfg.Service, ns: cmpStr(cfg.Namespace, canary.DefaultNamespace), code: map[string]*gojq.Code{}}
	probeURL, err := s.parse(w)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "web: %v", err)
	}
	s.method = cmpStr(w.Method, http.MethodGet)
	if w.Method == "" && w.Body != "" {
		s.method = http.MethodPost
	}
	hc := cfg.HTTP
	hc.Address, hc.Headers, hc.SecretHeaders = base(probeURL), w.Headers, w.SecretHeaders
	hc.Timeout, hc.CAFile = w.Timeout.D(), w.CAFile
	for k := range w.Headers {
		s.contentType = s.contentType || http.CanonicalHeaderKey(k) == "Content-Type"
	}
	defaults := metricsrc.Queries(metricsrc.QueryLatency, metricsrc.QueryErrorRate, metricsrc.QueryRequestRate, metricsrc.QueryRequests)
	return metricsrc.NewValues(metricsrc.ValuesConfig{Kind: Kind, HTTP: hc, Service: s.svc, Namespace: s.ns,
		Templates: metricsrc.TemplateConfig{Defaults: defaults, Overrides: w.Queries, DefaultSelector: "{{.Track}}",
			Selectors: w.Selector, Language: "query"},
		Connect: func(h *metricsrc.HTTP, ts *metricsrc.Templates) metricsrc.Run {
			s.http, s.tmpl = h, ts
			return s.run
		}})
}

// parse parses w's url, body and jq, compiles the jq rendered with
// sample values (a jq syntax error fails when the source is built) and
// returns the url so rendered.
func (s *source) parse(w *canary.WebMetrics) (string, error) {
	var err error
	for _, t := range []struct {
		dst  **metricsrc.Template
		name string
		text string
	}{{&s.url, "url", w.URL}, {&s.body, "body", w.Body}, {&s.jq, "jq", w.JQ}} {
		if *t.dst, err = parse(t.name, t.text); err != nil {
			return "", err
		}
	}
	text, err := s.jq.Execute(probe)
	if err != nil {
		return "", err
	}
	if _, err = s.compile(text); err != nil {
		return "", err
	}
	return s.url.Execute(probe)
}

// probe is what the url, body and jq templates are rendered with once
// when the source is built.
var probe = vars{Vars: metricsrc.ProbeVars(), Name: metricsrc.QueryLatency, Query: "q"}

// parse parses the url, body or jq template over vars (metricsrc's
// variables, .Name and .Query).
func parse(name, text string) (*metricsrc.Template, error) {
	if strings.TrimSpace(text) == "" && name != "body" {
		return nil, fmt.Errorf("%s is required", name)
	}
	return metricsrc.ParseTemplate(name, text, probe, ".Name", ".Query")
}

// base is the scheme and host of a rendered URL, the address errors show.
func base(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw // NewHTTP refuses it, naming it
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User}).String()
}

func cmpStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *source) compile(text string) (*gojq.Code, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.code[text]; ok {
		return c, nil
	}
	q, err := gojq.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("jq %q: %w", text, err)
	}
	c, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("jq %q: %w", text, err)
	}
	if len(s.code) < 256 { // a template over .Window could make many
		s.code[text] = c
	}
	return c, nil
}

// run sends the request of one query and reads its number.
func (s *source) run(ctx context.Context, name, query string, q canary.Query) (metricsrc.Value, error) {
	mv, _, err := s.tmpl.Vars(q, s.svc, s.ns)
	if err != nil {
		return metricsrc.Value{}, metricsrc.Bad("%v", err)
	}
	if name == metricsrc.QueryRequests {
		mv.Quantile, mv.Percentile = "", ""
	}
	v := vars{Vars: mv, Name: name, Query: query}
	req, jq, err := s.request(v)
	if err != nil {
		return metricsrc.Value{}, metricsrc.Bad("%v", err)
	}
	body, err := s.http.Do(ctx, req)
	if err != nil {
		var f *metricsrc.Failure
		if errors.As(err, &f) {
			f.Err = fmt.Errorf("%s %s: %w", req.Method, s.http.Redact(req.URL.Redacted()), f.Err)
		}
		return metricsrc.Value{}, err
	}
	return extract(jq, body)
}

// request renders the url, body and jq of one query.
func (s *source) request(v vars) (metricsrc.Request, *gojq.Code, error) {
	raw, err := s.url.Execute(v)
	if err != nil {
		return metricsrc.Request{}, nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return metricsrc.Request{}, nil, fmt.Errorf("url %q is not an http(s) URL", s.http.Redact(raw))
	}
	req := metricsrc.Request{Method: s.method, URL: u}
	body, err := s.body.Execute(v)
	if err != nil {
		return req, nil, err
	}
	if body != "" {
		req.Body = []byte(body)
		if !s.contentType {
			req.Header = http.Header{"Content-Type": {"application/json"}}
		}
	}
	text, err := s.jq.Execute(v)
	if err != nil {
		return req, nil, err
	}
	code, err := s.compile(text)
	return req, code, err
}

// extract runs jq on the JSON answer: one number (or a numeric string,
// or an array of one) is the value; null, no output or an empty array
// is no data; several numbers are several series.
func extract(code *gojq.Code, body []byte) (metricsrc.Value, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return metricsrc.Value{}, metricsrc.Bad("the answer is not JSON (%v): %s", err, snippet(body))
	}
	var out []any
	iter := code.Run(doc)
	for {
		x, ok := iter.Next()
		if !ok {
			break
		}
		if err, isErr := x.(error); isErr {
			return metricsrc.Value{}, metricsrc.Bad("jq: %v", err)
		}
		if arr, isArr := x.([]any); isArr {
			out = append(out, arr...)
		} else if x != nil {
			out = append(out, x)
		}
	}
	switch {
	case len(out) == 0:
		return metricsrc.Value{NoData: true}, nil
	case len(out) > 1:
		names := make([]string, len(out))
		for i, x := range out {
			names[i] = fmt.Sprint(x)
		}
		return metricsrc.Value{}, metricsrc.Several(len(out), names)
	}
	f, err := number(out[0])
	if err != nil {
		return metricsrc.Value{}, err
	}
	return metricsrc.Number(f)
}

func number(x any) (float64, error) {
	switch n := x.(type) {
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(n).Float64()
		return f, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err == nil {
			return f, nil
		}
	}
	b, _ := json.Marshal(x)
	return 0, metricsrc.Bad("jq yielded %s, not a number", snippet(b))
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
