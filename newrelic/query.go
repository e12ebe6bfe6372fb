package newrelic

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// GraphQL is the NerdGraph query sent; the account and the NRQL are its
// variables, so no NRQL text is spliced into GraphQL.
const GraphQL = `query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }`

type request struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
}

type response struct {
	Data *struct {
		Actor *struct {
			Account *struct {
				NRQL *struct {
					Results []map[string]any `json:"results"`
				} `json:"nrql"`
			} `json:"account"`
		} `json:"actor"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// backend runs NRQL queries.
type backend struct {
	http    *metricsrc.HTTP
	account int
}

// run POSTs the NRQL to NerdGraph (the API-Key header is the client's).
// The answer must be one row with one number (nested objects such as
// percentile's {"percentile.duration": {"95": 0.2}} included); no row, or
// a null, is no data; several rows (FACET, TIMESERIES) are several
// series.
func (b *backend) run(ctx context.Context, _, nrql string, _ canary.Query) (metricsrc.Value, error) {
	body, err := json.Marshal(request{Query: GraphQL, Variables: map[string]any{"accountId": b.account, "nrql": nrql}})
	if err != nil {
		return metricsrc.Value{}, metricsrc.Bad("%v", err)
	}
	return b.http.Query(ctx, metricsrc.Request{Method: http.MethodPost, URL: b.http.Base(), Body: body,
		Header: http.Header{"Content-Type": {"application/json"}}}, parse)
}

func parse(body []byte) (metricsrc.Value, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return metricsrc.Value{}, metricsrc.Bad("the answer is not NerdGraph JSON: %v", err)
	}
	if len(r.Errors) > 0 {
		var msgs []string
		for _, e := range r.Errors {
			msgs = append(msgs, e.Message)
		}
		return metricsrc.Value{}, metricsrc.Bad("%s", strings.Join(msgs, "; "))
	}
	if r.Data == nil || r.Data.Actor == nil || r.Data.Actor.Account == nil || r.Data.Actor.Account.NRQL == nil {
		return metricsrc.Value{}, metricsrc.Bad("the answer has no data.actor.account.nrql")
	}
	rows := r.Data.Actor.Account.NRQL.Results
	switch {
	case len(rows) == 0:
		return metricsrc.Value{NoData: true}, nil
	case len(rows) > 1:
		return metricsrc.Value{}, &metricsrc.Failure{Kind: metricsrc.ErrSeveralSeries,
			Err: fmt.Errorf("%d rows (remove FACET or TIMESERIES): %s", len(rows), rowList(rows))}
	}
	var leaves []string
	var v *float64
	null := false
	walk("", rows[0], func(path string, x any) {
		leaves = append(leaves, path)
		switch x := x.(type) {
		case float64:
			v = &x
		case nil:
			null = true
		}
	})
	switch {
	case len(leaves) != 1:
		return metricsrc.Value{}, metricsrc.Bad("the row has %d fields (%s), want one number", len(leaves), strings.Join(leaves, ", "))
	case null:
		return metricsrc.Value{NoData: true}, nil
	case v == nil:
		return metricsrc.Value{}, metricsrc.Bad("%s is not a number", leaves[0])
	}
	return metricsrc.Number(*v)
}

// walk calls f with the path and value of every leaf of x.
func walk(path string, x any, f func(string, any)) {
	m, ok := x.(map[string]any)
	if !ok {
		f(path, x)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p := k
		if path != "" {
			p = path + "." + k
		}
		walk(p, m[k], f)
	}
}

// rowList shows up to three rows.
func rowList(rows []map[string]any) string {
	var parts []string
	for i, r := range rows {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(rows)-3))
			break
		}
		b, _ := json.Marshal(r)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, ", ")
}
