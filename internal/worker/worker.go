// Package worker moves messages from the queue to the store: it pulls a
// batch, validates each event, writes the batch in one transaction and
// acknowledges the messages only once that transaction has committed.
package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/metric"
)

// Receiver is the part of the queue a worker uses.
type Receiver interface {
	Receive(ctx context.Context, max int) ([]eye.Delivery, error)
}

// Writer is the part of the store a worker uses.
type Writer interface {
	Write(ctx context.Context, b eye.Batch) (eye.WriteResult, error)
	Ping(ctx context.Context) error
}

// Config configures a Worker.
type Config struct {
	Queue     Receiver
	Store     Writer
	Rules     eye.Rules
	BatchSize int // messages per transaction at most
	// Progress is how often a worker holding a batch it cannot store yet
	// tells the queue it is still working on it (well under the queue's
	// redelivery wait).
	Progress time.Duration
	// StopTimeout bounds how long a stopping worker keeps trying to store
	// the batch it holds; after that the batch stays in the queue.
	StopTimeout time.Duration
	Logger      *slog.Logger
	// Metrics counts what the worker stores (nil: counted nowhere).
	Metrics *metric.Metrics
	// Notify publishes notices of what was recorded to live tails (nil:
	// none are published).
	Notify func(payload []byte) error
}

// Worker validates and stores queued messages.
type Worker struct {
	cfg Config
	log *slog.Logger
}

// New returns a worker.
func New(cfg Config) *Worker {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Progress <= 0 {
		cfg.Progress = 10 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metric.New()
	}
	return &Worker{cfg: cfg, log: cfg.Logger}
}

// Run processes batches until ctx ends. A batch in hand when ctx ends is
// finished first (for at most StopTimeout).
func (w *Worker) Run(ctx context.Context) error {
	backoff := newBackoff()
	for {
		ds, err := w.cfg.Queue.Receive(ctx, w.cfg.BatchSize)
		if len(ds) > 0 {
			// Received, even as ctx ends: finish it rather than leave it
			// to the queue's redelivery wait.
			backoff.reset()
			w.process(ctx, ds)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Warn("receive from queue", "error", err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
	}
}

// process stores one batch and acknowledges it.
func (w *Worker) process(ctx context.Context, ds []eye.Delivery) {
	b := w.build(ds)
	// The batch in hand is finished even when ctx ends, within bounds.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(w.cfg.StopTimeout, cancel)
	})
	defer stop()

	res, held, err := w.store(wctx, ds, &b)
	if err != nil {
		// Stopping with the store still down: leave the batch in the
		// queue for the next worker.
		w.log.Warn("batch left in the queue", "deliveries", len(ds), "error", err)
		for _, d := range ds {
			_ = d.Nak()
		}
		return
	}
	for _, d := range ds {
		if slices.ContainsFunc(d.Messages, func(m eye.Message) bool { return held[m.ID] }) {
			// The store refuses a record even alone: keep the delivery in
			// the queue, and try again later without blocking the others
			// (what of it was stored is a harmless duplicate then).
			_ = d.NakWithDelay(time.Minute)
			continue
		}
		if err := d.Ack(); err != nil {
			// Stored already: a redelivery is a harmless duplicate.
			w.log.Debug("ack", "error", err)
		}
	}
	if res.Duplicates > 0 {
		w.log.Info("duplicates skipped", "duplicates", res.Duplicates)
	}
	w.log.Debug("batch stored", "deliveries", len(ds), "events", res.Events, "errors", res.Errors,
		"sessions", res.Sessions, "duplicates", res.Duplicates)
	w.account(ds, b, res, held)
}

// account counts what a committed batch stored, and publishes its notices.
// A record found stored already is a duplicate sent by an application,
// unless its delivery is a redelivery (a worker stopped between commit and
// acknowledgement); a record held in the queue is counted when stored.
func (w *Worker) account(ds []eye.Delivery, b eye.Batch, res eye.WriteResult, held map[string]bool) {
	m := w.cfg.Metrics
	// A record whose id the store found stored already: the same id may
	// come twice in one batch (an application's retry), the first copy
	// stored and the second a duplicate, so duplicates are counted per id.
	dups := make(map[string]int, len(res.DuplicateIDs))
	for _, id := range res.DuplicateIDs {
		dups[id]++
	}
	copies := map[string]int{}
	if len(dups) > 0 {
		for _, ev := range b.Events {
			copies[ev.ID]++
		}
		for _, rec := range b.Errors {
			copies[rec.ID]++
		}
	}
	// isDup says whether this copy of a record is a duplicate: the last
	// dups[id] copies of an id are.
	seen := map[string]int{}
	isDup := func(id string) bool {
		if dups[id] == 0 {
			return false
		}
		seen[id]++
		return seen[id] > copies[id]-dups[id]
	}
	redelivered := map[string]bool{}
	for _, d := range ds {
		if d.Redelivered {
			for _, msg := range d.Messages {
				redelivered[msg.ID] = true
			}
		}
	}
	duplicate := func(id, app string) {
		if redelivered[id] {
			m.Redelivered.Inc()
		} else {
			m.Duplicates.WithLabelValues(m.App(app)).Inc()
		}
	}
	now := time.Now()
	type seqNotice struct {
		seq uint64
		n   eye.Notice
	}
	var notices []seqNotice
	for _, ev := range b.Events {
		switch {
		case held[ev.ID]:
		case isDup(ev.ID):
			duplicate(ev.ID, ev.ApplicationID)
		default:
			m.Stored.WithLabelValues(m.App(ev.ApplicationID)).Inc()
			m.LagSeconds.Observe(now.Sub(ev.ReceivedAt).Seconds())
			notices = append(notices, seqNotice{ev.Seq, eye.StoredNotice(ev)})
		}
	}
	for _, rec := range b.Errors {
		switch {
		case held[rec.ID]:
		case isDup(rec.ID):
			duplicate(rec.ID, rec.ApplicationID)
		default:
			// Refused bodies and batch elements were never accepted: they
			// are counted by ingest as malformed requests.
			if code := rec.Reasons[0].Code; code != eye.CodeMalformedJSON && code != eye.CodeUndecodable {
				m.Rejected.WithLabelValues(m.App(rec.ApplicationID), code).Inc()
			}
			notices = append(notices, seqNotice{rec.Seq, eye.RejectedNotice(rec)})
		}
	}
	m.BatchEvents.Observe(float64(len(b.Events) + len(b.Errors)))
	// In the order they arrived.
	slices.SortFunc(notices, func(a, b seqNotice) int { return cmp.Compare(a.seq, b.seq) })
	ordered := make([]eye.Notice, len(notices))
	for i, sn := range notices {
		ordered[i] = sn.n
	}
	w.notify(ordered)
}

// notify publishes notices in messages of at most about 256 KiB.
func (w *Worker) notify(notices []eye.Notice) {
	if w.cfg.Notify == nil || len(notices) == 0 {
		return
	}
	const limit = 256 << 10
	buf := []byte{'['}
	flush := func() {
		buf = append(buf, ']')
		if err := w.cfg.Notify(buf); err != nil {
			w.log.Debug("notify", "error", err)
		}
		buf = []byte{'['}
	}
	for _, n := range notices {
		j, err := json.Marshal(n)
		if err != nil {
			continue
		}
		if len(buf) > 1 && len(buf)+len(j) > limit {
			flush()
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, j...)
	}
	flush()
}

// build validates each message and sorts it into the batch.
func (w *Worker) build(ds []eye.Delivery) eye.Batch {
	var b eye.Batch
	for _, d := range ds {
		for _, m := range d.Messages {
			w.add(&b, m)
		}
	}
	return b
}

// add validates one message and adds what it records to the batch.
func (w *Worker) add(b *eye.Batch, m eye.Message) {
	switch m.Kind {
	case eye.KindEvent:
		ev, reasons := w.cfg.Rules.ParseEvent(m)
		if len(reasons) > 0 {
			b.Errors = append(b.Errors, eye.NewErrorRecord(m, ev, reasons))
			return
		}
		ev.Seq = m.Seq
		b.Events = append(b.Events, ev)
	case eye.KindSession:
		b.Sessions = append(b.Sessions, eye.Session{ID: m.ID, CreatedAt: m.ReceivedAt})
	case eye.KindMalformed:
		b.Errors = append(b.Errors, eye.NewErrorRecord(m, eye.Event{}, []eye.Reason{
			{Code: eye.CodeMalformedJSON, Message: m.Detail},
		}))
	default:
		if m.ID == "" {
			m.ID = eye.NewID()
		}
		if m.ReceivedAt.IsZero() {
			m.ReceivedAt = time.Now().UTC()
		}
		b.Errors = append(b.Errors, eye.NewErrorRecord(m, eye.Event{}, []eye.Reason{
			{Code: eye.CodeUndecodable, Message: "a queued message without The Eye's headers: " + m.Detail},
		}))
	}
}

// store writes the batch, holding it while the store is down, and falls
// back to one record at a time when the store refuses the batch while up,
// so that one bad record never blocks the others. It returns the ids of
// messages it could not store even alone.
func (w *Worker) store(ctx context.Context, ds []eye.Delivery, b *eye.Batch) (eye.WriteResult, map[string]bool, error) {
	backoff := newBackoff()
	lastProgress := time.Now()
	for {
		res, err := w.cfg.Store.Write(ctx, *b)
		if err == nil {
			return res, nil, nil
		}
		if ctx.Err() != nil {
			return res, nil, err
		}
		if w.cfg.Store.Ping(ctx) == nil {
			res, held, err := w.storeEach(ctx, ds, b)
			if err == nil {
				return res, held, nil
			}
		}
		w.log.Warn("store unavailable; holding the batch", "deliveries", len(ds), "error", err)
		if time.Since(lastProgress) >= w.cfg.Progress {
			for _, d := range ds {
				_ = d.InProgress()
			}
			lastProgress = time.Now()
		}
		if !backoff.wait(ctx) {
			return res, nil, ctx.Err()
		}
	}
}

// storeEach writes every record of b in a transaction of its own. An event
// the store refuses on its own becomes an error record saying why (and
// moves from b's events to its errors); a record refused even so is
// returned as held. An error means the store went down.
func (w *Worker) storeEach(ctx context.Context, ds []eye.Delivery, b *eye.Batch) (eye.WriteResult, map[string]bool, error) {
	var total eye.WriteResult
	add := func(res eye.WriteResult) {
		total.Events += res.Events
		total.Errors += res.Errors
		total.Sessions += res.Sessions
		total.Duplicates += res.Duplicates
		total.DuplicateIDs = append(total.DuplicateIDs, res.DuplicateIDs...)
	}
	held := map[string]bool{}
	var converted []eye.ErrorRecord
	one := func(id string, single eye.Batch) error {
		res, err := w.cfg.Store.Write(ctx, single)
		if err == nil {
			add(res)
			return nil
		}
		if perr := w.cfg.Store.Ping(ctx); perr != nil {
			return err
		}
		if len(single.Events) == 1 {
			rec := rejected(ds, single.Events[0], err)
			w.log.Error("store refused an event; keeping it as an error record", "id", id, "error", err)
			if res, err := w.cfg.Store.Write(ctx, eye.Batch{Errors: []eye.ErrorRecord{rec}}); err == nil {
				add(res)
				converted = append(converted, rec)
				return nil
			}
		}
		w.log.Error("store refused a record; leaving it in the queue", "id", id, "error", err)
		held[id] = true
		return nil
	}
	for _, ss := range b.Sessions {
		if err := one(ss.ID, eye.Batch{Sessions: []eye.Session{ss}}); err != nil {
			return total, nil, err
		}
	}
	for _, ev := range b.Events {
		if err := one(ev.ID, eye.Batch{Events: []eye.Event{ev}}); err != nil {
			return total, nil, err
		}
	}
	for _, rec := range b.Errors {
		if err := one(rec.ID, eye.Batch{Errors: []eye.ErrorRecord{rec}}); err != nil {
			return total, nil, err
		}
	}
	for _, rec := range converted {
		b.Events = slices.DeleteFunc(b.Events, func(ev eye.Event) bool { return ev.ID == rec.ID })
		b.Errors = append(b.Errors, rec)
	}
	return total, held, nil
}

// rejected is the error record of an event the store refused.
func rejected(ds []eye.Delivery, ev eye.Event, err error) eye.ErrorRecord {
	rec := eye.ErrorRecord{
		ID: ev.ID, ReceivedAt: ev.ReceivedAt, EventID: ev.EventID, ApplicationID: ev.ApplicationID,
		Category: ev.Category, Name: ev.Name, SessionID: ev.SessionID, Seq: ev.Seq,
		Reasons: []eye.Reason{{Code: eye.CodeStoreRejected, Message: "the store refused the event: " + err.Error()}},
	}
	for _, d := range ds {
		for _, m := range d.Messages {
			if m.ID == ev.ID {
				rec.Payload = m.Payload
			}
		}
	}
	return rec
}

// backoff waits longer after each failure, up to five seconds.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) reset() { b.d = 100 * time.Millisecond }

// wait sleeps for the current delay and doubles it; it returns false when
// ctx ends first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
