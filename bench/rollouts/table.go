package main

import (
	"fmt"
	"io"
)

// printTable writes the results as a Markdown table, one column per size.
func printTable(w io.Writer, o options, rs []result) {
	fmt.Fprintf(w, "interval %s, window %s after %s of warm-up; each size in its own process\n\n", o.interval, o.duration, o.warmup)
	fmt.Fprint(w, "| |")
	for _, r := range rs {
		fmt.Fprintf(w, " %d rollouts |", r.N)
	}
	fmt.Fprint(w, "\n|---|")
	for range rs {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	rows := []struct {
		name string
		f    func(result) string
	}{
		{"evaluations/s (due)", func(r result) string { return fmt.Sprintf("%.0f (%.0f)", r.EvalsPerSec, r.DuePerSec) }},
		{"CPU per evaluation", func(r result) string { return fmt.Sprintf("%.0f µs", r.CPUPerEval) }},
		{"CPU used (cores)", func(r result) string { return fmt.Sprintf("%.2f", r.CPUCores) }},
		{"other processes' CPU; our threads waiting for a CPU (cores)", func(r result) string {
			return fmt.Sprintf("%.2f; %.2f", r.OthersCores, r.WaitCores)
		}},
		{"committed events/s", func(r result) string { return fmt.Sprintf("%.0f", r.EventsPerSec) }},
		{"commits/s", func(r result) string { return fmt.Sprintf("%.0f", float64(r.Commits)/r.Window) }},
		{"transactions/s (commits per transaction)", func(r result) string {
			return fmt.Sprintf("%.0f (%.1f)", float64(r.Txs)/r.Window, perTx(r))
		}},
		{"bytes written per commit; stored state", func(r result) string {
			return fmt.Sprintf("%.0f B; %.0f B", float64(r.WriteBytes)/float64(max(r.TxWrites, 1)), r.StateBytes)
		}},
		{"commit latency p50 / p99", func(r result) string { return fmt.Sprintf("%.2f / %.2f ms", r.CommitP50, r.CommitP99) }},
		{"commit errors", func(r result) string { return fmt.Sprint(r.CommitErrors) }},
		{"live heap after GC (per rollout)", func(r result) string {
			return fmt.Sprintf("%.0f MiB (%.1f KiB)", r.HeapMB, r.HeapPerRoll)
		}},
		{"RSS after GC (per rollout)", func(r result) string { return fmt.Sprintf("%.0f MiB (%.1f KiB)", r.RSSMB, r.RSSPerRoll) }},
		{"of which Go runtime (goroutine stacks)", func(r result) string {
			return fmt.Sprintf("%.0f MiB (%.0f MiB)", r.GoMB, r.StackMB)
		}},
		{"Go heap in use; held unused", func(r result) string {
			return fmt.Sprintf("%.0f MiB; %.0f MiB", r.HeapInuseMB, r.HeapHeldMB)
		}},
		{"peak RSS", func(r result) string { return fmt.Sprintf("%.0f MiB", r.PeakRSSMB) }},
		{"goroutines (stack per goroutine)", func(r result) string {
			return fmt.Sprintf("%d (%.1f KiB)", r.Goroutines, r.StackMB*1024/float64(max(r.Goroutines, 1)))
		}},
		{"GC: cycles/s; CPU (cores)", func(r result) string { return fmt.Sprintf("%.1f; %.2f", r.GCPerSec, r.GCCores) }},
		{"ramp: apply all, each evaluated once", func(r result) string { return done(fmt.Sprintf("%.1f s", r.Ramp), r.RampDone) }},
		{"database size after the window (of which WAL)", func(r result) string {
			return fmt.Sprintf("%.0f MiB (%.0f MiB)", r.DBMB, r.WALMB)
		}},
		{"closed: file, events, file per event (evaluation body)", func(r result) string {
			per := 0.0
			if r.StoredEvents > 0 {
				per = r.ClosedMB * (1 << 20) / float64(r.StoredEvents)
			}
			return fmt.Sprintf("%.0f MiB, %d, %.0f B (%.0f B)", r.ClosedMB, r.StoredEvents, per, r.EvalBody)
		}},
		{"restart: Start returns", func(r result) string { return fmt.Sprintf("%.2f s", r.Start) }},
		{"restart: every rollout evaluated again (p50)", func(r result) string {
			return done(fmt.Sprintf("%.2f s (%.2f s)", r.Resume, r.ResumeP50), r.ResumeDone)
		}},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "| %s |", row.name)
		for _, r := range rs {
			fmt.Fprintf(w, " %s |", row.f(r))
		}
		fmt.Fprintln(w)
	}
}

func done(s string, ok bool) string {
	if ok {
		return s
	}
	return s + " (not all)"
}
