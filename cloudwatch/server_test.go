package cloudwatch

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/canary-dev/canary/apisrc/apisrctest"
)

// call is one GetMetricData request the recorded server received.
type call struct {
	method, path, auth, protocol, contentType string
	input                                     map[string]any
}

// stat is the one MetricDataQuery's MetricStat of a call, flattened.
func (c call) stat() (id, namespace, metric, stat string, period float64, dims map[string]string) {
	qs, _ := c.input["MetricDataQueries"].([]any)
	if len(qs) != 1 {
		return
	}
	q := qs[0].(map[string]any)
	ms, _ := q["MetricStat"].(map[string]any)
	m, _ := ms["Metric"].(map[string]any)
	dims = map[string]string{}
	ds, _ := m["Dimensions"].([]any)
	for _, d := range ds {
		d := d.(map[string]any)
		dims[d["Name"].(string)] = d["Value"].(string)
	}
	period, _ = ms["Period"].(float64)
	id, _ = q["Id"].(string)
	namespace, _ = m["Namespace"].(string)
	metric, _ = m["MetricName"].(string)
	stat, _ = ms["Stat"].(string)
	return
}

// recorded is a local CloudWatch speaking the SDK's protocol (Smithy RPC
// v2 CBOR): it decodes each request, keeps it, and answers with a
// recorded GetMetricData result (testdata, JSON as the API reference
// documents it) encoded as CBOR.
type recorded struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []call
	answer func(c call) (status int, file string)
}

func newRecorded(t *testing.T, answer func(c call) (int, string)) *recorded {
	r := &recorded{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		c := call{method: req.Method, path: req.URL.Path, auth: req.Header.Get("Authorization"),
			protocol: req.Header.Get("Smithy-Protocol"), contentType: req.Header.Get("Content-Type")}
		v, err := cbor.Decode(raw)
		if err != nil {
			t.Errorf("request body is not CBOR: %v", err)
			w.WriteHeader(400)
			return
		}
		c.input, _ = apisrctest.FromCBOR(v).(map[string]any)
		r.mu.Lock()
		r.calls = append(r.calls, c)
		answer := r.answer
		r.mu.Unlock()
		status, name := answer(c)
		body, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Error(err)
		}
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		if m, ok := doc.(map[string]any); ok && m["__type"] == "com.amazonaws.cloudwatch#Throttling" {
			w.Header().Set("X-Amzn-Query-Error", "Throttling;Sender")
		}
		w.WriteHeader(status)
		_, _ = w.Write(cbor.Encode(apisrctest.ToCBOR("", doc)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorded) sent() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}
