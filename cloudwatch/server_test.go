package cloudwatch

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/canary-dev/canary/metricsrc/srvtest"
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

// decode reads a GetMetricData request a srvtest.Recorder received.
func decode(t testing.TB, c srvtest.Call) call {
	d := call{method: c.Method, path: c.Path, auth: c.Header.Get("Authorization"),
		protocol: c.Header.Get("Smithy-Protocol"), contentType: c.Header.Get("Content-Type")}
	v, err := cbor.Decode(c.Body)
	if err != nil {
		t.Errorf("request body is not CBOR: %v", err)
		return d
	}
	d.input, _ = srvtest.FromCBOR(v).(map[string]any)
	return d
}

// reply is a recorded GetMetricData answer (testdata/NAME, JSON as the
// API reference documents it) encoded as the SDK's protocol (Smithy RPC
// v2 CBOR) with status.
func reply(t testing.TB, status int, name string) srvtest.Reply {
	body, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Error(err)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	r := srvtest.Reply{Status: status, Body: string(cbor.Encode(srvtest.ToCBOR("", doc))),
		Header: map[string]string{"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}}
	if m, ok := doc.(map[string]any); ok && m["__type"] == "com.amazonaws.cloudwatch#Throttling" {
		r.Header["X-Amzn-Query-Error"] = "Throttling;Sender"
	}
	return r
}

// recorded is a local CloudWatch: a srvtest.Recorder that decodes each
// request and answers with the recorded result answer names.
type recorded struct {
	*srvtest.Recorder
	t testing.TB
}

func newRecorded(t testing.TB, answer func(c call) (status int, file string)) *recorded {
	r := &recorded{t: t}
	r.Recorder = srvtest.Record(t, r.adapt(answer))
	return r
}

func (r *recorded) adapt(answer func(c call) (int, string)) func(srvtest.Call) srvtest.Reply {
	return func(c srvtest.Call) srvtest.Reply {
		status, name := answer(decode(r.t, c))
		return reply(r.t, status, name)
	}
}

// setAnswer replaces the answers.
func (r *recorded) setAnswer(answer func(c call) (int, string)) { r.SetAnswer(r.adapt(answer)) }

// sent returns the requests received, decoded.
func (r *recorded) sent() []call {
	var out []call
	for _, c := range r.Calls() {
		out = append(out, decode(r.t, c))
	}
	return out
}
