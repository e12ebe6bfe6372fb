package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
)

// result is one size's measurements.
type result struct {
	N        int     `json:"n"`
	Interval float64 `json:"intervalSec"`
	Window   float64 `json:"windowSec"`
	// Ramp is the time to apply every plan and see each rollout evaluated
	// once; RampDone is false when that did not happen within the limit.
	Ramp     float64 `json:"rampSec"`
	RampDone bool    `json:"rampDone"`

	Evals       int64   `json:"evals"`
	EvalsPerSec float64 `json:"evalsPerSec"`
	DuePerSec   float64 `json:"duePerSec"`
	CPUSec      float64 `json:"cpuSec"`
	CPUCores    float64 `json:"cpuCores"`
	CPUPerEval  float64 `json:"cpuPerEvalUs"`
	// OthersCores is the CPU other processes used during the window (in
	// cores); WaitCores the time this process's threads were runnable but
	// got no CPU (in cores): a busy machine, not this process's doing.
	OthersCores float64 `json:"othersCores"`
	WaitCores   float64 `json:"waitCores"`

	Commits      int64   `json:"commits"`
	CommitErrors int64   `json:"commitErrors"`
	EventsPerSec float64 `json:"eventsPerSec"`
	CommitP50    float64 `json:"commitP50ms"`
	CommitP99    float64 `json:"commitP99ms"`

	HeapMB      float64 `json:"heapMB"`
	HeapPerRoll float64 `json:"heapPerRolloutKB"`
	RSSMB       float64 `json:"rssMB"`
	RSSPerRoll  float64 `json:"rssPerRolloutKB"`
	PeakRSSMB   float64 `json:"peakRssMB"`
	// StackMB is goroutine stacks; GoMB all memory the Go runtime holds
	// from the OS (heap, stacks, metadata; Sys − HeapReleased). The rest of
	// the RSS is SQLite's (page caches, WAL index) and the binary.
	StackMB    float64 `json:"stackMB"`
	GoMB       float64 `json:"goMB"`
	Goroutines int     `json:"goroutines"`
	// HeapInuseMB is the heap's spans in use after the GC (live objects
	// and their fragmentation); HeapHeldMB the heap memory the runtime
	// keeps from the OS without using it (idle, not yet released).
	HeapInuseMB float64 `json:"heapInuseMB"`
	HeapHeldMB  float64 `json:"heapHeldMB"`
	// In the window: garbage collections per second and the CPU the
	// collector used (runtime/metrics, in cores).
	GCPerSec float64 `json:"gcPerSec"`
	GCCores  float64 `json:"gcCores"`
	DBMB     float64 `json:"dbMB"`
	WALMB    float64 `json:"walMB"`
	// After the window, once the store is closed (the WAL copied back):
	// the file's size, the events in it and an evaluation body's size.
	ClosedMB     float64 `json:"closedMB"`
	StoredEvents int64   `json:"storedEvents"`
	EvalBody     float64 `json:"evalBodyBytes"`
	StateBytes   float64 `json:"stateBytes"`
	// In the window: transactions (each one WAL append and fsync) and the
	// commits they held, bytes the process wrote (WAL frames, checkpoints).
	Txs        int64 `json:"txs"`
	TxWrites   int64 `json:"txWrites"`
	WriteBytes int64 `json:"writeBytes"`

	Start      float64 `json:"startSec"`
	ResumeP50  float64 `json:"resumeP50Sec"`
	Resume     float64 `json:"resumeSec"`
	ResumeDone bool    `json:"resumeDone"`
}

// instance is one open store with its manager running.
type instance struct {
	s      *store.Store
	m      *manager.Manager
	cancel context.CancelFunc
}

func open(ctx context.Context, path string, t *tracker) (*instance, error) {
	s, err := store.OpenConfig(ctx, store.Config{Path: path, OnCommit: t.onCommit})
	if err != nil {
		return nil, err
	}
	m, err := manager.New(manager.Config{Store: s, Providers: providers, Outbox: t.outbox})
	if err != nil {
		s.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	if err := m.Start(rctx); err != nil {
		cancel()
		s.Close()
		return nil, err
	}
	return &instance{s: s, m: m, cancel: cancel}, nil
}

// close stops every runner (they resume at the next Start) and closes the
// store.
func (in *instance) close() error {
	in.cancel()
	in.m.Wait()
	return in.s.Close()
}

// runSize measures n rollouts.
func runSize(ctx context.Context, o options, n int) (result, error) {
	res := result{N: n, Interval: o.interval.Seconds(), Window: o.duration.Seconds(),
		DuePerSec: float64(n) / o.interval.Seconds()}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseRSS := procStatus("VmRSS")

	t := &tracker{}
	path := dbPath(o, n)
	in, err := open(ctx, path, t)
	if err != nil {
		return res, err
	}
	if err := ramp(ctx, o, n, in, t, &res); err != nil {
		in.close()
		return res, err
	}
	logf("%d rollouts: ramp %.1fs (all evaluated: %v); warm-up %s", n, res.Ramp, res.RampDone, o.warmup)
	time.Sleep(o.warmup)
	if err := window(o, n, in.s, t, &res); err != nil {
		in.close()
		return res, err
	}
	if err := memory(o, n, base, baseRSS, &res); err != nil {
		in.close()
		return res, err
	}
	res.DBMB = float64(fileSize(path)) / (1 << 20)
	res.WALMB = float64(fileSize(path+"-wal")) / (1 << 20)
	if err := in.close(); err != nil {
		return res, err
	}
	if err := stored(ctx, path, &res); err != nil {
		return res, err
	}
	return res, resume(ctx, o, n, path, t, &res)
}

// ramp applies n plans (8 at a time) and waits until every rollout has
// been evaluated once, or a limit.
func ramp(ctx context.Context, o options, n int, in *instance, t *tracker, res *result) error {
	start := time.Now()
	all := t.expect(n)
	var applied atomic.Int64
	stop := progress(n, &applied, t)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if _, err := in.m.Apply(ctx, planText(i, o.interval), false, "bench"); err != nil {
					errs <- fmt.Errorf("apply rollout %d: %w", i, err)
					return
				}
				applied.Add(1)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	limit := 60*time.Second + time.Duration(n)*10*time.Millisecond
	select {
	case <-all:
		res.RampDone = true
	case <-time.After(limit - time.Since(start)):
	}
	res.Ramp = time.Since(start).Seconds()
	t.firsts()
	return nil
}

// progress logs the ramp every 5s until stop is called.
func progress(n int, applied *atomic.Int64, t *tracker) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				t.mu.Lock()
				seen := len(t.first)
				t.mu.Unlock()
				logf("ramp: %d of %d applied, %d evaluated; %d commits, %d events, %d evaluations so far",
					applied.Load(), n, seen, t.commits.Load(), t.events.Load(), t.evals.Load())
			}
		}
	}()
	return func() { close(done) }
}

// window measures the steady state for o.duration.
func window(o options, n int, s *store.Store, t *tracker, res *result) error {
	if o.profile != "" {
		stop, err := cpuProfile(filepath.Join(o.profile, fmt.Sprintf("cpu-%d.pprof", n)))
		if err != nil {
			return err
		}
		defer stop()
	}
	t.lat.reset()
	evals0, commits0, events0, errs0 := t.evals.Load(), t.commits.Load(), t.events.Load(), t.errs.Load()
	ws0, wrote0 := s.WriteStats(), writtenBytes()
	gc0 := gcStats()
	cpu0, busy0, wait0, start := cpuTime(), machineBusy(), runDelay(), time.Now()
	time.Sleep(o.duration)
	cpu, wall := cpuTime()-cpu0, time.Since(start)
	gc := gcStats()
	res.GCPerSec = float64(gc.cycles-gc0.cycles) / wall.Seconds()
	res.GCCores = (gc.cpu - gc0.cpu) / wall.Seconds()
	ws := s.WriteStats()
	res.Txs, res.TxWrites = ws.Transactions-ws0.Transactions, ws.Writes-ws0.Writes
	res.WriteBytes = writtenBytes() - wrote0
	res.OthersCores = max(0, (machineBusy()-busy0-cpu).Seconds()/wall.Seconds())
	res.WaitCores = (runDelay() - wait0).Seconds() / wall.Seconds()
	res.Evals = t.evals.Load() - evals0
	res.Commits = t.commits.Load() - commits0
	res.CommitErrors = t.errs.Load() - errs0
	res.EvalsPerSec = float64(res.Evals) / wall.Seconds()
	res.EventsPerSec = float64(t.events.Load()-events0) / wall.Seconds()
	res.CPUSec = cpu.Seconds()
	res.CPUCores = cpu.Seconds() / wall.Seconds()
	if res.Evals > 0 {
		res.CPUPerEval = float64(cpu.Microseconds()) / float64(res.Evals)
	}
	res.CommitP50 = ms(t.lat.quantile(0.50))
	res.CommitP99 = ms(t.lat.quantile(0.99))
	res.PeakRSSMB = mb(procStatus("VmHWM"))
	res.Goroutines = runtime.NumGoroutine()
	logf("%d rollouts: %.0f evaluations/s of %.0f due, %.2f cores, %.0fµs CPU per evaluation, %.0f events/s, commit p50 %.2fms p99 %.2fms; %.0f transactions/s of %.1f commits each, %.0f bytes written per commit; other processes %.2f cores, waited for a CPU %.2f cores",
		n, res.EvalsPerSec, res.DuePerSec, res.CPUCores, res.CPUPerEval, res.EventsPerSec, res.CommitP50, res.CommitP99,
		float64(res.Txs)/wall.Seconds(), perTx(*res), float64(res.WriteBytes)/float64(max(res.TxWrites, 1)),
		res.OthersCores, res.WaitCores)
	return nil
}

// memory measures the live heap and RSS after a GC, per rollout.
func memory(o options, n int, base runtime.MemStats, baseRSS int64, res *result) error {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := procStatus("VmRSS")
	res.HeapMB = mb(int64(ms.HeapAlloc))
	res.HeapPerRoll = float64(int64(ms.HeapAlloc)-int64(base.HeapAlloc)) / float64(n) / 1024
	res.RSSMB = mb(rss)
	res.StackMB = mb(int64(ms.StackInuse))
	res.GoMB = mb(int64(ms.Sys - ms.HeapReleased))
	res.HeapInuseMB = mb(int64(ms.HeapInuse))
	res.HeapHeldMB = mb(int64(ms.HeapIdle - ms.HeapReleased))
	res.RSSPerRoll = float64(rss-baseRSS) / float64(n) / 1024
	if o.profile == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(o.profile, fmt.Sprintf("heap-%d.pprof", n)))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return err
	}
	// The goroutines, counted by stack: which ones each rollout has.
	g, err := os.Create(filepath.Join(o.profile, fmt.Sprintf("goroutines-%d.txt", n)))
	if err != nil {
		return err
	}
	defer g.Close()
	return pprof.Lookup("goroutine").WriteTo(g, 1)
}

// gcTotals are the collector's totals so far.
type gcTotals struct {
	cycles uint64
	cpu    float64 // seconds
}

// gcStats reads the collector's cycles and CPU time (runtime/metrics).
func gcStats() gcTotals {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	var t gcTotals
	if s[0].Value.Kind() == metrics.KindUint64 {
		t.cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		t.cpu = s[1].Value.Float64()
	}
	return t
}

// resume reopens the store and a manager over it and waits until every
// rollout has evaluated again.
func resume(ctx context.Context, o options, n int, path string, t *tracker, res *result) error {
	if o.profile != "" {
		stop, err := cpuProfile(filepath.Join(o.profile, fmt.Sprintf("cpu-resume-%d.pprof", n)))
		if err != nil {
			return err
		}
		defer stop()
	}
	all := t.expect(n)
	start := time.Now()
	in, err := open(ctx, path, t)
	if err != nil {
		return err
	}
	defer in.close()
	res.Start = time.Since(start).Seconds()
	select {
	case <-all:
		res.ResumeDone = true
	case <-time.After(60 * time.Second):
	}
	ds := t.firsts()
	res.ResumeP50 = percentile(ds, 0.5).Seconds()
	res.Resume = percentile(ds, 1).Seconds()
	logf("%d rollouts: resumed (Start %.2fs), every rollout evaluated again after %.2fs (%d of %d)",
		n, res.Start, res.Resume, len(ds), n)
	return nil
}

// cpuProfile writes a CPU profile to path until stop is called.
func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// perTx is the mean number of commits per transaction in the window.
func perTx(r result) float64 { return float64(r.TxWrites) / float64(max(r.Txs, 1)) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mb(b int64) float64         { return float64(b) / (1 << 20) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
