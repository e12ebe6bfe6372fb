package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// backend runs GetMetricData requests.
type backend struct {
	client *cloudwatch.Client
	period time.Duration
	retry  metricsrc.Retry
}

// run sends one GetMetricData of the statistic over the window, retried
// by metricsrc.Retry, with a period of the window rounded up to the
// resolution, so one datapoint (two when the window straddles a period
// boundary) covers it. Sum statistics add their datapoints, others
// average them; no datapoint is no data.
func (b *backend) run(ctx context.Context, name, rendered string, q canary.Query) (metricsrc.Value, error) {
	var s stat
	if err := json.Unmarshal([]byte(rendered), &s); err != nil {
		return metricsrc.Value{}, metricsrc.Bad("%v", err)
	}
	from, to := q.At.Add(-q.Window), q.At
	period := (q.Window + b.period - 1) / b.period * b.period
	dims := make([]types.Dimension, 0, len(s.Dimensions))
	for _, d := range slices.Sorted(maps.Keys(s.Dimensions)) {
		dims = append(dims, types.Dimension{Name: aws.String(d), Value: aws.String(s.Dimensions[d])})
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(from), EndTime: aws.Time(to),
		MetricDataQueries: []types.MetricDataQuery{{
			Id: aws.String(name), ReturnData: aws.Bool(true),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String(s.Namespace), MetricName: aws.String(s.MetricName), Dimensions: dims},
				Period: aws.Int32(int32(period / time.Second)), Stat: aws.String(s.Stat),
			},
		}},
	}
	var v metricsrc.Value
	err := b.retry.Do(ctx, func(ctx context.Context) (time.Duration, error) {
		out, err := b.client.GetMetricData(ctx, in)
		if err != nil {
			return 0, describe(ctx, err)
		}
		v, err = result(out.MetricDataResults, s.Stat)
		return 0, err
	})
	return v, err
}

// result reads the one MetricDataResult of a request.
func result(rs []types.MetricDataResult, stat string) (metricsrc.Value, error) {
	switch {
	case len(rs) == 0:
		return metricsrc.Value{}, metricsrc.Bad("the answer has no MetricDataResults")
	case len(rs) > 1:
		return metricsrc.Value{}, &metricsrc.Failure{Kind: metricsrc.ErrSeveralSeries, Err: fmt.Errorf("%d MetricDataResults", len(rs))}
	}
	r := rs[0]
	for _, m := range r.Messages {
		return metricsrc.Value{}, metricsrc.Bad("%s: %s", aws.ToString(m.Code), aws.ToString(m.Value))
	}
	if len(r.Values) == 0 {
		return metricsrc.Value{NoData: true}, nil
	}
	sum := 0.0
	for _, v := range r.Values {
		sum += v
	}
	if stat == "Sum" || stat == "SampleCount" {
		return metricsrc.Number(sum)
	}
	return metricsrc.Number(sum / float64(len(r.Values)))
}

// describe classifies an SDK error for metricsrc.Retry: throttling, a
// 5xx and a network error are retried (plain errors); a refused
// parameter is ErrBadQuery; refused or missing credentials are Refused.
// The SDK's messages name no secret.
func describe(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var re *smithyhttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := fmt.Errorf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
		if status != 0 {
			msg = fmt.Errorf("HTTP %d %s: %s: %s", status, http.StatusText(status), ae.ErrorCode(), ae.ErrorMessage())
		}
		code := ae.ErrorCode()
		switch {
		case status >= 500 || status == http.StatusTooManyRequests || strings.Contains(code, "Throttl") || code == "RequestLimitExceeded":
			return msg
		case status == http.StatusForbidden || strings.Contains(code, "Signature") || strings.Contains(code, "AccessDenied") ||
			strings.Contains(code, "Token"):
			return metricsrc.Refused(fmt.Errorf("%w (check the AWS credentials: the SDK's default chain, and their cloudwatch:GetMetricData permission)", msg))
		}
		return &metricsrc.Failure{Kind: metricsrc.ErrBadQuery, Err: msg}
	}
	var oe *smithy.OperationError
	if status == 0 && errors.As(err, &oe) && strings.Contains(err.Error(), "credentials") {
		return metricsrc.Refused(fmt.Errorf("%w (no AWS credentials: set them in the environment, a shared credentials file or a role)", oe.Err))
	}
	return err // a network error, a 5xx or a 429 without a code: retried
}
