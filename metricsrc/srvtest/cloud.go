// Local stand-ins of the Datadog, New Relic
// (NerdGraph) and CloudWatch APIs for tests: each answers in the API's
// documented format (Datadog's /api/v1/query JSON, NerdGraph's
// actor.account.nrql.results, CloudWatch's GetMetricData over the AWS
// SDK's rpc-v2-cbor) with the counts a Traffic function gives for the
// query's track and window, so a whole rollout can run against them on a
// stepped clock. The track is the one whose name the query's selector
// contains (track:canary, tags.track = 'canary', targetgroup/shop-canary/…).

package srvtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/canary-dev/canary"
)

// Counts is what a track served in a window.
type Counts struct {
	// Requests and Errors (5xx) in the window; Latency the quantile asked
	// for, in seconds (zero: no latency data).
	Requests, Errors float64
	Latency          float64
}

// Traffic gives a track's counts over [from, to).
type Traffic func(track canary.Track, from, to time.Time) Counts

// Server is a running stand-in.
type Server struct {
	URL string

	mu       sync.Mutex
	fail     int
	requests int
}

// SetFail makes the server answer every request with status (0: answer
// normally).
func (s *Server) SetFail(status int) {
	s.mu.Lock()
	s.fail = status
	s.mu.Unlock()
}

// Requests is how many requests the server has received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) failing() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	return s.fail
}

func trackOf(selector string) canary.Track {
	if strings.Contains(selector, "canary") {
		return canary.TrackCanary
	}
	return canary.TrackStable
}

func startCloud(t testing.TB, h func(s *Server, w http.ResponseWriter, r *http.Request)) *Server {
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := s.failing(); code != 0 {
			http.Error(w, http.StatusText(code), code)
			return
		}
		h(s, w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Datadog answers GET /api/v1/query: trace.http.request.hits and .errors
// queries with the counts, any other (the latency) with the latency; one
// series of one point, or no series when the count is zero.
func Datadog(t testing.TB, traffic Traffic) *Server {
	return startCloud(t, func(_ *Server, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
		to, _ := strconv.ParseInt(q.Get("to"), 10, 64)
		if r.URL.Path != "/api/v1/query" || r.Header.Get("DD-API-KEY") == "" || r.Header.Get("DD-APPLICATION-KEY") == "" {
			http.Error(w, `{"errors":["Forbidden"]}`, http.StatusForbidden)
			return
		}
		query := q.Get("query")
		c := traffic(trackOf(query), time.Unix(from, 0), time.Unix(to, 0))
		v := c.Latency
		switch {
		case strings.Contains(query, ".hits"):
			v = c.Requests
		case strings.Contains(query, ".errors"):
			v = c.Errors
		}
		series := []any{}
		if v != 0 {
			series = append(series, map[string]any{"metric": "trace.http.request", "scope": query,
				"pointlist": [][2]float64{{float64(to * 1000), v}}})
		}
		writeJSON(w, map[string]any{"status": "ok", "res_type": "time_series", "query": query, "series": series})
	})
}

// NewRelic answers NerdGraph NRQL queries: percentile(...) with the
// latency, a query with "error IS true" with the errors, others with the
// requests; the window is read from SINCE and UNTIL (Unix ms).
func NewRelic(t testing.TB, traffic Traffic) *Server {
	return startCloud(t, func(_ *Server, w http.ResponseWriter, r *http.Request) {
		var body struct {
			Variables struct {
				NRQL string `json:"nrql"`
			} `json:"variables"`
		}
		if r.Method != http.MethodPost || r.Header.Get("API-Key") == "" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, `{"errors":[{"message":"bad request"}]}`, http.StatusBadRequest)
			return
		}
		nrql := body.Variables.NRQL
		c := traffic(trackOf(nrql), msAfter(nrql, "SINCE "), msAfter(nrql, "UNTIL "))
		var row map[string]any
		switch {
		case strings.Contains(nrql, "percentile("):
			var v any
			if c.Latency != 0 {
				v = c.Latency
			}
			row = map[string]any{"percentile.duration": map[string]any{"95": v}}
		case strings.Contains(nrql, "error IS true"):
			row = map[string]any{"count": c.Errors}
		default:
			row = map[string]any{"count": c.Requests}
		}
		writeJSON(w, map[string]any{"data": map[string]any{"actor": map[string]any{"account": map[string]any{
			"nrql": map[string]any{"results": []any{row}}}}}})
	})
}

func msAfter(nrql, key string) time.Time {
	_, rest, _ := strings.Cut(nrql, key)
	f := strings.Fields(rest)
	if len(f) == 0 {
		return time.Time{}
	}
	ms, _ := strconv.ParseInt(f[0], 10, 64)
	return time.UnixMilli(ms)
}

// CloudWatch answers GetMetricData: RequestCount and
// HTTPCode_Target_5XX_Count with the counts, other metrics with the
// latency; the track is the TargetGroup dimension's; no datapoint when
// the value is zero.
func CloudWatch(t testing.TB, traffic Traffic) *Server {
	return startCloud(t, func(_ *Server, w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		v, err := cbor.Decode(raw)
		in, _ := FromCBOR(v).(map[string]any)
		qs, _ := in["MetricDataQueries"].([]any)
		if err != nil || len(qs) != 1 || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("ValidationError"), "message": cbor.String("bad request")}))
			return
		}
		q := qs[0].(map[string]any)
		ms := q["MetricStat"].(map[string]any)
		m := ms["Metric"].(map[string]any)
		tg := ""
		for _, d := range m["Dimensions"].([]any) {
			if d := d.(map[string]any); d["Name"] == "TargetGroup" {
				tg, _ = d["Value"].(string)
			}
		}
		from, to := in["StartTime"].(float64), in["EndTime"].(float64)
		c := traffic(trackOf(tg), time.Unix(int64(from), 0), time.Unix(int64(to), 0))
		val := c.Latency
		switch m["MetricName"] {
		case "RequestCount":
			val = c.Requests
		case "HTTPCode_Target_5XX_Count":
			val = c.Errors
		}
		res := map[string]any{"Id": q["Id"], "Label": m["MetricName"], "StatusCode": "Complete", "Timestamps": []any{}, "Values": []any{}}
		if val != 0 {
			res["Timestamps"], res["Values"] = []any{from}, []any{val}
		}
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		_, _ = w.Write(cbor.Encode(ToCBOR("", map[string]any{"MetricDataResults": []any{res}, "Messages": []any{}})))
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// FromCBOR turns a decoded CBOR value into JSON-like values (maps, lists,
// strings, float64, bool); timestamps (tag 1) become Unix seconds.
func FromCBOR(v cbor.Value) any {
	switch v := v.(type) {
	case cbor.Map:
		m := map[string]any{}
		for k, x := range v {
			m[k] = FromCBOR(x)
		}
		return m
	case cbor.List:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = FromCBOR(x)
		}
		return l
	case cbor.String:
		return string(v)
	case cbor.Uint:
		return float64(v)
	case cbor.NegInt:
		return -float64(v)
	case cbor.Float32:
		return float64(v)
	case cbor.Float64:
		return float64(v)
	case cbor.Bool:
		return bool(v)
	case *cbor.Tag:
		return FromCBOR(v.Value)
	}
	return fmt.Sprintf("%T", v)
}

// ToCBOR encodes a JSON-like document as CloudWatch answers: members
// named Timestamps hold Unix seconds, sent as CBOR timestamps (tag 1);
// Values are doubles.
func ToCBOR(key string, v any) cbor.Value {
	switch v := v.(type) {
	case map[string]any:
		m := cbor.Map{}
		for k, x := range v {
			m[k] = ToCBOR(k, x)
		}
		return m
	case []any:
		l := cbor.List{}
		for _, x := range v {
			if key == "Timestamps" {
				l = append(l, &cbor.Tag{ID: 1, Value: cbor.Float64(x.(float64))})
				continue
			}
			l = append(l, ToCBOR(key, x))
		}
		return l
	case string:
		return cbor.String(v)
	case float64:
		if key != "Values" && v >= 0 && v == float64(uint64(v)) {
			return cbor.Uint(v)
		}
		return cbor.Float64(v)
	case bool:
		return cbor.Bool(v)
	}
	return &cbor.Nil{}
}
