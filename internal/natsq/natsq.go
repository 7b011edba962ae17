// Package natsq implements eye.Queue on NATS JetStream: a nats-server
// embedded in the process (the default: no port, files in the data
// directory), or an external server or cluster.
//
// The stream never deletes an unprocessed message: work-queue retention (a
// message leaves when a worker acknowledges it), no age limit, and
// DiscardNew at its byte limit, so that a full queue refuses new messages
// (ingest answers 503) instead of dropping old ones.
package natsq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/theeye/eye"
)

// ConsumerName is the workers' durable consumer.
const ConsumerName = "worker"

// Names in NATS, from a prefix ("eye"): the stream EYE on the subject
// eye.ingest, and notices on eye.notices. Several installations (or tests)
// share a NATS cluster with different prefixes.
func (q *Queue) streamName() string    { return strings.ToUpper(q.opts.Prefix) }
func (q *Queue) subject() string       { return q.opts.Prefix + ".ingest" }
func (q *Queue) noticeSubject() string { return q.opts.Prefix + ".notices" }

// Message headers. A queue message says its kind, "batch": its body holds
// framed messages (frame.go). Other headers are read only to keep, as error
// records, messages The Eye did not write.
const (
	hdrKind   = "Eye-Kind"
	hdrID     = "Eye-Id"
	hdrApp    = "Eye-App"
	hdrDetail = "Eye-Detail"
)

// Options configure the queue.
type Options struct {
	// URL of an external NATS server or cluster; "" embeds one.
	URL string
	// Dir holds the embedded server's JetStream files.
	Dir string
	// MaxBytes bounds the stream; once full, publishes fail.
	MaxBytes int64
	// Replicas of the stream on a cluster: 0 chooses 3 when the cluster
	// has at least three servers, 1 otherwise (and when embedded).
	Replicas int
	// Prefix names the stream and subjects ("eye": the stream EYE on
	// eye.ingest), so that several installations can share a cluster.
	Prefix string
	// DuplicateWindow is how long the queue remembers message ids to drop
	// a republished message.
	DuplicateWindow time.Duration
	// AckWait is how long a worker may hold a message without a sign of
	// progress before it is delivered again.
	AckWait time.Duration
	// MaxAckPending bounds the messages held by workers at once.
	MaxAckPending int
	// SyncInterval is how often the embedded server flushes its files to
	// disk (fsync); SyncAlways flushes every write before acknowledging it.
	SyncInterval time.Duration
	SyncAlways   bool
	Logger       *slog.Logger
}

// Queue is an eye.Queue on JetStream.
type Queue struct {
	srv    *server.Server // nil when external
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer
	opts   Options
	log    *slog.Logger
	group  *groupCommit // publishes single messages together
}

var _ eye.Queue = (*Queue)(nil)

// Open starts the embedded server when opts.URL is empty, connects, and
// creates or updates the stream and the workers' consumer.
func Open(ctx context.Context, opts Options) (*Queue, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Prefix == "" {
		opts.Prefix = "eye"
	}
	if opts.DuplicateWindow == 0 {
		opts.DuplicateWindow = 2 * time.Minute
	}
	if opts.AckWait == 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.MaxAckPending == 0 {
		opts.MaxAckPending = 20000
	}
	q := &Queue{opts: opts, log: opts.Logger}
	var connOpts []nats.Option
	url := opts.URL
	if url == "" {
		srv, err := startServer(opts, opts.Logger)
		if err != nil {
			return nil, err
		}
		q.srv = srv
		url = srv.ClientURL()
		connOpts = append(connOpts, nats.InProcessServer(srv))
	}
	connOpts = append(connOpts,
		nats.Name("eye"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				q.log.Warn("queue disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { q.log.Info("queue reconnected") }),
	)
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		q.shutdownServer()
		return nil, fmt.Errorf("connect to queue: %w", err)
	}
	q.nc = nc
	if q.opts.Replicas == 0 {
		q.opts.Replicas = 1
		if q.srv == nil && len(nc.Servers()) >= 3 {
			q.opts.Replicas = 3 // a node lost never loses an acknowledged event
		}
	}
	q.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(16384),
		jetstream.WithPublishAsyncTimeout(10*time.Second),
	)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := q.setup(ctx); err != nil {
		q.Close()
		return nil, err
	}
	q.group = startGroupCommit(q)
	return q, nil
}

func startServer(opts Options, log *slog.Logger) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "eye-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
		// A batch refused as a whole is kept whole in an error record.
		MaxPayload:   4 << 20,
		SyncInterval: opts.SyncInterval,
		SyncAlways:   opts.SyncAlways,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded queue: %w", err)
	}
	srv.SetLoggerV2(serverLog{log.With("component", "nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded queue: not ready after 30s")
	}
	return srv, nil
}

func (q *Queue) setup(ctx context.Context) error {
	var err error
	q.stream, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        q.streamName(),
		Description: "Everything ingest recorded, until a worker stores it",
		Subjects:    []string{q.subject()},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    q.opts.MaxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    q.opts.Replicas,
		Duplicates:  q.opts.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("create stream %s (replicas %d): %w", q.streamName(), q.opts.Replicas, err)
	}
	q.cons, err = q.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "The workers: validate and store",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.opts.AckWait,
		MaxDeliver:    -1, // a store outage is not poison: never give up on a message
		MaxAckPending: q.opts.MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", ConsumerName, err)
	}
	return nil
}

// Publish persists msgs and waits for the queue's acknowledgement of each.
// Messages travel framed together, many in one queue message (as many as
// the server's size limit allows): one publish and one acknowledgement for
// up to a thousand of them. The messages of one call go together; a
// message published alone joins those that other callers publish at the
// same moment (group commit). The store's unique keys deduplicate each
// message; a queue message is also deduplicated by the queue when the
// same messages are published again.
func (q *Queue) Publish(ctx context.Context, msgs ...eye.Message) (int, error) {
	if len(msgs) == 1 {
		return q.group.publish(ctx, msgs[0])
	}
	var sent []pendingAck
	limit := q.frameLimit()
	for start := 0; start < len(msgs); {
		end, size := start, 0
		for end < len(msgs) && end-start < maxPerFrame && (end == start || size+frameSize(msgs[end]) <= limit) {
			size += frameSize(msgs[end])
			end++
		}
		p, err := q.publishFrames(msgs[start:end], size)
		if err != nil {
			return 0, err
		}
		sent = append(sent, p)
		start = end
	}
	dups := 0
	for _, p := range sent {
		select {
		case ack := <-p.future.Ok():
			if ack.Duplicate {
				dups += p.count
			}
		case err := <-p.future.Err():
			return dups, refused(err)
		case <-ctx.Done():
			return dups, fmt.Errorf("publish: %w", ctx.Err())
		}
	}
	return dups, nil
}

// pendingAck is a published queue message awaiting its acknowledgement.
type pendingAck struct {
	future jetstream.PubAckFuture
	count  int // messages framed in it
}

// frameLimit is the most bytes of frames one queue message may carry.
func (q *Queue) frameLimit() int { return int(q.nc.MaxPayload()) - 8<<10 }

// publishFrames publishes msgs framed in one queue message, size being
// about the bytes they take.
func (q *Queue) publishFrames(msgs []eye.Message, size int) (pendingAck, error) {
	body := make([]byte, 0, size)
	for _, m := range msgs {
		body = appendFrame(body, m)
	}
	h := nats.Header{}
	h.Set(hdrKind, kindBatch)
	f, err := q.js.PublishMsgAsync(&nats.Msg{Subject: q.subject(), Header: h, Data: body}, jetstream.WithMsgID(chunkID(msgs)))
	if err != nil {
		return pendingAck{}, refused(err)
	}
	return pendingAck{f, len(msgs)}, nil
}

// refused wraps a publish error: the queue is down or full.
func refused(err error) error {
	return fmt.Errorf("publish: %w: %w", eye.Errorf(eye.EUNAVAILABLE, "The queue did not accept the event; retry later."), err)
}

// receiveBytes bounds what one Receive returns, in bytes of messages.
const receiveBytes = 8 << 20

// Receive returns up to max deliveries, waiting for the first one. It pulls
// only what it returns, so that a stopping worker leaves nothing behind in
// a buffer: what it did not receive is delivered at once to the next one.
// A pull in progress is never cancelled (a message the server sent to a
// pull abandoned would wait for the redelivery timeout): when ctx ends,
// Receive returns within a second, with what that pull brought.
func (q *Queue) Receive(ctx context.Context, max int) ([]eye.Delivery, error) {
	out := make([]eye.Delivery, 0, max)
	for len(out) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := q.fetch(&out, 1, jetstream.FetchMaxWait(time.Second)); err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
	}
	// Then what is there already or comes within a moment, up to max
	// deliveries and a few MiB.
	if max > 1 {
		err := q.fetch(&out, max-1, jetstream.FetchMaxBytes(receiveBytes), jetstream.FetchMaxWait(2*time.Millisecond))
		if err != nil {
			q.log.Debug("receive more", "error", err)
		}
	}
	return out, nil
}

// fetch pulls up to n messages onto out, those that arrive within the
// options' wait.
func (q *Queue) fetch(out *[]eye.Delivery, n int, opts ...jetstream.FetchOpt) error {
	b, err := q.cons.Fetch(n, opts...)
	if err != nil {
		return err
	}
	for m := range b.Messages() {
		*out = append(*out, q.delivery(m))
	}
	if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
		return err
	}
	return nil
}

// delivery reads a queue message: one message, or the messages of a batch.
// A message that lacks The Eye's headers (not published by The Eye) is
// delivered with an empty Kind: the worker keeps it as an error record.
func (q *Queue) delivery(m jetstream.Msg) eye.Delivery {
	h := m.Headers()
	base := eye.Message{Kind: eye.Kind(h.Get(hdrKind)), ID: h.Get(hdrID), ApplicationID: h.Get(hdrApp),
		Payload: m.Data(), Detail: h.Get(hdrDetail)}
	var seq uint64
	redelivered := false
	if meta, err := m.Metadata(); err == nil {
		seq = meta.Sequence.Stream << seqShift
		redelivered = meta.NumDelivered > 1
	}
	msgs := []eye.Message{base}
	if base.Kind == kindBatch {
		var err error
		msgs, err = readFrames(m.Data())
		if err != nil {
			bad := base
			bad.Kind, bad.ID, bad.Detail = "", "", err.Error()
			msgs = append(msgs, bad)
		}
	}
	for i := range msgs {
		msgs[i].Seq = seq | uint64(i)
	}
	return eye.Delivery{Messages: msgs, Redelivered: redelivered, Acker: m}
}

// State reports the stream's and the consumer's state.
func (q *Queue) State(ctx context.Context) (eye.QueueState, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return eye.QueueState{}, fmt.Errorf("queue state: %w: %w", eye.Errorf(eye.EUNAVAILABLE, "The queue is unavailable."), err)
	}
	st := eye.QueueState{Messages: info.State.Msgs, Bytes: info.State.Bytes, MaxBytes: q.opts.MaxBytes}
	if info.State.Msgs > 0 {
		st.Oldest = info.State.FirstTime
	}
	ci, err := q.cons.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("consumer state: %w: %w", eye.Errorf(eye.EUNAVAILABLE, "The queue is unavailable."), err)
	}
	st.InProgress, st.Waiting = ci.NumAckPending, ci.NumWaiting
	return st, nil
}

// Notify publishes a notice to live-tail listeners (core NATS: no
// persistence, nobody waits; a listener that is not there misses it).
func (q *Queue) Notify(payload []byte) error {
	if err := q.nc.Publish(q.noticeSubject(), payload); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// Listen calls fn with each notice until the returned function is called.
func (q *Queue) Listen(fn func([]byte)) (func(), error) {
	sub, err := q.nc.Subscribe(q.noticeSubject(), func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("listen for notices: %w", err)
	}
	_ = sub.SetPendingLimits(64<<10, 256<<20)
	return func() { _ = sub.Unsubscribe() }, nil
}

// Ready reports whether the queue accepts publishes: connected, and the
// stream not full.
func (q *Queue) Ready(ctx context.Context) error {
	if !q.nc.IsConnected() {
		return eye.Errorf(eye.EUNAVAILABLE, "queue: not connected")
	}
	info, err := q.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("queue: %w: %w", eye.Errorf(eye.EUNAVAILABLE, "queue: %v", err), err)
	}
	// Full when there is no room left for one more large event.
	if q.opts.MaxBytes > 0 && int64(info.State.Bytes)+64<<10 > q.opts.MaxBytes {
		return eye.Errorf(eye.EUNAVAILABLE, "queue: full (%d bytes)", info.State.Bytes)
	}
	return nil
}

// Close closes the connection and, when embedded, shuts the server down.
func (q *Queue) Close() error {
	if q.group != nil {
		q.group.stop()
	}
	if q.nc != nil {
		// Flush what was published (acks of finished batches).
		_ = q.nc.FlushTimeout(5 * time.Second)
		q.nc.Close()
	}
	q.shutdownServer()
	return nil
}

func (q *Queue) shutdownServer() {
	if q.srv != nil {
		q.srv.Shutdown()
		q.srv.WaitForShutdown()
	}
}

// serverLog sends the embedded server's log to slog. Its notices (a banner
// at every start) are debug information for The Eye's operator.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
