package api

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/theeye/eye"
)

// streamBuffer is how many notices a client of the live stream may be
// behind before it is dropped: a slow client never slows anything else.
const streamBuffer = 1024

// hub fans the workers' notices out to the clients of GET /events/stream.
// It listens to the queue's notices (published by every worker process)
// only while it has clients.
type hub struct {
	queue eye.Queue
	log   interface{ Warn(string, ...any) }

	mu      sync.Mutex
	clients map[*streamClient]bool
	stop    func() // stops listening; nil when not listening
	closed  bool
}

// streamClient is one client of the live stream, with its filters.
type streamClient struct {
	f       eye.EventFilter
	errors  bool // also error records
	notices chan eye.Notice
	dropped chan struct{} // closed when the client fell behind
}

// add registers a client, listening to the queue if it is the first.
func (h *hub) add(c *streamClient) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return eye.Errorf(eye.EUNAVAILABLE, "The server is stopping.")
	}
	if h.stop == nil {
		stop, err := h.queue.Listen(h.dispatch)
		if err != nil {
			return err
		}
		h.stop = stop
	}
	h.clients[c] = true
	return nil
}

// remove forgets a client, and stops listening after the last.
func (h *hub) remove(c *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
	if len(h.clients) == 0 && h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// close ends every stream (the server is stopping: streams would keep
// its connections busy forever).
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		h.drop(c)
	}
}

// drop ends a client's stream, once.
func (h *hub) drop(c *streamClient) {
	select {
	case <-c.dropped:
	default:
		close(c.dropped)
	}
}

// dispatch hands a batch of notices to every client whose filters match,
// never waiting: a client whose buffer is full is dropped.
func (h *hub) dispatch(payload []byte) {
	var notices []eye.Notice
	if err := json.Unmarshal(payload, &notices); err != nil {
		h.log.Warn("a notice that is not JSON", "error", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for _, n := range notices {
			if !c.matches(n) {
				continue
			}
			select {
			case c.notices <- n:
			default:
				h.drop(c)
			}
		}
	}
}

// matches applies the filters of GET /events/ to a notice.
func (c *streamClient) matches(n eye.Notice) bool {
	f := c.f
	switch {
	case n.Outcome == eye.OutcomeRejected && !c.errors,
		f.ApplicationID != "" && n.ApplicationID != f.ApplicationID,
		f.SessionID != "" && n.SessionID != f.SessionID,
		f.Category != "" && n.Category != f.Category,
		f.Name != "" && n.Name != f.Name:
		return false
	}
	if n.Outcome == eye.OutcomeStored && (!f.From.IsZero() || !f.To.IsZero()) {
		t, err := eye.ParseTime(n.Timestamp)
		if err != nil || (!f.From.IsZero() && t.Before(f.From)) || (!f.To.IsZero() && t.After(f.To)) {
			return false
		}
	}
	return true
}

// streamEvents answers GET /events/stream: Server-Sent Events, one per
// event stored ("stored") and, with include=errors, per error record made
// ("rejected"), as workers commit them, with the filters of GET /events/.
// A client that falls behind gets a final "dropped" event and the end of
// the stream.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, "application", "session", "category", "name", "timestamp__gte", "timestamp__lte", "include")
	c := &streamClient{
		f: eye.EventFilter{ApplicationID: p.str("application"), SessionID: p.uuid("session"), Category: p.str("category"),
			Name: p.str("name"), From: p.time("timestamp__gte"), To: p.time("timestamp__lte")},
		notices: make(chan eye.Notice, streamBuffer),
		dropped: make(chan struct{}),
	}
	switch include := p.str("include"); include {
	case "", "events":
	case "errors":
		c.errors = true
	default:
		p.fail("include", "The query parameter \"include\" must be errors, not %q.", include)
	}
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	if err := s.hub.add(c); err != nil {
		s.fail(w, r, err)
		return
	}
	defer s.hub.remove(c)

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream has no end: no write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // let proxies pass events at once
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": connected\n\n"))
	_ = rc.Flush()

	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case n := <-c.notices:
			if err := writeSSE(w, n.Outcome, n.ID, n); err != nil {
				return
			}
			// Send what else is waiting before flushing.
			for more := true; more; {
				select {
				case n := <-c.notices:
					if err := writeSSE(w, n.Outcome, n.ID, n); err != nil {
						return
					}
				default:
					more = false
				}
			}
			if rc.Flush() != nil {
				return
			}
		case <-keepAlive.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case <-c.dropped:
			_ = writeSSE(w, "dropped", "", map[string]string{"reason": "the stream ended: the client fell behind, or the server is stopping"})
			_ = rc.Flush()
			return
		case <-r.Context().Done():
			return
		}
	}
}

// writeSSE writes one Server-Sent Event.
func writeSSE(w http.ResponseWriter, event, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(data)+64)
	buf = append(buf, "event: "...)
	buf = append(buf, event...)
	if id != "" {
		buf = append(buf, "\nid: "...)
		buf = append(buf, id...)
	}
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	_, err = w.Write(buf)
	return err
}
