package main

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Settings of the end-to-end lag phase.
const (
	lagSenders      = 16                   // connections sending the paced batches
	lagPollers      = 4                    // connections polling for sampled events
	lagSamplesPerS  = 20                   // sampled events per second
	lagPollInterval = 2 * time.Millisecond // between two polls of one event
	lagGiveUp       = 30 * time.Second     // a sampled event not found by then is lost
)

// lagResult is the end-to-end lag at a fixed offered rate.
type lagResult struct {
	offered   float64         // events/s really sent (accepted)
	accepted  int             // events accepted
	statuses  map[int]int     // answers to the batches
	errors    int             // connection errors while sending
	samples   []time.Duration // found − received_at of each sampled event, sorted
	lost      int             // sampled events never found
	pollFails int             // polls answered neither 200 nor 404
}

// lagRun is the state shared by the senders and pollers of one lag phase.
type lagRun struct {
	b        *bench
	p        *proc
	reqs     [][]byte
	interval time.Duration
	total    int64
	every    int64
	pool     chan *conn

	next     atomic.Int64
	accepted atomic.Int64
	mu       sync.Mutex
	res      lagResult
	polls    sync.WaitGroup
}

// measureLag offers lagRate events/s as paced batches of lagBatch (open
// loop: request j is sent at start + j·interval whatever the answers
// before it), samples some events, polls GET /events/{id}/ until each is
// found, and takes the time found minus the event's received_at.
func (b *bench) measureLag(ctx context.Context, p *proc) (lagResult, error) {
	interval := time.Duration(float64(time.Second) * float64(b.opt.LagBatch) / float64(b.opt.LagRate))
	perS := float64(time.Second) / float64(interval)
	r := &lagRun{b: b, p: p, interval: interval, total: int64(b.opt.LagDuration / interval),
		every: max(1, int64(perS/lagSamplesPerS)), pool: make(chan *conn, lagPollers),
		reqs: batchRequests(batchBodies(newUUIDs(4), 256, b.opt.LagBatch), p.addr, b.key),
		res:  lagResult{statuses: map[int]int{}}}
	for range lagPollers {
		c, err := dial(p.addr)
		if err != nil {
			return r.res, err
		}
		r.pool <- c
	}
	b.logf("end-to-end lag: %d events/s as %d batches of %d a second, %s, one event in %d batches sampled",
		b.opt.LagRate, int(perS), b.opt.LagBatch, b.opt.LagDuration, r.every)
	start := time.Now()
	var wg sync.WaitGroup
	for range lagSenders {
		wg.Go(func() { r.send(ctx, start) })
	}
	wg.Wait()
	sent := time.Since(start)
	r.polls.Wait()
	for range lagPollers {
		(<-r.pool).Close()
	}
	r.res.accepted = int(r.accepted.Load())
	r.res.offered = float64(r.res.accepted) / sent.Seconds()
	slices.Sort(r.res.samples)
	b.logf("end-to-end lag: offered %s events/s, %d samples, p50 %s, p99 %s, max %s, %d lost, statuses %v",
		count(r.res.offered), len(r.res.samples), ms(percentile(r.res.samples, 50)), ms(percentile(r.res.samples, 99)),
		ms(percentile(r.res.samples, 100)), r.res.lost, r.res.statuses)
	r.check()
	return r.res, ctx.Err()
}

// send sends the requests whose turn it takes, each at its time.
func (r *lagRun) send(ctx context.Context, start time.Time) {
	c, err := dial(r.p.addr)
	if err != nil {
		r.count(0, err)
		return
	}
	defer c.Close()
	for ctx.Err() == nil {
		j := r.next.Add(1) - 1
		if j >= r.total {
			return
		}
		time.Sleep(time.Until(start.Add(time.Duration(j) * r.interval)))
		sample := j%r.every == 0
		status, err := c.do(r.reqs[j%int64(len(r.reqs))], sample)
		r.count(status, err)
		if err != nil || status != 202 {
			continue
		}
		r.accepted.Add(int64(r.b.opt.LagBatch))
		if sample {
			r.sample(ctx, c.body)
		}
	}
}

func (r *lagRun) count(status int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.res.errors++
		return
	}
	r.res.statuses[status]++
}

// sample starts polling for the first event of a batch's answer.
func (r *lagRun) sample(ctx context.Context, body []byte) {
	var ans struct {
		IDs []*string `json:"ids"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || len(ans.IDs) == 0 || ans.IDs[0] == nil {
		r.mu.Lock()
		r.res.pollFails++
		r.mu.Unlock()
		return
	}
	id := *ans.IDs[0]
	r.polls.Go(func() { r.poll(ctx, id) })
}

// poll asks for an event until it is found, and records its lag.
func (r *lagRun) poll(ctx context.Context, id string) {
	req := request("GET", r.p.addr, "/events/"+id+"/", r.b.key, nil)
	deadline := time.Now().Add(lagGiveUp)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		c := <-r.pool
		status, err := c.do(req, true)
		found := time.Now()
		var ev struct {
			ReceivedAt time.Time `json:"received_at"`
		}
		if err == nil && status == 200 {
			err = json.Unmarshal(c.body, &ev)
		}
		r.pool <- c
		switch {
		case err == nil && status == 200:
			r.mu.Lock()
			r.res.samples = append(r.res.samples, found.Sub(ev.ReceivedAt))
			r.mu.Unlock()
			return
		case err != nil || status != 404:
			r.mu.Lock()
			r.res.pollFails++
			r.mu.Unlock()
		}
		time.Sleep(lagPollInterval)
	}
	r.mu.Lock()
	r.res.lost++
	r.mu.Unlock()
}

// check notes what went wrong.
func (r *lagRun) check() {
	res := r.res
	if bad := res.statuses[202]; bad != int(r.total) {
		r.b.note("end-to-end lag: %d of %d batches answered 202 (statuses %v, %d connection errors)",
			bad, r.total, res.statuses, res.errors)
	}
	if res.lost > 0 {
		r.b.note("end-to-end lag: %d sampled events (accepted with 202) were not found within %s", res.lost, lagGiveUp)
	}
	if res.pollFails > 0 {
		r.b.note("end-to-end lag: %d polls of GET /events/{id}/ answered neither 200 nor 404, or failed", res.pollFails)
	}
	if want := float64(r.b.opt.LagRate); res.offered < 0.95*want {
		r.b.note("end-to-end lag: offered only %s events/s of %s: the sender fell behind its schedule", count(res.offered), count(want))
	}
}
