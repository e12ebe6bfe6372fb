package loadgen

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Counts tallies finished requests.
type Counts struct {
	// Requests finished: answered, or failed without an answer.
	Requests int64 `json:"requests"`
	// Status2xx .. Status5xx count answers by status class; StatusOther
	// counts any other status.
	Status2xx   int64 `json:"status2xx"`
	Status3xx   int64 `json:"status3xx"`
	Status4xx   int64 `json:"status4xx"`
	Status5xx   int64 `json:"status5xx"`
	StatusOther int64 `json:"statusOther"`
	// Errors are requests that got no answer (refused, reset, timed out).
	Errors int64 `json:"errors"`
}

// add counts one request: an answer's status, or 0 for an error.
func (c *Counts) add(status int) {
	c.Requests++
	switch {
	case status == 0:
		c.Errors++
	case status >= 200 && status < 300:
		c.Status2xx++
	case status >= 300 && status < 400:
		c.Status3xx++
	case status >= 400 && status < 500:
		c.Status4xx++
	case status >= 500 && status < 600:
		c.Status5xx++
	default:
		c.StatusOther++
	}
}

// Result is what a run has done so far, or in all.
type Result struct {
	// Counts are over all finished requests.
	Counts
	// Tracks counts the answers that carried an X-Canary-Track header, by
	// its value (stable, canary).
	Tracks map[string]Counts `json:"tracks"`
	// Canceled counts requests cut off by Stop or the run's context; they
	// are not in Requests.
	Canceled int64 `json:"canceled"`
	// LastError is the most recent request error, for diagnosis.
	LastError string `json:"lastError,omitempty"`
	// Elapsed is the time since the run started, or its whole length once
	// it has ended.
	Elapsed time.Duration `json:"elapsed"`
	// Late counts requests that started more than a millisecond after
	// they were due (every slot was busy, or the machine was).
	Late int64 `json:"late"`
	// Latency summarizes the latencies of the answered requests.
	Latency Latency `json:"latency"`
}

// Gen is a running load generator.
type Gen struct {
	cfg    Config
	client *http.Client
	own    *http.Transport // the default client's, closed at the end
	cancel context.CancelFunc
	done   chan struct{}
	start  time.Time

	mu   sync.Mutex
	res  Result
	hist histogram
	end  time.Time
}

// Run sends the load cfg describes and returns when its bound is reached
// or ctx is done (then with ctx's error).
func Run(ctx context.Context, cfg Config) (Result, error) {
	g, err := Start(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	<-g.Done()
	return g.Snapshot(), ctx.Err()
}

// Start begins sending the load cfg describes and returns at once. The
// run ends at its bound, at Stop, or when ctx is done.
func Start(ctx context.Context, cfg Config) (*Gen, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &Gen{cfg: cfg, client: cfg.Client, cancel: cancel, done: make(chan struct{}), start: time.Now()}
	if g.client == nil {
		g.client, g.own = newClient(cfg)
	}
	g.res.Tracks = map[string]Counts{}
	go g.run(ctx)
	return g, nil
}

// Done is closed when the run has ended and every request has finished.
func (g *Gen) Done() <-chan struct{} { return g.done }

// Stop ends the run now, cancels the requests in flight, waits for them,
// and returns the final result. It is safe to call more than once.
func (g *Gen) Stop() Result {
	g.cancel()
	<-g.done
	return g.Snapshot()
}

// Snapshot returns the counts so far; it may be called at any time.
func (g *Gen) Snapshot() Result {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.res
	r.Tracks = maps.Clone(g.res.Tracks)
	r.Latency = g.hist.summary()
	if g.end.IsZero() {
		r.Elapsed = time.Since(g.start)
	} else {
		r.Elapsed = g.end.Sub(g.start)
	}
	return r
}

// run is the scheduler: it starts request i when it is due and a slot is
// free, until the bound, then waits for the requests in flight.
func (g *Gen) run(ctx context.Context) {
	defer close(g.done)
	defer g.cancel()
	sendCtx := ctx
	if g.cfg.Duration > 0 {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithDeadline(ctx, g.start.Add(g.cfg.Duration))
		defer cancel()
	}
	p := newPacer(g.start, g.cfg.Rate)
	defer p.stop()
	slots := make(chan struct{}, g.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := 0; g.cfg.MaxRequests == 0 || i < g.cfg.MaxRequests; i++ {
		if !p.wait(sendCtx, i) || !acquire(sendCtx, slots) {
			break
		}
		due := p.due(i)
		wg.Go(func() {
			defer func() { <-slots }()
			g.do(ctx, i, due)
		})
	}
	wg.Wait()
	g.mu.Lock()
	g.end = time.Now()
	g.mu.Unlock()
	if g.own != nil {
		g.own.CloseIdleConnections()
	}
}

// acquire takes a slot, or reports false once ctx is done.
func acquire(ctx context.Context, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		if ctx.Err() != nil { // both were ready; the bound wins
			<-slots
			return false
		}
		return true
	case <-ctx.Done():
		return false
	}
}

// do sends request i, due at due, and counts its outcome.
func (g *Gen) do(ctx context.Context, i int, due time.Time) {
	reqCtx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, g.cfg.Method, g.cfg.Target, nil)
	if err != nil {
		g.record(0, "", err)
		return
	}
	if g.cfg.Users > 0 {
		req.Header.Set(g.cfg.Header, "user-"+strconv.Itoa(i%g.cfg.Users))
	}
	sent := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			g.mu.Lock()
			g.res.Canceled++
			g.mu.Unlock()
			return
		}
		g.record(0, "", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is reused
	resp.Body.Close()
	g.record(resp.StatusCode, resp.Header.Get(TrackHeader), nil)
	g.timed(due, sent, time.Now())
}

// timed measures an answered request due at due, sent at sent, done at
// done: from due when it started late (a stall shows in the latencies),
// else from sent (the timer's overshoot is not the server's).
func (g *Gen) timed(due, sent, done time.Time) {
	from, late := sent, sent.Sub(due) > time.Millisecond
	if late && g.cfg.Rate > 0 {
		from = due
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if late && g.cfg.Rate > 0 {
		g.res.Late++
	}
	if !due.Before(g.start.Add(g.cfg.Warmup)) {
		g.hist.add(done.Sub(from))
	}
}

// record counts one finished request.
func (g *Gen) record(status int, track string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.res.add(status)
	if err != nil {
		g.res.LastError = err.Error()
	}
	if track != "" {
		c := g.res.Tracks[track]
		c.add(status)
		g.res.Tracks[track] = c
	}
}
