package main

import (
	"context"
	"errors"
	"fmt"
)

// ingestPhase measures single-event and batch ingest against the bare
// handlers, in the same run: the same requests, the same connections and
// durations, each server alone on the machine while it is loaded. Single
// ingest runs with -ingest-workers workers (none by default: processing is
// measured apart); batch ingest with a worker running, as the target says.
func (b *bench) ingestPhase(ctx context.Context) (err error) {
	bare, err := b.startBare(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bare.stop()) }()
	for _, step := range []struct {
		workers int
		run     func(ctx context.Context, eye, bare *proc) error
	}{{b.opt.IngestWorkers, b.singleIngest}, {1, b.batchIngest}} {
		dir, err := b.newDataDir(ctx, "ingest")
		if err != nil {
			return err
		}
		eye, err := b.startEye(ctx, fmt.Sprintf("ingest, EYE_WORKERS=%d", step.workers), dir, step.workers)
		if err != nil {
			return err
		}
		err = step.run(ctx, eye, bare)
		if err = errors.Join(err, b.stopEye(eye)); err != nil {
			return err
		}
	}
	return nil
}

// singleIngest loads POST /events/ with the pageview example, each
// request in a session of its own.
func (b *bench) singleIngest(ctx context.Context, eye, bare *proc) error {
	const distinct = 4096
	var err error
	b.logf("single ingest: bare handler, %d connections, %s", b.opt.Conns, b.opt.Duration)
	if b.res.singleBare, err = b.load(ctx, bare, singleRequests(newUUIDs(1), distinct, bare.addr, b.key), b.opt.Conns); err != nil {
		return err
	}
	b.logf("single ingest: bare handler: %s", b.res.singleBare.describe())
	b.checkLoad("single ingest, bare handler", b.res.singleBare)

	b.logf("single ingest: The Eye, %d connections, %s", b.opt.Conns, b.opt.Duration)
	stop := b.perf(eye, "single-ingest")
	b.res.single, err = b.load(ctx, eye, singleRequests(newUUIDs(1), distinct, eye.addr, b.key), b.opt.Conns)
	stop()
	if err != nil {
		return err
	}
	b.logf("single ingest: The Eye: %s", b.res.single.describe())
	b.checkLoad("single ingest, The Eye", b.res.single)
	return nil
}

// batchIngest loads POST /events/batch/ with JSON arrays of the three
// example events.
func (b *bench) batchIngest(ctx context.Context, eye, bare *proc) error {
	bodies := batchBodies(newUUIDs(2), 64, b.opt.BatchEvents)
	var err error
	b.logf("batch ingest (%d events a request): bare handler, %d connections, %s", b.opt.BatchEvents, b.opt.Conns, b.opt.Duration)
	if b.res.batchBare, err = b.load(ctx, bare, batchRequests(bodies, bare.addr, b.key), b.opt.Conns); err != nil {
		return err
	}
	b.logf("batch ingest: bare handler: %s", b.res.batchBare.describe())
	b.checkLoad("batch ingest, bare handler", b.res.batchBare)

	b.logf("batch ingest: The Eye, %d connections, %s", b.opt.Conns, b.opt.Duration)
	if b.res.batch, err = b.load(ctx, eye, batchRequests(bodies, eye.addr, b.key), b.opt.Conns); err != nil {
		return err
	}
	b.logf("batch ingest: The Eye: %s", b.res.batch.describe())
	b.checkLoad("batch ingest, The Eye", b.res.batch)
	return nil
}

// load runs a closed-loop load on a server with wrk or the Go generator.
func (b *bench) load(ctx context.Context, p *proc, reqs [][]byte, conns int) (loadResult, error) {
	spec := loadSpec{addr: p.addr, conns: conns, warmup: b.opt.Warmup, duration: b.opt.Duration, requests: reqs}
	meter := b.cpuMeter(p)
	var r loadResult
	var err error
	if b.opt.wrk != "" {
		r, err = runWrk(ctx, b.opt.wrk, b.tmp, spec)
	} else {
		r, err = runLoad(ctx, spec)
	}
	r.cpu = meter.stop()
	if r.cpu.disturbed() {
		b.note("%s was measured beside other work: other processes used %.2f cores, and %.2f were stolen by the hypervisor", p.name, r.cpu.others, r.cpu.steal)
	}
	return r, err
}
