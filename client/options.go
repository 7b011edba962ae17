package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of the options.
const (
	DefaultBatchSize  = 250              // events per batch (WithBatchSize)
	DefaultInterval   = time.Second      // between two sends of a batch that is not full (WithInterval)
	DefaultBufferSize = 10_000           // events waiting to be sent (WithBufferSize)
	DefaultMaxRetries = 10               // retries of a request (WithMaxRetries)
	DefaultMaxBackoff = 30 * time.Second // the longest wait between two attempts (WithMaxBackoff)
)

// maxBatchSize is the most events the API takes in one batch.
const maxBatchSize = 1000

// A BufferPolicy says what Track does when the buffer is full.
type BufferPolicy int

const (
	// Block makes Track wait for room in the buffer, until its context is
	// done or the client is closed.
	Block BufferPolicy = iota

	// Drop makes Track drop the event at once: it returns a
	// *DeliveryError whose cause is ErrBufferFull, and reports it to the
	// error handler.
	Drop
)

// String returns "block" or "drop".
func (p BufferPolicy) String() string {
	switch p {
	case Block:
		return "block"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("BufferPolicy(%d)", int(p))
}

// An Option configures a Client.
type Option func(*options)

type options struct {
	batchSize  int
	interval   time.Duration
	bufferSize int
	policy     BufferPolicy
	onError    func(error)
	httpClient *http.Client
	maxRetries int
	maxBackoff time.Duration
	logger     *slog.Logger
}

func defaults() options {
	return options{
		batchSize:  DefaultBatchSize,
		interval:   DefaultInterval,
		bufferSize: DefaultBufferSize,
		policy:     Block,
		httpClient: &http.Client{Timeout: 30 * time.Second},
		maxRetries: DefaultMaxRetries,
		maxBackoff: DefaultMaxBackoff,
		logger:     slog.Default(),
	}
}

// check reports the first option out of its range.
func (o *options) check() error {
	switch {
	case o.batchSize < 1 || o.batchSize > maxBatchSize:
		return fmt.Errorf("eye: batch size %d is not from 1 to %d", o.batchSize, maxBatchSize)
	case o.interval <= 0:
		return fmt.Errorf("eye: interval %v is not positive", o.interval)
	case o.bufferSize < 1:
		return fmt.Errorf("eye: buffer size %d is not positive", o.bufferSize)
	case o.policy != Block && o.policy != Drop:
		return fmt.Errorf("eye: unknown buffer policy %v", o.policy)
	case o.httpClient == nil:
		return errors.New("eye: nil HTTP client")
	case o.maxBackoff <= 0:
		return fmt.Errorf("eye: max backoff %v is not positive", o.maxBackoff)
	case o.logger == nil:
		return errors.New("eye: nil logger")
	}
	return nil
}

// WithBatchSize sets how many events a batch holds at most, from 1 to 1,000
// (default 250): a batch is sent once it is full, or when the interval
// has passed.
func WithBatchSize(n int) Option {
	return func(o *options) { o.batchSize = n }
}

// WithInterval sets how often the buffered events are sent when there are
// not enough of them to fill a batch (default 1 s).
func WithInterval(d time.Duration) Option {
	return func(o *options) { o.interval = d }
}

// WithBufferSize sets how many events wait in the buffer at most, besides
// the batch being sent (default 10,000). When the buffer is full, Track
// applies the buffer policy.
func WithBufferSize(n int) Option {
	return func(o *options) { o.bufferSize = n }
}

// WithBufferPolicy sets what Track does when the buffer is full: Block (the
// default) or Drop.
func WithBufferPolicy(p BufferPolicy) Option {
	return func(o *options) { o.policy = p }
}

// WithErrorHandler sets the function told of every event that is not
// delivered, with a *DeliveryError. It is called from the client's
// goroutine, and from Track for a dropped event, so it must be safe for
// concurrent use; it must not call Flush or Close. Without a handler, the
// failures are logged at level Error.
func WithErrorHandler(f func(error)) Option {
	return func(o *options) { o.onError = f }
}

// WithHTTPClient sets the HTTP client that sends the requests (default: one
// with a 30 s timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithMaxRetries sets how many times a request is sent again after a
// network error or a 408, 429 or 5xx answer before its events are given up
// (default 10). 0 never retries; a negative n retries without limit, until
// Close gives up.
func WithMaxRetries(n int) Option {
	return func(o *options) { o.maxRetries = n }
}

// WithMaxBackoff caps the wait between two attempts (default 30 s). The
// wait doubles from 100 ms at each retry, with jitter, up to this cap; a
// longer Retry-After from the server is respected all the same.
func WithMaxBackoff(d time.Duration) Option {
	return func(o *options) { o.maxBackoff = d }
}

// WithLogger sets the logger of retries (level Warn), batches (Debug), and
// of undelivered events when there is no error handler (Error). The
// default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}
