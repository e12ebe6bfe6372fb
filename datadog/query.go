package datadog

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary/apisrc"
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

// Run implements apisrc.Backend: GET /api/v1/query with from and to in
// Unix seconds. A requests or errors answer is the sum of its points, a
// latency the mean of them; null points are skipped; no series (or only
// null points) is no data.
func (b *backend) Run(ctx context.Context, name, query string, from, to time.Time) (apisrc.Value, error) {
	qs := url.Values{
		"from":  {strconv.FormatInt(from.Unix(), 10)},
		"to":    {strconv.FormatInt(to.Unix(), 10)},
		"query": {query},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/api/v1/query?"+qs.Encode(), nil)
	if err != nil {
		return apisrc.Value{}, err
	}
	req.Header.Set("DD-API-KEY", b.apiKey)
	req.Header.Set("DD-APPLICATION-KEY", b.appKey)
	req.Header.Set("Accept", "application/json")
	body, err := apisrc.Do(b.hc, req, "apiKey and applicationKey")
	if err != nil {
		return apisrc.Value{}, err
	}
	return parse(name, body)
}

// parse reads a query answer.
func parse(name string, body []byte) (apisrc.Value, error) {
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return apisrc.Value{}, fmt.Errorf("%w: the answer is not Datadog's query JSON: %v", apisrc.ErrBadQuery, err)
	}
	switch {
	case r.Status == "error" || r.Error != "":
		return apisrc.Value{}, fmt.Errorf("%w: %s", apisrc.ErrBadQuery, r.Error)
	case r.Status != "ok":
		return apisrc.Value{}, fmt.Errorf("%w: the answer's status is %q, not ok", apisrc.ErrBadQuery, r.Status)
	case len(r.Series) == 0:
		return apisrc.Value{NoData: true}, nil
	case len(r.Series) > 1:
		var scopes []string
		for _, s := range r.Series[:min(len(r.Series), 3)] {
			scopes = append(scopes, s.Metric+"{"+s.Scope+"}")
		}
		return apisrc.Value{}, fmt.Errorf("%w: %d series (aggregate them, e.g. sum:, or narrow the tags): %s",
			apisrc.ErrSeveralSeries, len(r.Series), strings.Join(scopes, ", "))
	}
	sum, n := 0.0, 0
	for _, p := range r.Series[0].Pointlist {
		if p[1] == nil {
			continue
		}
		if p[0] == nil {
			return apisrc.Value{}, fmt.Errorf("%w: a point without a timestamp", apisrc.ErrBadQuery)
		}
		sum += *p[1]
		n++
	}
	switch {
	case n == 0:
		return apisrc.Value{NoData: true}, nil
	case name == apisrc.QueryLatency:
		return apisrc.Value{V: sum / float64(n)}, nil
	}
	return apisrc.Value{V: math.Max(sum, 0)}, nil
}
