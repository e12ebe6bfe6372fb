package main

import (
	"bufio"
	"context"
	"database/sql"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time every process on the machine has used since
// boot (user, nice, system, irq, softirq, steal from /proc/stat).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// runDelay is the time this process's threads have spent runnable but
// waiting for a CPU (/proc/self/task/*/schedstat): how much the machine
// made it wait.
func runDelay() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			ns += n
		}
	}
	return time.Duration(ns)
}

// writtenBytes is what this process has written so far (/proc/self/io
// wchar: every write and pwrite, cached or not).
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// procStatus reads a "kB" field of /proc/self/status (VmRSS, VmHWM) in
// bytes.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return kb << 10
	}
	return 0
}

// histogram is a lock-free log-scale latency histogram with 1% buckets
// from 1µs to about 20 minutes.
type histogram struct {
	counts [2100]atomic.Int64
}

const histBase = 1.01

func (h *histogram) observe(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/math.Log(histBase)), len(h.counts)-1)
	}
	h.counts[i].Add(1)
}

// reset empties the histogram (not atomically with respect to observers:
// an observation racing with it may be lost).
func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
}

// quantile returns the q-quantile (0 < q ≤ 1), to within 1%.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return time.Duration(math.Pow(histBase, float64(i)+0.5) * float64(time.Microsecond))
		}
	}
	return 0
}

// percentile of sorted-in-place durations.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(math.Ceil(q*float64(len(ds))))-1)]
}

// fileSize is the size of path plus its -wal file, in bytes.
func fileSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} { // a -wal path has no -wal-wal
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// stored measures the closed database: its size, its events and the mean
// stored size of an evaluation event's body.
func stored(ctx context.Context, path string, res *result) error {
	res.ClosedMB = float64(fileSize(path)) / (1 << 20)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT coalesce(avg(length(state)), 0) FROM rollouts`).Scan(&res.StateBytes); err != nil {
		return err
	}
	return db.QueryRowContext(ctx, `SELECT count(*), coalesce(avg(length(body)) FILTER (WHERE type = 'evaluated'), 0) FROM events`).
		Scan(&res.StoredEvents, &res.EvalBody)
}
