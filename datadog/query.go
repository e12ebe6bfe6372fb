package datadog

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// queryResponse is the answer of GET /api/v1/query.
type queryResponse struct {
	Status string   `json:"status"`
	Error  string   `json:"error"`
	Series []series `json:"series"`
}

type series struct {
	Metric    string        `json:"metric"`
	Scope     string        `json:"scope"`
	Pointlist [][2]*float64 `json:"pointlist"`
}

// backend runs Datadog queries.
type backend struct{ http *metricsrc.HTTP }

// run sends GET /api/v1/query with from and to in Unix seconds. A
// requests or errors answer is the sum of its points, a latency the mean
// of them; null points are skipped; no series (or only null points) is
// no data.
func (b *backend) run(ctx context.Context, name, query string, q canary.Query) (metricsrc.Value, error) {
	u := b.http.Base()
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/query"
	u.RawQuery = url.Values{
		"from":  {strconv.FormatInt(q.At.Add(-q.Window).Unix(), 10)},
		"to":    {strconv.FormatInt(q.At.Unix(), 10)},
		"query": {query},
	}.Encode()
	return b.http.Query(ctx, metricsrc.Request{URL: u, Header: http.Header{"Accept": {"application/json"}}},
		func(body []byte) (metricsrc.Value, error) { return parse(name, body) })
}

// parse reads a query answer.
func parse(name string, body []byte) (metricsrc.Value, error) {
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return metricsrc.Value{}, metricsrc.Bad("the answer is not Datadog's query JSON: %v", err)
	}
	switch {
	case r.Status == "error" || r.Error != "":
		return metricsrc.Value{}, metricsrc.Bad("%s", r.Error)
	case r.Status != "ok":
		return metricsrc.Value{}, metricsrc.Bad("the answer's status is %q, not ok", r.Status)
	case len(r.Series) == 0:
		return metricsrc.Value{NoData: true}, nil
	case len(r.Series) > 1:
		var scopes []string
		for _, s := range r.Series {
			scopes = append(scopes, s.Metric+"{"+s.Scope+"}")
		}
		return metricsrc.Value{}, metricsrc.Several(len(r.Series), scopes)
	}
	sum, n := 0.0, 0
	for _, p := range r.Series[0].Pointlist {
		if p[1] == nil {
			continue
		}
		if p[0] == nil {
			return metricsrc.Value{}, metricsrc.Bad("a point without a timestamp")
		}
		sum += *p[1]
		n++
	}
	switch {
	case n == 0:
		return metricsrc.Value{NoData: true}, nil
	case name == metricsrc.QueryLatency:
		return metricsrc.Number(sum / float64(n))
	}
	return metricsrc.Number(math.Max(sum, 0))
}
