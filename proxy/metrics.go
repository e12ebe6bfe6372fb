package proxy

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names exported by Recorder.Register and Proxy.Register.
const (
	metricRequests = "canary_proxy_requests_total"
	metricDuration = "canary_proxy_request_duration_seconds"
	metricWeight   = "canary_proxy_weight"
	// The mirroring counters.
	metricMirrored       = "canary_proxy_mirrored_total"
	metricMirrorFailed   = "canary_proxy_mirror_failed_total"
	metricMirrorDropped  = "canary_proxy_mirror_dropped_total"
	metricMirrorTooLarge = "canary_proxy_mirror_too_large_total"
)

// durationBuckets are the classic histogram buckets of
// canary_proxy_request_duration_seconds, from 1ms to 10s: dense around
// common latency SLO thresholds (100ms to 1s), so histogram_quantile near
// a threshold such as 600ms interpolates within a bucket of 100–150ms
// rather than 250–500ms. 19 buckets plus +Inf per track.
var durationBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .2, .3, .4, .5, .6, .75, 1, 1.5, 2, 3, 5, 10}

var trackNames = [2]string{"stable", "canary"}

// codeClasses are the code label values, by status/100; "other" is for a
// status outside 100..599 and is exported only once seen.
var codeClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(status int) int {
	c := status / 100
	if c < 1 || c >= len(codeClasses) {
		return 0
	}
	return c
}

// promBucket returns the index of the first duration bucket holding secs
// (len(durationBuckets) for +Inf).
func promBucket(secs float64) int {
	i := 0
	for i < len(durationBuckets) && secs > durationBuckets[i] {
		i++
	}
	return i
}

// promTotals are one shard's counts since the recorder started.
type promTotals struct {
	codes   [len(codeClasses)]uint64
	buckets [len(durationBuckets) + 1]uint64 // per bucket, not cumulative
	count   uint64                           // latency observations
	sum     float64                          // seconds
}

func (sh *shard) observeTotals(o observation) {
	sh.totals.codes[o.class]++
	if o.bin >= 0 {
		sh.totals.buckets[o.promBucket]++
		sh.totals.count++
		sh.totals.sum += o.secs
	}
}

func (p *promTotals) merge(o *promTotals) {
	for i, c := range o.codes {
		p.codes[i] += c
	}
	for i, c := range o.buckets {
		p.buckets[i] += c
	}
	p.count += o.count
	p.sum += o.sum
}

// totals sums the track's shards, each read under its lock.
func (t *trackRec) totals() promTotals {
	var sum promTotals
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sum.merge(&sh.totals)
		sh.mu.Unlock()
	}
	return sum
}

var (
	requestsDesc = prometheus.NewDesc(metricRequests,
		"Requests proxied, by track (stable|canary) and status class (1xx..5xx); 502 when the upstream failed, 4xx (499) when the client went away.",
		[]string{"track", "code"}, nil)
	durationDesc = prometheus.NewDesc(metricDuration,
		"Time from receiving a request to finishing its response, by track. Protocol upgrades (WebSockets) are not observed.",
		[]string{"track"}, nil)
)

// collector exports a Recorder's totals at scrape time, so the hot path
// touches no Prometheus state.
type collector struct{ r *Recorder }

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- durationDesc
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	for ti, t := range c.r.tracks {
		tot := t.totals()
		for ci, n := range tot.codes {
			if ci == 0 && n == 0 {
				continue
			}
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), trackNames[ti], codeClasses[ci])
		}
		cum := make(map[float64]uint64, len(durationBuckets))
		var acc uint64
		for i, le := range durationBuckets {
			acc += tot.buckets[i]
			cum[le] = acc
		}
		ch <- prometheus.MustNewConstHistogram(durationDesc, tot.count, tot.sum, cum, trackNames[ti])
	}
}

// Register registers canary_proxy_requests_total{track,code} and
// canary_proxy_request_duration_seconds{track} (a histogram with buckets
// from 1ms to 10s) with reg. They are computed from the recorder's shards
// at scrape time and count from the recorder's start.
func (r *Recorder) Register(reg prometheus.Registerer) error {
	return reg.Register(collector{r})
}

// AdminHandler serves GET /metrics (the Prometheus text or protobuf
// exposition of g) and GET /healthz (200 "ok").
func AdminHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
