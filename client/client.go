package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Client sends events to The Eye in batches from a background goroutine.
// Its methods are safe for concurrent use. Make one with New, share it,
// and Close it before the program exits.
type Client struct {
	base string // the API's URL, without a trailing slash
	key  string
	opts options
	log  *slog.Logger

	queue   chan item       // the buffer
	flushes chan chan error // Flush's requests to the goroutine
	quit    chan struct{}   // closed by Close once no Track runs: send what is left and stop
	done    chan struct{}   // closed when the goroutine has returned
	ctx     context.Context // the goroutine's requests; canceled when Close gives up
	cancel  context.CancelCauseFunc
	lastErr error // what the goroutine's last sends failed to deliver, read once done is closed

	mu       sync.Mutex
	closed   bool
	stopping chan struct{}  // closed by Close: blocked Tracks return
	tracks   sync.WaitGroup // Tracks running

	stats struct {
		tracked, dropped, delivered, failed, requests, retries atomic.Int64
	}
}

// Stats counts what a Client did since it was made. Once Close has
// returned, Tracked = Delivered + Failed.
type Stats struct {
	Tracked   int64 // events Track took into the buffer
	Dropped   int64 // events Track dropped because the buffer was full (policy Drop)
	Delivered int64 // events the API acknowledged
	Failed    int64 // tracked events reported as not delivered
	Requests  int64 // requests sent to the API, retries included
	Retries   int64 // requests that repeated one that failed
}

// New returns a client of the API at url (such as
// "http://127.0.0.1:8000") that authenticates with key, an API key with
// the ingest scope. It starts the client's goroutine: call Close to stop
// it.
func New(url, key string, opts ...Option) (*Client, error) {
	base, err := baseURL(url)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errors.New("eye: no API key")
	}
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Client{
		base:     base,
		key:      key,
		opts:     o,
		log:      o.logger,
		queue:    make(chan item, o.bufferSize),
		flushes:  make(chan chan error),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		stopping: make(chan struct{}),
	}
	go c.run()
	return c, nil
}

// baseURL checks the API's URL and returns it without a trailing slash.
func baseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("eye: API URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("eye: API URL %q is not an http or https URL with a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("eye: API URL %q has a query or a fragment", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// Track puts an event in the buffer, to be sent with the next batch, and
// returns without waiting for the network. It sets the event's Timestamp
// (when zero) and EventID (when empty), and encodes it at once: later
// changes to its Data are not sent.
//
// It returns an error wrapping ErrInvalidEvent for an event the API would
// refuse, ErrClosed after Close, and, when the buffer is full, what the
// buffer policy says: with Block, ctx's error if ctx is done before there
// is room; with Drop, a *DeliveryError wrapping ErrBufferFull.
func (c *Client) Track(ctx context.Context, ev Event) error {
	it, err := newItem(ev, time.Now())
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.tracks.Add(1)
	c.mu.Unlock()
	defer c.tracks.Done()

	c.stats.tracked.Add(1)
	select {
	case c.queue <- it:
		return nil
	default:
	}
	if c.opts.policy == Drop {
		c.stats.tracked.Add(-1)
		c.stats.dropped.Add(1)
		err := &DeliveryError{Events: []Event{it.event()}, Err: ErrBufferFull}
		c.report(err)
		return err
	}
	select {
	case c.queue <- it:
		return nil
	case <-ctx.Done():
		c.stats.tracked.Add(-1)
		return fmt.Errorf("eye: buffer full: %w", ctx.Err())
	case <-c.stopping:
		c.stats.tracked.Add(-1)
		return ErrClosed
	}
}

// Flush sends every buffered event and waits for the API's answers. It
// returns nil when all were delivered, the errors of those that were not
// (each a *DeliveryError, also reported to the error handler), ctx's error
// if ctx is done first (the sending goes on), or ErrClosed after Close.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	reply := make(chan error, 1)
	select {
	case c.flushes <- reply:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the client: Track refuses new events, and the buffered ones
// are sent. Close returns once they are delivered or given up, with the
// errors of those that were not (as Flush). If ctx is done first, Close
// abandons the requests in flight, reports the events still buffered to
// the error handler as not delivered, and returns ctx's error. Calling
// Close again waits for the first call to finish and returns nil.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.closed = true
	close(c.stopping)
	c.mu.Unlock()

	c.tracks.Wait() // after which nothing more enters the buffer
	close(c.quit)
	select {
	case <-c.done:
		return c.lastErr
	case <-ctx.Done():
		c.cancel(ctx.Err())
		<-c.done
		return errors.Join(ctx.Err(), c.lastErr)
	}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Tracked:   c.stats.tracked.Load(),
		Dropped:   c.stats.dropped.Load(),
		Delivered: c.stats.delivered.Load(),
		Failed:    c.stats.failed.Load(),
		Requests:  c.stats.requests.Load(),
		Retries:   c.stats.retries.Load(),
	}
}

// run is the client's goroutine: it takes the events from the buffer and
// sends them in batches, when a batch is full, when the interval has
// passed, on Flush and on Close. One batch is in flight at a time, so a
// slow or failing API fills the buffer, and the buffer policy applies.
func (c *Client) run() {
	defer close(c.done)
	ticker := time.NewTicker(c.opts.interval)
	defer ticker.Stop()
	var pending []item
	for {
		select {
		case it := <-c.queue:
			pending = append(pending, it)
			if len(pending) >= c.opts.batchSize {
				c.send(pending)
				pending = nil
			}
		case <-ticker.C:
			if len(pending) > 0 {
				c.send(pending)
				pending = nil
			}
		case reply := <-c.flushes:
			reply <- c.send(c.drain(pending))
			pending = nil
		case <-c.quit:
			c.lastErr = c.send(c.drain(pending))
			return
		}
	}
}

// drain appends the buffered events to pending.
func (c *Client) drain(pending []item) []item {
	for {
		select {
		case it := <-c.queue:
			pending = append(pending, it)
		default:
			return pending
		}
	}
}

// send delivers items in batches the API takes (at most the batch size
// and 1 MiB each), one after the other, and returns the errors of the
// events not delivered.
func (c *Client) send(items []item) error {
	var errs []error
	for len(items) > 0 {
		n, size := 0, 1 // as batchSize counts
		for n < len(items) && n < c.opts.batchSize {
			size += len(items[n].json) + len(sentAtMember) + 1
			if n > 0 && size > maxBatchBytes {
				break
			}
			n++
		}
		if err := c.deliver(items[:n]); err != nil {
			errs = append(errs, err)
		}
		items = items[n:]
	}
	return errors.Join(errs...)
}

// report tells the error handler, or the log, of events not delivered.
func (c *Client) report(err *DeliveryError) {
	if c.opts.onError != nil {
		c.opts.onError(err)
		return
	}
	c.log.Error("eye: events not delivered", "events", len(err.Events), "error", err.Err)
}

// fail reports tracked events as not delivered and returns the error.
func (c *Client) fail(items []item, cause error) error {
	events := make([]Event, len(items))
	for i, it := range items {
		events[i] = it.event()
	}
	err := &DeliveryError{Events: events, Err: cause}
	c.stats.failed.Add(int64(len(items)))
	c.report(err)
	return err
}
