package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// loadSpec is a closed-loop load: conns keep-alive connections, each
// sending its next request as soon as the previous answer is read, for
// warmup plus duration; only requests that start after the warm-up and end
// before the deadline count.
type loadSpec struct {
	addr     string
	conns    int
	warmup   time.Duration
	duration time.Duration
	// requests are the pre-built requests; connection i sends
	// requests[i%len], requests[(i+1)%len], … in turn.
	requests [][]byte
}

// loadResult is what a load measured.
type loadResult struct {
	tool      string          // "go" or "wrk"
	ok        int             // answers 2xx within the window
	statuses  map[int]int     // every answer within the window, by status
	errors    int             // connection errors and malformed answers, whole run
	firstErr  error           // the first of those
	window    time.Duration   // the measured window
	latencies []time.Duration // of the answers 2xx within the window
	p50, p99  time.Duration   // set by wrk, computed from latencies otherwise
	cpu       cpuUse          // cores used over the load
}

// rate is the 2xx answers per second.
func (r loadResult) rate() float64 { return float64(r.ok) / r.window.Seconds() }

// failures counts answers within the window that were not 2xx.
func (r loadResult) failures() int {
	n := 0
	for s, c := range r.statuses {
		if s < 200 || s > 299 {
			n += c
		}
	}
	return n
}

// statusText lists the answers by status (wrk tells only 2xx or 3xx and
// the others).
func (r loadResult) statusText() string {
	if r.tool == "wrk" {
		return fmt.Sprintf("2xx/3xx %d, other %d", r.ok, r.statuses[0])
	}
	return fmt.Sprint(r.statuses)
}

// percentiles returns p50 and p99.
func (r loadResult) percentiles() (time.Duration, time.Duration) {
	if r.tool == "wrk" {
		return r.p50, r.p99
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return percentile(s, 50), percentile(s, 99)
}

// describe sums the result up in one line.
func (r loadResult) describe() string {
	p50, p99 := r.percentiles()
	s := fmt.Sprintf("%s req/s, p50 %s, p99 %s, statuses %s, %s", count(r.rate()), ms(p50), ms(p99), r.statusText(), r.cpu)
	if r.errors > 0 {
		s += fmt.Sprintf(", %d connection errors (first: %v)", r.errors, r.firstErr)
	}
	return s
}

// percentile returns the p-th percentile (nearest rank) of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// connLoad is what one connection measured.
type connLoad struct {
	ok        int
	statuses  map[int]int
	errors    int
	firstErr  error
	latencies []time.Duration
}

// runLoad runs a closed-loop load with the Go generator.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	conns := make([]*conn, spec.conns)
	for i := range conns {
		c, err := dial(spec.addr)
		if err != nil {
			closeAll(conns)
			return loadResult{}, err
		}
		conns[i] = c
	}
	defer closeAll(conns)
	start := time.Now()
	from, to := start.Add(spec.warmup), start.Add(spec.warmup+spec.duration)
	results := make([]connLoad, spec.conns)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { results[i] = drive(ctx, c, spec.requests, i, from, to) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	return merge(results, to.Sub(from)), nil
}

// drive sends requests on one connection until the deadline.
func drive(ctx context.Context, c *conn, reqs [][]byte, first int, from, to time.Time) connLoad {
	out := connLoad{statuses: map[int]int{}, latencies: make([]time.Duration, 0, 1<<14)}
	for i := first; ctx.Err() == nil; i++ {
		begin := time.Now()
		if !begin.Before(to) {
			break
		}
		status, err := c.do(reqs[i%len(reqs)], false)
		end := time.Now()
		if err != nil {
			out.errors++
			if out.firstErr == nil {
				out.firstErr = err
			}
			continue
		}
		if begin.Before(from) || end.After(to) {
			continue
		}
		out.statuses[status]++
		if status >= 200 && status <= 299 {
			out.ok++
			out.latencies = append(out.latencies, end.Sub(begin))
		}
	}
	return out
}

func merge(results []connLoad, window time.Duration) loadResult {
	r := loadResult{tool: "go", statuses: map[int]int{}, window: window}
	for _, c := range results {
		r.ok += c.ok
		r.errors += c.errors
		if r.firstErr == nil {
			r.firstErr = c.firstErr
		}
		for s, n := range c.statuses {
			r.statuses[s] += n
		}
		r.latencies = append(r.latencies, c.latencies...)
	}
	return r
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
