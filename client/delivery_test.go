package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/theeye/eye/client"
)

// faultProxy stands between the client and the server. It answers 503
// with Retry-After while unavailable is set; it loses the server's answers
// to the next lose batches (the server has taken the events, the client
// sees its connection closed); and it closes the client's connection
// without an answer when the server cannot be reached, as the server
// itself would.
type faultProxy struct {
	*httptest.Server
	proxy *httputil.ReverseProxy

	unavailable atomic.Bool
	lose        atomic.Int64
	requests    atomic.Int64 // every request
	refused     atomic.Int64 // answered 503 by the proxy
	lost        atomic.Int64 // answered by the server, the answer lost
	aborted     atomic.Int64 // the server could not be reached
}

var errAnswerLost = errors.New("answer lost on purpose")

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ModifyResponse: func(res *http.Response) error {
			if res.Request.URL.Path == "/events/batch/" && res.StatusCode == http.StatusAccepted && p.lose.Add(-1) >= 0 {
				return errAnswerLost
			}
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, errAnswerLost) {
				p.lost.Add(1)
			} else {
				p.aborted.Add(1)
			}
			panic(http.ErrAbortHandler) // close the connection without an answer
		},
		ErrorLog: log.New(t.Output(), "proxy: ", 0),
	}
	p.Server = httptest.NewServer(p)
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if p.unavailable.Load() {
		p.refused.Add(1)
		problem(w, http.StatusServiceUnavailable, "unavailable", "1")
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// waitUntil polls cond until it holds or the test's context ends.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestEveryEventStoredOnce tracks 5,000 events through the client to the
// real server while it answers 503 for a while, is stopped with SIGTERM
// and started again, then killed with SIGKILL and started again: every
// event is stored exactly once, whatever was retried.
func TestEveryEventStoredOnce(t *testing.T) {
	srv := startEye(t)
	app, key := srv.newApplication("client delivery test")
	proxy := newFaultProxy(t, srv.url())
	var errs errorLog
	c := newKeyedClient(t, proxy.URL, key, client.WithBatchSize(100), client.WithInterval(20*time.Millisecond),
		client.WithMaxRetries(30), client.WithMaxBackoff(time.Second), client.WithErrorHandler(errs.handle))

	const sessions, perSession, goroutines = 10, 500, 4
	const total = sessions * perSession
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = client.NewSessionID()
	}
	var tracked atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := g; n < total; n += goroutines {
				ev := client.Pageview(ids[n%sessions], "www.example.com", "/")
				ev.Data["n"] = n
				if err := c.Track(t.Context(), ev); err != nil {
					t.Error(err)
					return
				}
				tracked.Add(1)
				time.Sleep(5 * time.Millisecond) // spread the events over the faults
			}
		})
	}

	// The faults, one after the other, each while events keep coming.
	more := func(n int64) {
		t.Helper()
		target := tracked.Load() + n
		waitUntil(t, "more events tracked", func() bool { return tracked.Load() >= min(target, total) })
	}
	more(500)
	start := time.Now()
	proxy.unavailable.Store(true)
	waitUntil(t, "a second of 503s", func() bool { return proxy.refused.Load() >= 2 && time.Since(start) > time.Second })
	proxy.unavailable.Store(false)
	t.Logf("503 for %v, %d events tracked", time.Since(start).Round(time.Millisecond), tracked.Load())

	more(600)
	start = time.Now()
	srv.restart(syscall.SIGTERM)
	t.Logf("SIGTERM and restart in %v, %d events tracked", time.Since(start).Round(time.Millisecond), tracked.Load())

	more(600)
	start = time.Now()
	srv.stop(syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	srv.start()
	t.Logf("SIGKILL and restart in %v, %d events tracked", time.Since(start).Round(time.Millisecond), tracked.Load())

	more(600)
	proxy.lose.Store(3)
	waitUntil(t, "3 answers lost", func() bool { return proxy.lost.Load() >= 3 })
	t.Logf("3 answers lost, %d events tracked", tracked.Load())

	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := errs.all(); len(got) > 0 {
		t.Errorf("%d errors reported, the first: %v", len(got), got[0])
	}
	st := c.Stats()
	if st.Tracked != total || st.Delivered != total || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v, want %d tracked and delivered", st, total)
	}
	if st.Retries == 0 || proxy.refused.Load() == 0 {
		t.Errorf("nothing was retried: stats %+v", st)
	}

	events := srv.waitEvents(app, total)
	byEventID, byN := map[string]int{}, make([]int, total)
	perSessionStored := map[string]int{}
	for _, ev := range events {
		byEventID[ev.EventID]++
		perSessionStored[ev.SessionID]++
		n, ok := ev.Data["n"].(float64)
		if !ok || n < 0 || int(n) >= total || ev.SessionID != ids[int(n)%sessions] {
			t.Fatalf("unexpected event %+v", ev)
		}
		byN[int(n)]++
		if ev.SentAt == nil || ev.Category != "page interaction" || ev.Name != "pageview" {
			t.Errorf("event %+v", ev)
		}
	}
	duplicated, missing := 0, 0
	for id, k := range byEventID {
		if id == "" || k != 1 {
			duplicated++
			t.Errorf("event_id %q stored %d times", id, k)
		}
	}
	for n, k := range byN {
		switch {
		case k == 0:
			missing++
		case k > 1:
			duplicated++
			t.Errorf("event %d stored %d times", n, k)
		}
	}
	if missing > 0 {
		t.Errorf("%d events missing, the first: %d", missing, slices.Index(byN, 0))
	}
	for _, ss := range list[session](srv, "/sessions/?limit=1000&application="+app) {
		if ss.EventCount != perSession || perSessionStored[ss.ID] != perSession {
			t.Errorf("session %s: event_count %d, %d events listed, want %d", ss.ID, ss.EventCount, perSessionStored[ss.ID], perSession)
		}
	}
	if recs := list[map[string]any](srv, "/errors/?application="+app); len(recs) > 0 {
		t.Errorf("%d error records, the first: %v", len(recs), recs[0])
	}
	t.Logf("events: %d tracked, %d delivered, %d stored (%d distinct event_ids), %d duplicated, %d missing",
		st.Tracked, st.Delivered, len(events), len(byEventID), duplicated, missing)
	t.Logf("requests: %d sent by the client, %d of them retries; the proxy answered %d with 503, lost %d answers, found the server away %d times",
		st.Requests, st.Retries, proxy.refused.Load(), proxy.lost.Load(), proxy.aborted.Load())
	t.Logf("the last server process counted %v events sent again as duplicates", srv.metric("eye_events_duplicate_total"))
}

// TestRealServer: the helpers' events and a minted session as the real
// server stores them, and a wrong key reported without a retry.
func TestRealServer(t *testing.T) {
	srv := startEye(t)
	app, key := srv.newApplication("client helpers test")
	c := newKeyedClient(t, srv.url(), key)
	ctx := t.Context()

	id, err := c.CreateSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC)
	events := []client.Event{
		client.Pageview(id, "www.example.com", "/"),
		client.CTAClick(id, "www.example.com", "/", "chat bubble"),
		client.FormSubmit(id, "www.example.com", "/", map[string]any{"first_name": "John", "last_name": "Doe"}),
	}
	for i := range events {
		events[i].Timestamp = when.Add(time.Duration(i) * time.Second)
		if i == 2 {
			events[i].EventID = "form-submit-7f3a"
		}
		if err := c.Track(ctx, events[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}

	stored := srv.waitEvents(app, len(events))
	slices.SortFunc(stored, func(a, b storedEvent) int { return a.Timestamp.Compare(b.Timestamp) })
	want := []struct{ category, name, data string }{
		{"page interaction", "pageview", `map[host:www.example.com path:/]`},
		{"page interaction", "cta click", `map[element:chat bubble host:www.example.com path:/]`},
		{"form interaction", "submit", `map[form:map[first_name:John last_name:Doe] host:www.example.com path:/]`},
	}
	if len(stored) != len(want) {
		t.Fatalf("%d events stored, want %d", len(stored), len(want))
	}
	for i, ev := range stored {
		if ev.SessionID != id || ev.ApplicationID != app || ev.Category != want[i].category || ev.Name != want[i].name ||
			fmt.Sprint(ev.Data) != want[i].data || !ev.Timestamp.Equal(events[i].Timestamp) || ev.EventID == "" {
			t.Errorf("stored event %d: %+v", i, ev)
		}
	}
	if stored[2].EventID != "form-submit-7f3a" {
		t.Errorf("event_id %q, want the caller's", stored[2].EventID)
	}
	var ss session
	srv.call("GET", "/sessions/"+id+"/", nil, http.StatusOK, &ss)
	if ss.EventCount != 3 || len(ss.ApplicationIDs) != 1 || ss.ApplicationIDs[0] != app {
		t.Errorf("session %+v", ss)
	}

	var errs errorLog
	wrong := newKeyedClient(t, srv.url(), "eye_not-a-key", client.WithErrorHandler(errs.handle))
	wrong.Track(ctx, client.Pageview(id, "www.example.com", "/"))
	err = wrong.Flush(ctx)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Code != "unauthorized" || ae.RequestID == "" {
		t.Errorf("Flush with a wrong key returned %v", err)
	}
	if st := wrong.Stats(); st.Requests != 1 || st.Failed != 1 || errs.undelivered() != 1 {
		t.Errorf("wrong key: stats %+v, handler told %v", st, errs.all())
	}
	if _, err := wrong.CreateSession(ctx); !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
		t.Errorf("CreateSession with a wrong key returned %v", err)
	}
}
