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
	"github.com/canary-dev/canary/apisrc"
)

// backend runs GetMetricData requests.
type backend struct {
	client  *cloudwatch.Client
	period  time.Duration
	queries map[string]query
}

// Run implements apisrc.Backend: one GetMetricData of the statistic over
// [from, to) with a period of the window rounded up to the resolution,
// so one datapoint (two when the window straddles a period boundary)
// covers it. Sum statistics add their datapoints, others average them; no
// datapoint is no data.
func (b *backend) Run(ctx context.Context, name, rendered string, from, to time.Time) (apisrc.Value, error) {
	var s stat
	if err := json.Unmarshal([]byte(rendered), &s); err != nil {
		return apisrc.Value{}, err
	}
	period := (to.Sub(from) + b.period - 1) / b.period * b.period
	dims := make([]types.Dimension, 0, len(s.Dimensions))
	for _, d := range slices.Sorted(maps.Keys(s.Dimensions)) {
		dims = append(dims, types.Dimension{Name: aws.String(d), Value: aws.String(s.Dimensions[d])})
	}
	out, err := b.client.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(from), EndTime: aws.Time(to),
		MetricDataQueries: []types.MetricDataQuery{{
			Id: aws.String(name), ReturnData: aws.Bool(true),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String(s.Namespace), MetricName: aws.String(s.MetricName), Dimensions: dims},
				Period: aws.Int32(int32(period / time.Second)), Stat: aws.String(s.Stat),
			},
		}},
	})
	if err != nil {
		return apisrc.Value{}, describe(ctx, err)
	}
	return result(out.MetricDataResults, s.Stat)
}

// result reads the one MetricDataResult of a request.
func result(rs []types.MetricDataResult, stat string) (apisrc.Value, error) {
	switch {
	case len(rs) == 0:
		return apisrc.Value{}, fmt.Errorf("%w: the answer has no MetricDataResults", apisrc.ErrBadQuery)
	case len(rs) > 1:
		return apisrc.Value{}, fmt.Errorf("%w: %d MetricDataResults", apisrc.ErrSeveralSeries, len(rs))
	}
	r := rs[0]
	for _, m := range r.Messages {
		return apisrc.Value{}, fmt.Errorf("%w: %s: %s", apisrc.ErrBadQuery, aws.ToString(m.Code), aws.ToString(m.Value))
	}
	if len(r.Values) == 0 {
		return apisrc.Value{NoData: true}, nil
	}
	sum := 0.0
	for _, v := range r.Values {
		sum += v
	}
	if stat == "Sum" || stat == "SampleCount" {
		return apisrc.Value{V: sum}, nil
	}
	return apisrc.Value{V: sum / float64(len(r.Values))}, nil
}

// describe classifies an SDK error: throttling, a 5xx and a network
// error are transient; a refused parameter is a bad query; a refused
// signature says to check the credentials. The SDK's messages name no
// secret.
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
			return apisrc.Transient(msg)
		case status == http.StatusForbidden || strings.Contains(code, "Signature") || strings.Contains(code, "AccessDenied") ||
			strings.Contains(code, "Token"):
			return fmt.Errorf("%w (check the AWS credentials: the SDK's default chain, and their cloudwatch:GetMetricData permission)", msg)
		}
		return fmt.Errorf("%w: %w", apisrc.ErrBadQuery, msg)
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return apisrc.Transient(err)
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) && strings.Contains(err.Error(), "credentials") {
		return fmt.Errorf("%w (no AWS credentials: set them in the environment, a shared credentials file or a role)", oe.Err)
	}
	return apisrc.Transient(err)
}
