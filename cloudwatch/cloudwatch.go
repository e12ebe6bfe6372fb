// Package cloudwatch measures a rollout with Amazon CloudWatch's
// GetMetricData through the AWS SDK for Go v2, credentials from the SDK's
// default chain (environment, shared files, web identity, ECS and EC2
// roles). The defaults read an Application Load Balancer's per-target-group
// metrics (RequestCount, HTTPCode_Target_5XX_Count, TargetResponseTime),
// the canary and the stable each behind a target group. apisrc combines
// the answers into measurements.
//
// The SDK's own retries are off: apisrc retries throttling, 5xx answers
// and network errors like every API source's, within the query timeout.
package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/apisrc"
)

// ALB is the namespace of Application Load Balancer metrics.
const ALB = "AWS/ApplicationELB"

// albDims are the dimensions of an ALB target group's metrics.
var albDims = map[string]string{"LoadBalancer": "{{.LoadBalancer}}", "TargetGroup": "{{.Selector}}"}

// DefaultQueries returns the default metrics by name: the target group's
// RequestCount and HTTPCode_Target_5XX_Count summed, and its
// TargetResponseTime's percentile.
func DefaultQueries() map[string]canary.CloudWatchQuery {
	return map[string]canary.CloudWatchQuery{
		apisrc.QueryRequests: {Namespace: ALB, MetricName: "RequestCount", Dimensions: maps.Clone(albDims), Stat: "Sum"},
		apisrc.QueryErrors:   {Namespace: ALB, MetricName: "HTTPCode_Target_5XX_Count", Dimensions: maps.Clone(albDims), Stat: "Sum"},
		apisrc.QueryLatency:  {Namespace: ALB, MetricName: "TargetResponseTime", Dimensions: maps.Clone(albDims), Stat: "p{{.Percentile}}"},
	}
}

// Config configures a Source.
type Config struct {
	// Plan is the plan's analysis.metrics.cloudwatch. Required.
	Plan canary.CloudWatchMetrics
	// Service and Namespace are the templates' variables (the rollout's
	// name and namespace).
	Service, Namespace string
	// Dial connects CloudWatch requests (the egress policy's dialer; the
	// plan's endpoint is untrusted). The credential chain's requests use
	// the SDK's own client.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retries and Backoff override apisrc's defaults (tests).
	Retries int
	Backoff time.Duration
}

// FromPlan is the Config of p's analysis.metrics.cloudwatch.
func FromPlan(p *canary.Plan) (Config, error) {
	c := p.Spec.Analysis.Metrics.CloudWatch
	if c == nil {
		return Config{}, canary.Errorf(canary.EINVALID, "the plan has no analysis.metrics.cloudwatch")
	}
	return Config{Plan: *c, Service: p.Metadata.Name, Namespace: p.Metadata.Namespace}, nil
}

// New validates cfg, loads the SDK's configuration (region and the
// credential chain, which is read at the first request) and parses the
// templates; it does not contact AWS. Problems are canary.EINVALID
// errors.
func New(ctx context.Context, cfg Config) (*apisrc.Source, error) {
	src, err := build(ctx, cfg)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "cloudwatch: %v", err)
	}
	return src, nil
}

func build(ctx context.Context, cfg Config) (*apisrc.Source, error) {
	pc := cfg.Plan
	if pc.TargetGroups.Stable == "" || pc.TargetGroups.Canary == "" {
		return nil, errors.New("targetGroups: the stable and canary target groups are required (targetgroup/NAME/ID)")
	}
	b := &backend{period: pc.Period.D(), queries: map[string]query{}}
	if b.period <= 0 {
		b.period = canary.DefaultCloudWatchPeriod
	}
	if err := b.parse(pc.Queries); err != nil {
		return nil, err
	}
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if cfg.Dial != nil {
			tr.DialContext, tr.Proxy = cfg.Dial, nil
		}
	})
	// The credential chain keeps the SDK's own client: its endpoints (the
	// instance metadata service, STS) come from the host, not the plan,
	// and the egress policy refuses metadata addresses.
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(1)}
	if pc.Region != "" {
		opts = append(opts, config.WithRegion(pc.Region))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("region: set it in the plan, or AWS_REGION")
	}
	addr := ac.Region
	if pc.Endpoint != "" {
		if addr, err = apisrc.BaseURL("endpoint", pc.Endpoint); err != nil {
			return nil, err
		}
	}
	b.client = cloudwatch.NewFromConfig(ac, func(o *cloudwatch.Options) {
		o.Retryer, o.HTTPClient = aws.NopRetryer{}, hc
		if pc.Endpoint != "" {
			o.BaseEndpoint = aws.String(pc.Endpoint)
		}
	})
	return apisrc.New(apisrc.Config{Kind: "cloudwatch", Address: addr, Backend: b,
		Tracks:  pc.TargetGroups,
		Vars:    apisrc.Vars{Service: cfg.Service, Namespace: cfg.Namespace, LoadBalancer: pc.LoadBalancer},
		Timeout: pc.Timeout.D(), Retries: cfg.Retries, Backoff: cfg.Backoff})
}

// query is a parsed CloudWatchQuery: its dimension values and statistic
// are templates.
type query struct {
	namespace, metric string
	dims              map[string]*template.Template
	stat              *template.Template
}

// stat is a rendered query, as Render writes it and Run reads it.
type stat struct {
	Namespace  string            `json:"namespace"`
	MetricName string            `json:"metricName"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Stat       string            `json:"stat"`
}

// parse merges overrides over the defaults and parses the templates.
func (b *backend) parse(overrides map[string]canary.CloudWatchQuery) error {
	qs := DefaultQueries()
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if !slices.Contains(apisrc.QueryNames, name) {
			return fmt.Errorf("queries[%s]: not a query name (use %s)", name, strings.Join(apisrc.QueryNames, ", "))
		}
		qs[name] = overrides[name]
	}
	for name, q := range qs {
		if q.Namespace == "" || q.MetricName == "" {
			return fmt.Errorf("queries[%s]: namespace and metricName are required", name)
		}
		p := query{namespace: q.Namespace, metric: q.MetricName, dims: map[string]*template.Template{}}
		text := q.Stat
		if text == "" {
			text = "Sum"
			if name == apisrc.QueryLatency {
				text = "p{{.Percentile}}"
			}
		}
		var err error
		if p.stat, err = apisrc.ParseTemplate(name, text); err != nil {
			return fmt.Errorf("%w (stat)", err)
		}
		for d, v := range q.Dimensions {
			if p.dims[d], err = apisrc.ParseTemplate(name, v); err != nil {
				return fmt.Errorf("%w (dimension %s)", err, d)
			}
		}
		b.queries[name] = p
	}
	return nil
}

// Render implements apisrc.Backend: the metric statistic as JSON.
func (b *backend) Render(name string, v apisrc.Vars) (string, error) {
	q, ok := b.queries[name]
	if !ok {
		return "", fmt.Errorf("cloudwatch: no %s query", name)
	}
	s := stat{Namespace: q.namespace, MetricName: q.metric, Dimensions: map[string]string{}}
	var err error
	if s.Stat, err = apisrc.Render(q.stat, v); err != nil {
		return "", err
	}
	for d, t := range q.dims {
		if s.Dimensions[d], err = apisrc.Render(t, v); err != nil {
			return "", err
		}
	}
	out, err := json.Marshal(s)
	return string(out), err
}
