package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/theeye/eye"
)

// processPhase measures the raw insert rates, then the drain of a backlog
// by The Eye's worker, then the end-to-end lag at a fixed rate.
func (b *bench) processPhase(ctx context.Context) error {
	bodies := batchBodies(newUUIDs(3), 256, b.opt.BatchEvents)
	elems, err := splitBodies(bodies)
	if err != nil {
		return err
	}
	b.res.raw = nil
	for _, way := range b.store.rawWays() {
		r, err := b.rawInsert(ctx, way, elems)
		if err != nil {
			return err
		}
		b.res.raw = append(b.res.raw, r)
	}
	dir, err := b.newDataDir(ctx, "process")
	if err != nil {
		return err
	}
	if b.res.backlog, err = b.fillBacklog(ctx, dir, bodies); err != nil {
		return err
	}
	return b.drainAndLag(ctx, dir)
}

// rawResult is a raw insert rate.
type rawResult struct {
	label       string // the way, as the report names it
	events      int
	elapsed     time.Duration
	checkpoints int64 // checkpoints the store's server began meanwhile; -1: none counted
}

func (r rawResult) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

// rawInsert writes the backlog's rows — the same bodies, read by the
// worker's own ParseEvent outside the timer — into a fresh store one way,
// in batches of 1,000: no HTTP, no queue, no validation timed.
func (b *bench) rawInsert(ctx context.Context, way rawWay, elems []json.RawMessage) (rawResult, error) {
	write, closeStore, err := way.open(ctx)
	if err != nil {
		return rawResult{}, err
	}
	defer closeStore()
	b.logf("%s: %d events %s, batches of 1,000", way.label, b.opt.Backlog, way.what)
	rules := eye.Rules{FutureTolerance: time.Minute}
	res := rawResult{label: way.label}
	checkpoints := b.checkpoints(ctx)
	meter := b.cpuMeter(nil)
	for res.events < b.opt.Backlog {
		n := min(1000, b.opt.Backlog-res.events)
		batch, err := rawBatch(rules, elems, res.events, n)
		if err != nil {
			return res, err
		}
		start := time.Now()
		inserted, err := write(ctx, batch)
		res.elapsed += time.Since(start)
		if err != nil {
			return res, fmt.Errorf("%s: %w", way.label, err)
		}
		if inserted != n {
			return res, fmt.Errorf("%s: %d of %d events inserted", way.label, inserted, n)
		}
		res.events += n
	}
	use := meter.stop()
	res.checkpoints = checkpoints.since(ctx)
	b.logf("%s: %s events/s%s; %s", way.label, count(res.rate()), checkpointText(res.checkpoints), use)
	if use.disturbed() {
		b.note("%s measured beside other work: other processes used %.2f cores, and %.2f were stolen by the hypervisor", way.label, use.others, use.steal)
	}
	return res, nil
}

// splitBodies splits batch bodies into their events, in order.
func splitBodies(bodies [][]byte) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for _, body := range bodies {
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return nil, fmt.Errorf("split a batch body: %w", err)
		}
		all = append(all, elems...)
	}
	return all, nil
}

// rawBatch makes the events first .. first+n-1 of the stream of elems, as
// the worker would store them.
func rawBatch(rules eye.Rules, elems []json.RawMessage, first, n int) (eye.Batch, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	evs := make([]eye.Event, n)
	for i := range evs {
		seq := first + i
		m := eye.Message{Kind: eye.KindEvent, ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID,
			ReceivedAt: now, Payload: elems[seq%len(elems)]}
		ev, reasons := rules.ParseEvent(m)
		if len(reasons) > 0 {
			return eye.Batch{}, fmt.Errorf("an example event is invalid: %v", reasons)
		}
		ev.Seq = uint64(seq + 1)
		evs[i] = ev
	}
	return eye.Batch{Events: evs}, nil
}

// backlogResult is how the backlog was queued.
type backlogResult struct {
	accepted int
	elapsed  time.Duration
}

// fillBacklog runs The Eye without a worker and queues the backlog through
// batches, then stops it.
func (b *bench) fillBacklog(ctx context.Context, dir dataDir, bodies [][]byte) (res backlogResult, err error) {
	eyeP, err := b.startEye(ctx, "backlog, EYE_WORKERS=0", dir, 0)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, b.stopEye(eyeP)) }()
	reqs := batchRequests(bodies, eyeP.addr, b.key)
	requests := (b.opt.Backlog + b.opt.BatchEvents - 1) / b.opt.BatchEvents
	b.logf("backlog: queueing %d events in %d batches", requests*b.opt.BatchEvents, requests)
	var next, accepted atomic.Int64
	errs := make([]error, 8)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() { errs[w] = sendBatches(ctx, eyeP.addr, reqs, &next, int64(requests), &accepted) })
	}
	wg.Wait()
	res = backlogResult{accepted: int(accepted.Load()), elapsed: time.Since(start)}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("backlog: %w", err)
	}
	b.logf("backlog: %d events accepted in %s (%s events/s)", res.accepted, res.elapsed.Round(time.Millisecond),
		count(float64(res.accepted)/res.elapsed.Seconds()))
	return res, nil
}

// sendBatches sends requests numbered from next until total, counting the
// events accepted; any answer but 202 is an error.
func sendBatches(ctx context.Context, addr string, reqs [][]byte, next *atomic.Int64, total int64, accepted *atomic.Int64) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for ctx.Err() == nil {
		i := next.Add(1) - 1
		if i >= total {
			return nil
		}
		status, err := c.do(reqs[i%int64(len(reqs))], true)
		if err != nil {
			return err
		}
		if status != 202 {
			return fmt.Errorf("POST /events/batch/ answered %d: %s", status, c.body)
		}
		var ans struct {
			Accepted int `json:"accepted"`
		}
		if err := json.Unmarshal(c.body, &ans); err != nil {
			return fmt.Errorf("answer of a batch: %w", err)
		}
		accepted.Add(int64(ans.Accepted))
	}
	return ctx.Err()
}

// drainAndLag restarts The Eye with a worker on the backlog's directory,
// times the drain, then measures the end-to-end lag on the same server.
func (b *bench) drainAndLag(ctx context.Context, dir dataDir) (err error) {
	eyeP, err := b.startEye(ctx, fmt.Sprintf("drain and lag, EYE_WORKERS=%d", b.opt.DrainWorkers), dir, b.opt.DrainWorkers)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stopEye(eyeP)) }()
	stop := b.perf(eyeP, "drain")
	b.res.drain, err = b.drain(ctx, eyeP, b.res.backlog.accepted)
	stop()
	if err != nil {
		return err
	}
	b.res.lag, err = b.measureLag(ctx, eyeP)
	return err
}
