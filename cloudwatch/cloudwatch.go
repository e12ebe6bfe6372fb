// Package cloudwatch measures a rollout with Amazon CloudWatch's
// GetMetricData through the AWS SDK for Go v2, credentials from the SDK's
// default chain (environment, shared files, web identity, ECS and EC2
// roles). The defaults read an Application Load Balancer's per-target-group
// metrics (RequestCount, HTTPCode_Target_5XX_Count, TargetResponseTime),
// the canary and the stable each behind a target group. metricsrc
// combines the counts into measurements.
//
// The SDK's own retries are off: metricsrc.Retry retries throttling, 5xx
// answers and network errors like every source's, within the query
// timeout.
package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// Kind names the source in errors and `canary query`.
const Kind = "cloudwatch"

// ALB is the namespace of Application Load Balancer metrics.
const ALB = "AWS/ApplicationELB"

// albDims are the dimensions of an ALB target group's metrics.
var albDims = map[string]string{"LoadBalancer": "{{.LoadBalancer}}", "TargetGroup": "{{.Selector}}"}

// DefaultQueries returns the default metrics by name: the target group's
// RequestCount and HTTPCode_Target_5XX_Count summed, and its
// TargetResponseTime's percentile.
func DefaultQueries() map[string]canary.CloudWatchQuery {
	return map[string]canary.CloudWatchQuery{
		metricsrc.QueryRequests: {Namespace: ALB, MetricName: "RequestCount", Dimensions: maps.Clone(albDims), Stat: "Sum"},
		metricsrc.QueryErrors:   {Namespace: ALB, MetricName: "HTTPCode_Target_5XX_Count", Dimensions: maps.Clone(albDims), Stat: "Sum"},
		metricsrc.QueryLatency:  {Namespace: ALB, MetricName: "TargetResponseTime", Dimensions: maps.Clone(albDims), Stat: "p{{.Percentile}}"},
	}
}

// Config configures a Source.
type Config struct {
	// Plan is the plan's analysis.metrics.cloudwatch. Required.
	Plan canary.CloudWatchMetrics
	// Env is the host's: the rollout's name and namespace (the
	// templates' variables) and the egress dialer for CloudWatch
	// requests (the plan's endpoint is untrusted). The credential chain's
	// requests use the SDK's own client; Env.Secrets is not used.
	metricsrc.Env
}

// New validates cfg, loads the SDK's configuration (region and the
// credential chain, which is read at the first request) and parses the
// templates; it does not contact AWS. Problems are canary.EINVALID
// errors.
func New(ctx context.Context, cfg Config) (*metricsrc.Source, error) {
	pc := cfg.Plan
	client, addr, err := connect(ctx, cfg)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "%s: %v", Kind, err)
	}
	queries, err := templates(pc.Queries)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "%s: %v", Kind, err)
	}
	period := pc.Period.D()
	if period <= 0 {
		period = canary.DefaultCloudWatchPeriod
	}
	return metricsrc.NewCounts(metricsrc.CountsConfig{Kind: Kind, Env: cfg.Env, Address: addr, Timeout: pc.Timeout.D(),
		Templates:    metricsrc.TemplateConfig{Defaults: queries, Tracks: pc.TargetGroups, JSON: true},
		LoadBalancer: pc.LoadBalancer, SDK: true,
		Connect: func(_ *metricsrc.HTTP, retry metricsrc.Retry) (metricsrc.Run, error) {
			return (&backend{client: client, period: period, retry: retry}).run, nil
		},
	})
}

// connect makes the CloudWatch client of cfg and returns it with the
// address errors show (the endpoint, or the region).
func connect(ctx context.Context, cfg Config) (*cloudwatch.Client, string, error) {
	pc := cfg.Plan
	if pc.TargetGroups.Stable == "" || pc.TargetGroups.Canary == "" {
		return nil, "", errors.New("targetGroups: the stable and canary target groups are required (targetgroup/NAME/ID)")
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
		return nil, "", fmt.Errorf("load the AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, "", errors.New("region: set it in the plan, or AWS_REGION")
	}
	addr := ac.Region
	if pc.Endpoint != "" {
		u, err := url.Parse(pc.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return nil, "", fmt.Errorf("endpoint %q is not an http(s) URL without credentials or a query", redacted(pc.Endpoint))
		}
		addr = strings.TrimSuffix(u.String(), "/")
	}
	client := cloudwatch.NewFromConfig(ac, func(o *cloudwatch.Options) {
		o.Retryer, o.HTTPClient = aws.NopRetryer{}, hc
		if pc.Endpoint != "" {
			o.BaseEndpoint = aws.String(pc.Endpoint)
		}
	})
	return client, addr, nil
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// stat is a rendered query: the JSON template metricsrc renders, and
// what run reads.
type stat struct {
	Namespace  string            `json:"namespace"`
	MetricName string            `json:"metricName"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Stat       string            `json:"stat"`
}

// templates merges overrides over the defaults and writes each query as
// the JSON template metricsrc parses (its strings are templates).
func templates(overrides map[string]canary.CloudWatchQuery) (map[string]string, error) {
	qs := DefaultQueries()
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if !slices.Contains(metricsrc.CountNames, name) {
			return nil, fmt.Errorf("queries[%s]: not a query name (use %s)", name, strings.Join(metricsrc.CountNames, ", "))
		}
		qs[name] = overrides[name]
	}
	out := map[string]string{}
	for name, q := range qs {
		if q.Namespace == "" || q.MetricName == "" {
			return nil, fmt.Errorf("queries[%s]: namespace and metricName are required", name)
		}
		s := stat{Namespace: q.Namespace, MetricName: q.MetricName, Dimensions: q.Dimensions, Stat: q.Stat}
		if s.Stat == "" {
			s.Stat = "Sum"
			if name == metricsrc.QueryLatency {
				s.Stat = "p{{.Percentile}}"
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		out[name] = string(b)
	}
	return out, nil
}
