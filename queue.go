package eye

import (
	"context"
	"time"
)

// Kind says what a queued message asks the worker to record.
type Kind string

// Kinds of queued messages.
const (
	KindEvent     Kind = "event"     // an event as an application sent it, to validate and store
	KindSession   Kind = "session"   // a session minted by POST /sessions/
	KindMalformed Kind = "malformed" // a body that was not a JSON object: stored as an error record
)

// Message is what ingest records: it travels through the queue to a worker,
// so that ingest never needs the store.
type Message struct {
	Kind          Kind
	ID            string // event id, session id or error record id
	ApplicationID string
	ReceivedAt    time.Time
	Payload       []byte // the bytes received, untouched
	Detail        string // for KindMalformed: why the body was refused
	Seq           uint64 // set by the queue on delivery: the arrival sequence, unique and increasing
}

// Delivery is what a worker receives from the queue at once: one message,
// or the messages of a batch published together. The worker acknowledges
// it only once all it records is committed to the store.
type Delivery struct {
	Messages    []Message
	Redelivered bool // the queue delivered it before (its worker stopped before acknowledging it)
	Acker
}

// Acker settles a delivered message.
type Acker interface {
	Ack() error        // done: remove it from the queue
	InProgress() error // still working on it: do not redeliver yet
	Nak() error        // not done: redeliver it
	// NakWithDelay: not done; redeliver it after delay.
	NakWithDelay(delay time.Duration) error
}

// Queue is the durable queue between ingest and the workers.
type Queue interface {
	// Publish persists msgs and returns once the queue has acknowledged
	// every one of them, with how many it recognized as duplicates of
	// messages it holds already. Messages published together may be
	// delivered together. An error means some may not be persisted:
	// EUNAVAILABLE when the queue is down or full.
	Publish(ctx context.Context, msgs ...Message) (duplicates int, err error)
	// Receive blocks until at least one message is available or ctx ends,
	// and returns up to max of them.
	Receive(ctx context.Context, max int) ([]Delivery, error)
	// Ready reports whether the queue accepts publishes.
	Ready(ctx context.Context) error
	// State reports what the queue holds and how its workers are doing.
	State(ctx context.Context) (QueueState, error)
	// Notify publishes a notice of what a worker recorded to live tails;
	// nothing keeps it.
	Notify(payload []byte) error
	// Listen calls fn with each notice until the returned function is
	// called.
	Listen(fn func(payload []byte)) (func(), error)
}
