package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// drainResult is how fast the worker drained the backlog.
type drainResult struct {
	events      int           // events stored by the end
	errors      int           // error records stored by the end (should be none)
	fromStart   time.Duration // from the process's start to the last event stored
	firstSeen   int           // events stored at the first answer of GET /event-types/
	steady      time.Duration // from that answer to the last event stored
	lost        int           // events accepted but never stored (the drain stalled)
	readyAfter  time.Duration // from the process's start to /readyz 200
	checkpoints int64         // checkpoints the store's server began during the drain; -1: none counted
}

// rate is the events stored per second from the first answer on.
func (d drainResult) rate() float64 {
	return float64(d.events-d.firstSeen) / d.steady.Seconds()
}

// drain polls GET /event-types/, whose counters are kept in the store's
// transactions, until every accepted event is stored, or nothing moved for
// a minute.
func (b *bench) drain(ctx context.Context, p *proc, accepted int) (res drainResult, err error) {
	res = drainResult{readyAfter: time.Since(p.started)}
	c, err := dial(p.addr)
	if err != nil {
		return res, err
	}
	defer c.Close()
	req := request("GET", p.addr, "/event-types/", b.key, nil)
	var first, lastMove time.Time
	checkpoints := b.checkpoints(ctx)
	meter := b.cpuMeter(p)
	defer func() {
		use := meter.stop()
		res.checkpoints = checkpoints.since(ctx)
		b.logf("drain: %s%s", use, checkpointText(res.checkpoints))
		if use.disturbed() {
			b.note("drain measured beside other work: other processes used %.2f cores, and %.2f were stolen by the hypervisor", use.others, use.steal)
		}
	}()
	for ctx.Err() == nil {
		events, errs, err := storedCounts(c, req)
		now := time.Now()
		if err != nil {
			return res, err
		}
		if first.IsZero() {
			first, res.firstSeen = now, events
			b.logf("drain: %d of %d events stored when The Eye answered (%s after its start)", events, accepted,
				now.Sub(p.started).Round(time.Millisecond))
		}
		if events+errs > res.events+res.errors || lastMove.IsZero() {
			lastMove = now
		}
		res.events, res.errors = events, errs
		if events+errs >= accepted {
			res.fromStart, res.steady = now.Sub(p.started), now.Sub(first)
			b.logf("drain: %d events stored in %s from the start (%s events/s after the first answer)", events,
				res.fromStart.Round(time.Millisecond), count(res.rate()))
			if errs > 0 {
				b.note("drain: %d events became error records", errs)
			}
			return res, nil
		}
		if now.Sub(lastMove) > time.Minute {
			res.lost = accepted - events - errs
			b.note("drain: stalled at %d of %d events stored (+%d error records): %d accepted events not stored after a minute without progress",
				events, accepted, errs, res.lost)
			res.fromStart, res.steady = now.Sub(p.started), now.Sub(first)
			return res, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return res, ctx.Err()
}

// storedCounts sums the events and error records of every event type.
func storedCounts(c *conn, req []byte) (events, errs int, err error) {
	status, err := c.do(req, true)
	if err != nil {
		return 0, 0, fmt.Errorf("GET /event-types/: %w", err)
	}
	if status != 200 {
		return 0, 0, fmt.Errorf("GET /event-types/ answered %d: %s", status, c.body)
	}
	var page struct {
		Results []struct {
			Events int `json:"events"`
			Errors int `json:"errors"`
		} `json:"results"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal(c.body, &page); err != nil {
		return 0, 0, fmt.Errorf("GET /event-types/: %w", err)
	}
	if page.Next != nil {
		return 0, 0, fmt.Errorf("GET /event-types/ has more than one page")
	}
	for _, t := range page.Results {
		events += t.Events
		errs += t.Errors
	}
	return events, errs, nil
}
