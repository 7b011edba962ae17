package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theeye/eye/client"
)

// fakeAPI is a stand-in for the API's POST /events/batch/, for the
// behaviours that need an answer of a given kind at a given moment. It
// records every request's events; answer, when set, may answer request n
// (from 1) itself, or return false to let the default 202 answer it.
type fakeAPI struct {
	*httptest.Server
	t      *testing.T
	answer func(n int, events []map[string]any, w http.ResponseWriter) bool

	mu       sync.Mutex
	requests [][]map[string]any // the events of each request, in arrival order
	headers  []http.Header
}

func newFakeAPI(t *testing.T, answer func(n int, events []map[string]any, w http.ResponseWriter) bool) *fakeAPI {
	f := &fakeAPI{t: t, answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/events/batch/" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var events []map[string]any
	if err := json.NewDecoder(r.Body).Decode(&events); err != nil {
		f.t.Errorf("batch body: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, events)
	f.headers = append(f.headers, r.Header.Clone())
	n := len(f.requests)
	f.mu.Unlock()
	if f.answer != nil && f.answer(n, events, w) {
		return
	}
	ids := make([]string, len(events))
	for i := range ids {
		ids[i] = client.NewSessionID()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]any{"accepted": len(events), "ids": ids, "errors": []any{}})
}

// events returns the events of every request, retries included.
func (f *fakeAPI) events() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []map[string]any
	for _, r := range f.requests {
		all = append(all, r...)
	}
	return all
}

// request returns the events and headers of request n (from 0).
func (f *fakeAPI) request(n int) ([]map[string]any, http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[n], f.headers[n]
}

func (f *fakeAPI) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// problem answers with a problem document.
func problem(w http.ResponseWriter, status int, code, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Request-Id", "req-"+code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status),
		"status": status, "detail": "The answer is " + code + ".", "code": code})
}

// errorLog collects what the error handler is told.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handle(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// undelivered counts the events the handler was told of.
func (l *errorLog) undelivered() int {
	n := 0
	for _, err := range l.all() {
		var de *client.DeliveryError
		if errors.As(err, &de) {
			n += len(de.Events)
		}
	}
	return n
}

// newClient makes a client of url that logs to the test's output and is
// closed at the end of the test.
func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	return newKeyedClient(t, url, "eye_test-key", opts...)
}

func newKeyedClient(t *testing.T, url, key string, opts ...client.Option) *client.Client {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := client.New(url, key, append([]client.Option{client.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func pageview(session string, n int) client.Event {
	ev := client.Pageview(session, "www.example.com", fmt.Sprintf("/page/%d", n))
	ev.Data["n"] = n
	return ev
}

func TestBatchBody(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := newClient(t, f.URL+"/", client.WithBatchSize(1000), client.WithInterval(time.Hour))
	ctx := context.Background()
	session := client.NewSessionID()
	when := time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.FixedZone("CET", 3600))
	own := client.CTAClick(session, "www.example.com", "/", "chat bubble")
	own.EventID, own.Timestamp = "cta-7f3a", when
	for _, ev := range []client.Event{
		client.Pageview(session, "www.example.com", "/"),
		own,
		client.FormSubmit(session, "www.example.com", "/", map[string]any{"first_name": "John", "last_name": "Doe"}),
	} {
		if err := c.Track(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f.requestCount() != 1 {
		t.Fatalf("%d requests, want 1", f.requestCount())
	}
	_, h := f.request(0)
	if h.Get("Authorization") != "Bearer eye_test-key" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	events := f.events()
	want := []struct{ category, name, data string }{
		{"page interaction", "pageview", `{"host":"www.example.com","path":"/"}`},
		{"page interaction", "cta click", `{"element":"chat bubble","host":"www.example.com","path":"/"}`},
		{"form interaction", "submit", `{"form":{"first_name":"John","last_name":"Doe"},"host":"www.example.com","path":"/"}`},
	}
	ids := map[string]bool{}
	for i, ev := range events {
		data, _ := json.Marshal(ev["data"])
		if ev["session_id"] != session || ev["category"] != want[i].category || ev["name"] != want[i].name || string(data) != want[i].data {
			t.Errorf("event %d: %v", i, ev)
		}
		for _, k := range []string{"timestamp", "sent_at"} {
			if _, err := time.Parse(time.RFC3339Nano, ev[k].(string)); err != nil {
				t.Errorf("event %d: %s: %v", i, k, err)
			}
		}
		id, _ := ev["event_id"].(string)
		if id == "" || ids[id] {
			t.Errorf("event %d: event_id %q missing or repeated", i, id)
		}
		ids[id] = true
	}
	if events[1]["event_id"] != "cta-7f3a" || events[1]["timestamp"] != "2021-01-01T08:15:27.24386Z" {
		t.Errorf("the caller's event_id and timestamp were not kept: %v", events[1])
	}
}

func TestTrackRefusesInvalidEvents(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := newClient(t, f.URL)
	session := client.NewSessionID()
	long := strings.Repeat("x", 201)
	for name, ev := range map[string]client.Event{
		"session not a UUID": client.Pageview("session-1", "h", "/"),
		"no session":         client.Pageview("", "h", "/"),
		"blank category":     {SessionID: session, Category: " ", Name: "n", Data: map[string]any{"a": 1}},
		"no name":            {SessionID: session, Category: "c", Data: map[string]any{"a": 1}},
		"long category":      {SessionID: session, Category: long[:51], Name: "n", Data: map[string]any{"a": 1}},
		"long name":          {SessionID: session, Category: "c", Name: long[:151], Data: map[string]any{"a": 1}},
		"empty data":         {SessionID: session, Category: "c", Name: "n", Data: map[string]any{}},
		"long event_id":      {SessionID: session, Category: "c", Name: "n", Data: map[string]any{"a": 1}, EventID: long},
		"data not JSON":      {SessionID: session, Category: "c", Name: "n", Data: map[string]any{"f": func() {}}},
		"too large":          {SessionID: session, Category: "c", Name: "n", Data: map[string]any{"a": strings.Repeat("x", 33<<10)}},
	} {
		if err := c.Track(t.Context(), ev); !errors.Is(err, client.ErrInvalidEvent) {
			t.Errorf("%s: Track returned %v, want ErrInvalidEvent", name, err)
		}
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events()); n != 0 {
		t.Errorf("%d invalid events sent", n)
	}
}

func TestNewChecksItsArguments(t *testing.T) {
	for name, args := range map[string]struct {
		url, key string
		opts     []client.Option
	}{
		"no URL":        {"", "k", nil},
		"no scheme":     {"127.0.0.1:8000", "k", nil},
		"ftp":           {"ftp://example.com", "k", nil},
		"query":         {"http://example.com/?a=1", "k", nil},
		"no key":        {"http://example.com", "", nil},
		"batch of 0":    {"http://example.com", "k", []client.Option{client.WithBatchSize(0)}},
		"batch of 1001": {"http://example.com", "k", []client.Option{client.WithBatchSize(1001)}},
		"interval 0":    {"http://example.com", "k", []client.Option{client.WithInterval(0)}},
		"buffer 0":      {"http://example.com", "k", []client.Option{client.WithBufferSize(0)}},
		"policy":        {"http://example.com", "k", []client.Option{client.WithBufferPolicy(client.BufferPolicy(7))}},
		"nil client":    {"http://example.com", "k", []client.Option{client.WithHTTPClient(nil)}},
		"backoff 0":     {"http://example.com", "k", []client.Option{client.WithMaxBackoff(0)}},
		"nil logger":    {"http://example.com", "k", []client.Option{client.WithLogger(nil)}},
	} {
		if c, err := client.New(args.url, args.key, args.opts...); err == nil {
			c.Close(t.Context())
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestNewSessionID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := client.NewSessionID()
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
			t.Fatalf("%q is not a UUID", id)
		}
		if id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
	}
}

// TestRetryAfterRespected: a 503 with Retry-After: 1 is retried no sooner
// than a second later, even with a far shorter backoff, with the same
// event_ids.
func TestRetryAfterRespected(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	f := newFakeAPI(t, func(n int, _ []map[string]any, w http.ResponseWriter) bool {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n == 1 {
			problem(w, http.StatusServiceUnavailable, "unavailable", "1")
			return true
		}
		return false
	})
	var errs errorLog
	c := newClient(t, f.URL, client.WithMaxBackoff(time.Millisecond), client.WithErrorHandler(errs.handle))
	session := client.NewSessionID()
	for i := range 3 {
		c.Track(t.Context(), pageview(session, i))
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 {
		t.Fatalf("%d requests, want 2", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("retried after %v, before the Retry-After of 1s", gap)
	}
	first, _ := f.request(0)
	second, _ := f.request(1)
	for i := range first {
		if first[i]["event_id"] != second[i]["event_id"] {
			t.Errorf("event %d: event_id %v, then %v", i, first[i]["event_id"], second[i]["event_id"])
		}
	}
	if st := c.Stats(); st.Delivered != 3 || st.Retries != 1 || st.Requests != 2 || len(errs.all()) != 0 {
		t.Errorf("stats %+v, errors %v", st, errs.all())
	}
}

// TestRetriesOnServerErrors: 429 and 5xx answers are retried until one is
// accepted.
func TestRetriesOnServerErrors(t *testing.T) {
	statuses := []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
	f := newFakeAPI(t, func(n int, _ []map[string]any, w http.ResponseWriter) bool {
		if n <= len(statuses) {
			problem(w, statuses[n-1], "try_again", "")
			return true
		}
		return false
	})
	c := newClient(t, f.URL, client.WithMaxBackoff(time.Millisecond))
	c.Track(t.Context(), pageview(client.NewSessionID(), 1))
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.requestCount(); n != len(statuses)+1 {
		t.Errorf("%d requests, want %d", n, len(statuses)+1)
	}
	if st := c.Stats(); st.Delivered != 1 || st.Retries != int64(len(statuses)) {
		t.Errorf("stats %+v", st)
	}
}

// TestNetworkErrorsRetried: a connection closed without an answer is
// retried.
func TestNetworkErrorsRetried(t *testing.T) {
	f := newFakeAPI(t, func(n int, _ []map[string]any, w http.ResponseWriter) bool {
		if n <= 2 {
			panic(http.ErrAbortHandler) // closes the connection without an answer
		}
		return false
	})
	c := newClient(t, f.URL, client.WithMaxBackoff(time.Millisecond))
	c.Track(t.Context(), pageview(client.NewSessionID(), 1))
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Delivered != 1 || st.Retries != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestClientErrorNotRetried: a 400 is not retried; its events are
// reported to the error handler, and to Flush's caller, with the problem.
func TestClientErrorNotRetried(t *testing.T) {
	f := newFakeAPI(t, func(_ int, _ []map[string]any, w http.ResponseWriter) bool {
		problem(w, http.StatusBadRequest, "malformed_json", "")
		return true
	})
	var errs errorLog
	c := newClient(t, f.URL, client.WithMaxBackoff(time.Millisecond), client.WithErrorHandler(errs.handle))
	session := client.NewSessionID()
	for i := range 5 {
		c.Track(t.Context(), pageview(session, i))
	}
	err := c.Flush(t.Context())
	var de *client.DeliveryError
	var ae *client.APIError
	if !errors.As(err, &de) || len(de.Events) != 5 || !errors.As(err, &ae) {
		t.Fatalf("Flush returned %v, want a DeliveryError of 5 events", err)
	}
	if ae.StatusCode != 400 || ae.Code != "malformed_json" || ae.RequestID != "req-malformed_json" {
		t.Errorf("API error %+v", ae)
	}
	if f.requestCount() != 1 {
		t.Errorf("%d requests, want 1", f.requestCount())
	}
	if got := errs.all(); len(got) != 1 || got[0] != de {
		t.Errorf("the handler was told %v", got)
	}
	if st := c.Stats(); st.Failed != 5 || st.Delivered != 0 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("reported: %v", err)
}

// TestGivesUpAfterMaxRetries: a batch still failing after the retries is
// reported with the last failure.
func TestGivesUpAfterMaxRetries(t *testing.T) {
	f := newFakeAPI(t, func(_ int, _ []map[string]any, w http.ResponseWriter) bool {
		problem(w, http.StatusInternalServerError, "internal", "")
		return true
	})
	var errs errorLog
	c := newClient(t, f.URL, client.WithMaxRetries(2), client.WithMaxBackoff(time.Millisecond), client.WithErrorHandler(errs.handle))
	c.Track(t.Context(), pageview(client.NewSessionID(), 1))
	err := c.Flush(t.Context())
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 500 {
		t.Fatalf("Flush returned %v", err)
	}
	if f.requestCount() != 3 || errs.undelivered() != 1 {
		t.Errorf("%d requests (want 3), %d events reported (want 1)", f.requestCount(), errs.undelivered())
	}
}

// TestRefusedElementsReported: the events an accepted batch's answer lists
// as refused are reported; the others count as delivered.
func TestRefusedElementsReported(t *testing.T) {
	f := newFakeAPI(t, func(_ int, events []map[string]any, w http.ResponseWriter) bool {
		ids := make([]any, len(events))
		for i := range ids {
			ids[i] = client.NewSessionID()
		}
		ids[1] = nil
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]any{"accepted": len(events) - 1, "ids": ids, "errors": []any{
			map[string]any{"index": 1, "error_id": "01a228cc-17a0-7c5c-a0a2-f197b0f32dc0", "code": "malformed_json", "detail": "element 1 is not valid JSON"},
		}})
		return true
	})
	var errs errorLog
	c := newClient(t, f.URL, client.WithErrorHandler(errs.handle))
	session := client.NewSessionID()
	for i := range 3 {
		c.Track(t.Context(), pageview(session, i))
	}
	err := c.Flush(t.Context())
	var de *client.DeliveryError
	var ae *client.APIError
	if !errors.As(err, &de) || len(de.Events) != 1 || fmt.Sprint(de.Events[0].Data["n"]) != "1" || !errors.As(err, &ae) {
		t.Fatalf("Flush returned %v, want the refusal of event 1", err)
	}
	if ae.StatusCode != http.StatusAccepted || ae.Code != "malformed_json" || ae.ErrorID == "" {
		t.Errorf("API error %+v", ae)
	}
	if st := c.Stats(); st.Delivered != 2 || st.Failed != 1 || errs.undelivered() != 1 {
		t.Errorf("stats %+v, handler told %v", st, errs.all())
	}
}

// TestTooLargeSplit: a batch answered 413 is sent again in halves.
func TestTooLargeSplit(t *testing.T) {
	f := newFakeAPI(t, func(_ int, events []map[string]any, w http.ResponseWriter) bool {
		if len(events) > 3 {
			problem(w, http.StatusRequestEntityTooLarge, "too_large", "")
			return true
		}
		return false
	})
	c := newClient(t, f.URL, client.WithInterval(time.Hour))
	session := client.NewSessionID()
	for i := range 10 {
		c.Track(t.Context(), pageview(session, i))
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Delivered != 10 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// blockingAPI answers nothing until release is called; started receives
// a value when the first request arrives. Tests defer release, so that a
// failing test does not leave the server waiting.
func blockingAPI(t *testing.T) (f *fakeAPI, started chan struct{}, release func()) {
	started, unblock := make(chan struct{}, 1), make(chan struct{})
	f = newFakeAPI(t, func(n int, _ []map[string]any, _ http.ResponseWriter) bool {
		if n == 1 {
			started <- struct{}{}
		}
		<-unblock
		return false
	})
	return f, started, sync.OnceFunc(func() { close(unblock) })
}

// TestDropPolicy: with Drop, Track on a full buffer returns at once, and
// the handler is told of the dropped event, which can be tracked again.
func TestDropPolicy(t *testing.T) {
	f, started, release := blockingAPI(t)
	defer release()
	var errs errorLog
	c := newClient(t, f.URL, client.WithBatchSize(1), client.WithBufferSize(2),
		client.WithBufferPolicy(client.Drop), client.WithErrorHandler(errs.handle))
	session := client.NewSessionID()
	c.Track(t.Context(), pageview(session, 0)) // in flight
	<-started
	for i := 1; i <= 2; i++ { // fill the buffer
		if err := c.Track(t.Context(), pageview(session, i)); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Track(t.Context(), pageview(session, 3))
	var de *client.DeliveryError
	if !errors.Is(err, client.ErrBufferFull) || !errors.As(err, &de) || fmt.Sprint(de.Events[0].Data["n"]) != "3" {
		t.Fatalf("Track on a full buffer returned %v", err)
	}
	if got := errs.all(); len(got) != 1 || !errors.Is(got[0], client.ErrBufferFull) {
		t.Errorf("the handler was told %v", got)
	}
	release()

	// The reported event, tracked again once there is room, is the same
	// event: same event_id, same data.
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Track(t.Context(), de.Events[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Tracked != 4 || st.Dropped != 1 || st.Delivered != 4 {
		t.Errorf("stats %+v", st)
	}
	events := f.events()
	last := events[len(events)-1]
	if last["event_id"] != de.Events[0].EventID || last["data"].(map[string]any)["n"] != 3.0 || len(events) != 4 {
		t.Errorf("the dropped event tracked again was sent as %v", last)
	}
}

// TestBlockPolicy: with Block, Track on a full buffer waits for room, or
// until its context is done.
func TestBlockPolicy(t *testing.T) {
	f, started, release := blockingAPI(t)
	defer release()
	c := newClient(t, f.URL, client.WithBatchSize(1), client.WithBufferSize(1))
	session := client.NewSessionID()
	c.Track(t.Context(), pageview(session, 0)) // in flight
	<-started
	if err := c.Track(t.Context(), pageview(session, 1)); err != nil { // fills the buffer
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := c.Track(ctx, pageview(session, 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Track on a full buffer returned %v, want the context's deadline", err)
	}

	tracked := make(chan error)
	go func() { tracked <- c.Track(t.Context(), pageview(session, 3)) }()
	select {
	case err := <-tracked:
		t.Fatalf("Track returned %v while the buffer was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-tracked; err != nil {
		t.Fatal(err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	ns := map[float64]bool{}
	for _, ev := range f.events() {
		ns[ev["data"].(map[string]any)["n"].(float64)] = true
	}
	if len(ns) != 3 || !ns[0] || !ns[1] || !ns[3] {
		t.Errorf("sent events %v, want 0, 1 and 3", ns)
	}
}

// TestFlushAndClose: nothing is sent before the batch is full or the
// interval passes; Flush and Close send what is buffered; after Close,
// Track and Flush return ErrClosed.
func TestFlushAndClose(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := newClient(t, f.URL, client.WithBatchSize(1000), client.WithInterval(time.Hour))
	session := client.NewSessionID()
	for i := range 10 {
		c.Track(t.Context(), pageview(session, i))
	}
	if n := f.requestCount(); n != 0 {
		t.Fatalf("%d requests before Flush", n)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events()); n != 10 {
		t.Fatalf("%d events sent by Flush, want 10", n)
	}
	for i := range 5 {
		c.Track(t.Context(), pageview(session, 10+i))
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events()); n != 15 {
		t.Fatalf("%d events sent after Close, want 15", n)
	}
	if err := c.Track(t.Context(), pageview(session, 99)); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Track after Close returned %v", err)
	}
	if err := c.Flush(t.Context()); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Flush after Close returned %v", err)
	}
	if _, err := c.CreateSession(t.Context()); !errors.Is(err, client.ErrClosed) {
		t.Errorf("CreateSession after Close returned %v", err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("second Close returned %v", err)
	}
}

// TestIntervalSends: a batch that is not full is sent once the interval
// has passed.
func TestIntervalSends(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := newClient(t, f.URL, client.WithInterval(10*time.Millisecond))
	c.Track(t.Context(), pageview(client.NewSessionID(), 1))
	for c.Stats().Delivered != 1 {
		select {
		case <-t.Context().Done():
			t.Fatal("the event was never sent")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestCloseGivesUp: when Close's context ends before the API takes the
// events, Close returns, and the events are reported as not delivered.
func TestCloseGivesUp(t *testing.T) {
	f := newFakeAPI(t, func(_ int, _ []map[string]any, w http.ResponseWriter) bool {
		problem(w, http.StatusServiceUnavailable, "unavailable", "1")
		return true
	})
	var errs errorLog
	c := newClient(t, f.URL, client.WithMaxRetries(-1), client.WithBatchSize(10), client.WithErrorHandler(errs.handle))
	session := client.NewSessionID()
	for i := range 25 {
		c.Track(t.Context(), pageview(session, i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close returned %v", err)
	}
	if n := errs.undelivered(); n != 25 {
		t.Errorf("%d events reported, want 25", n)
	}
	for _, err := range errs.all() {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("reported %v, want the deadline of Close", err)
		}
	}
	if st := c.Stats(); st.Tracked != 25 || st.Failed != 25 {
		t.Errorf("stats %+v", st)
	}
}

// TestConcurrentUse: Track, Flush and Stats from many goroutines; every
// event is sent once.
func TestConcurrentUse(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := newClient(t, f.URL, client.WithBatchSize(50), client.WithBufferSize(100), client.WithInterval(5*time.Millisecond))
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			session := client.NewSessionID()
			for i := range each {
				if err := c.Track(t.Context(), pageview(session, g*each+i)); err != nil {
					t.Error(err)
					return
				}
				if i%100 == 0 {
					if err := c.Flush(t.Context()); err != nil {
						t.Error(err)
					}
					c.Stats()
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	ids, ns := map[any]int{}, map[any]int{}
	for _, ev := range f.events() {
		ids[ev["event_id"]]++
		ns[ev["data"].(map[string]any)["n"]]++
	}
	if len(ids) != goroutines*each || len(ns) != goroutines*each || len(f.events()) != goroutines*each {
		t.Errorf("%d events sent, %d event_ids, %d distinct, want %d", len(f.events()), len(ids), len(ns), goroutines*each)
	}
	st := c.Stats()
	if st.Tracked != goroutines*each || st.Delivered != st.Tracked {
		t.Errorf("stats %+v", st)
	}
	t.Logf("%d events in %d requests", st.Delivered, st.Requests)
}
