// Package storetest is one conformance suite for every eye.Store: each
// implementation's tests call Run with a function that opens a fresh,
// migrated store.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// Run runs the whole suite. open must return an empty, migrated store that
// is closed when the test ends.
func Run(t *testing.T, open func(t *testing.T) eye.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s eye.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Idempotent", testIdempotent},
		{"SessionCounters", testSessionCounters},
		{"MintedSession", testMintedSession},
		{"OneOutcomePerID", testOneOutcomePerID},
		{"EventPages", testEventPages},
		{"EventFilters", testEventFilters},
		{"DataFilters", testDataFilters},
		{"DataFilterPages", testDataFilterPages},
		{"DataStats", testDataStats},
		{"UpdateEvent", testUpdateEvent},
		{"DeleteEvent", testDeleteEvent},
		{"SessionPages", testSessionPages},
		{"Errors", testErrors},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Keys", testKeys},
		{"Applications", testApplications},
		{"ApplicationFilters", testApplicationFilters},
		{"Users", testUsers},
		{"UserLookups", testUserLookups},
		{"LoginSessions", testLoginSessions},
		{"KeyUses", testKeyUses},
		{"UserPassword", testUserPassword},
		{"DeleteUser", testDeleteUser},
		{"HostileStrings", testHostileStrings},
		{"DiscardErrors", testDiscardErrors},
		{"Schemas", testSchemas},
		{"EventTypes", testEventTypes},
		{"Replay", testReplay},
		{"Jobs", testJobs},
		{"JobLease", testJobLease},
		{"Stats", testStats},
		{"NotFound", testNotFound},
	}
	tests = append(tests, lifecycleTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// base is a fixed time so that tests read plainly.
var base = time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC)

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// gen makes test records with increasing arrival sequences.
type gen struct {
	mu  sync.Mutex
	seq uint64
}

func (g *gen) nextSeq() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	return g.seq
}

// event returns a valid event of session at time ts (seconds after base).
func (g *gen) event(session string, ts int) eye.Event {
	return eye.Event{
		ID:            eye.NewID(),
		ApplicationID: eye.DefaultApplicationID,
		SessionID:     session,
		Category:      "page interaction",
		Name:          "pageview",
		Data:          []byte(`{"host":"www.example.com","path":"/"}`),
		Timestamp:     at(ts),
		ReceivedAt:    at(ts + 1),
		Seq:           g.nextSeq(),
	}
}

func newSession() string { return eye.NewID() }

func write(t *testing.T, s eye.Store, b eye.Batch) eye.WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), b)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func events(evs ...eye.Event) eye.Batch { return eye.Batch{Events: evs} }

func getSession(t *testing.T, s eye.Store, id string) eye.Session {
	t.Helper()
	ss, err := s.Session(context.Background(), id)
	if err != nil {
		t.Fatalf("Session(%s): %v", id, err)
	}
	return ss
}

// checkSession compares a session's counters with what they must be.
func checkSession(t *testing.T, s eye.Store, id string, count int64, first, last time.Time, apps ...string) {
	t.Helper()
	ss := getSession(t, s, id)
	if ss.EventCount != count || !ss.FirstSeen.Equal(first) || !ss.LastSeen.Equal(last) || !slices.Equal(ss.ApplicationIDs, apps) {
		t.Errorf("session %s = count %d, first %v, last %v, apps %v; want %d, %v, %v, %v",
			id, ss.EventCount, ss.FirstSeen, ss.LastSeen, ss.ApplicationIDs, count, first, last, apps)
	}
}

func listAll(t *testing.T, s eye.Store, f eye.EventFilter) []eye.Event {
	t.Helper()
	var all []eye.Event
	for range 10000 {
		page, err := s.Events(context.Background(), f)
		if err != nil {
			t.Fatalf("Events(%+v): %v", f, err)
		}
		all = append(all, page.Items...)
		if page.Next == nil {
			return all
		}
		f.After = page.Next
	}
	t.Fatal("Events: pages never end")
	return nil
}

func ids(evs []eye.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func testRoundTrip(t *testing.T, s eye.Store) {
	g := &gen{}
	ev := g.event(newSession(), 0)
	ev.EventID = "client-key-1"
	// Data comes back as the same JSON value, numbers with their digits;
	// a store may reorder members and drop white space (PostgreSQL's jsonb
	// does). A \u0000 in data is each store's own matter: SQLite keeps it,
	// jsonb refuses it; their own tests check which.
	ev.Data = []byte(`{"big":12345678901234567890123,"f":1.000000000000000000001,"s":"é"}`)
	ev.Timestamp = time.Date(2021, 1, 1, 9, 15, 27, 243861000, time.UTC)
	ev.SentAt = ev.Timestamp.Add(2 * time.Second)
	ev.ReceivedAt = ev.Timestamp.Add(5 * time.Second)
	ev.ClockOffset = 3 * time.Second
	if res := write(t, s, events(ev)); res.Events != 1 {
		t.Fatalf("Write = %+v, want 1 event", res)
	}
	got, err := s.Event(context.Background(), ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ev.ID || got.EventID != ev.EventID || got.ApplicationID != ev.ApplicationID ||
		got.SessionID != ev.SessionID || got.Category != ev.Category || got.Name != ev.Name ||
		!sameJSON(got.Data, ev.Data) || !got.Timestamp.Equal(ev.Timestamp) || !got.SentAt.Equal(ev.SentAt) ||
		!got.ReceivedAt.Equal(ev.ReceivedAt) || got.ClockOffset != ev.ClockOffset || got.Seq != ev.Seq {
		t.Errorf("Event =\n%+v\nwant\n%+v", got, ev)
	}
	if got.Timestamp.Location() != time.UTC {
		t.Errorf("Timestamp in %v, want UTC", got.Timestamp.Location())
	}
}

// sameJSON reports whether a and b are one JSON value, numbers compared
// by their digits (decoded with UseNumber).
func sameJSON(a, b []byte) bool {
	decode := func(data []byte) (any, error) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if d.More() {
			return nil, errors.New("more than one value")
		}
		return v, nil
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func testIdempotent(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	b := eye.Batch{
		Events:   []eye.Event{g.event(sess, 0), g.event(sess, 1)},
		Errors:   []eye.ErrorRecord{g.errorRecord(sess, "missing_field", 0)},
		Sessions: []eye.Session{{ID: newSession(), CreatedAt: at(0)}},
	}
	first := write(t, s, b)
	if first.Events != 2 || first.Errors != 1 || first.Sessions != 1 || first.Duplicates != 0 || len(first.DuplicateIDs) != 0 {
		t.Errorf("first Write = %+v", first)
	}
	// A redelivered batch, with one new event in it.
	b.Events = append(b.Events, g.event(sess, 2))
	second := write(t, s, b)
	if second.Events != 1 || second.Duplicates != 3 || second.Errors != 0 || second.Sessions != 0 {
		t.Errorf("second Write = %+v, want 1 event and 3 duplicates", second)
	}
	wantDups := []string{b.Events[0].ID, b.Events[1].ID, b.Errors[0].ID}
	if got := slices.Sorted(slices.Values(second.DuplicateIDs)); !slices.Equal(got, slices.Sorted(slices.Values(wantDups))) {
		t.Errorf("DuplicateIDs = %v, want %v", second.DuplicateIDs, wantDups)
	}
	// A duplicate inside one batch counts once.
	ev := g.event(sess, 3)
	if res := write(t, s, events(ev, ev)); res.Events != 1 || res.Duplicates != 1 {
		t.Errorf("Write(twice the same) = %+v", res)
	}
	checkSession(t, s, sess, 4, at(0), at(3), eye.DefaultApplicationID)
}

func testSessionCounters(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	// Out of order, across batches and applications.
	a, b, c := g.event(sess, 10), g.event(sess, 5), g.event(sess, 20)
	c.ApplicationID = "shop"
	write(t, s, events(a))
	checkSession(t, s, sess, 1, at(10), at(10), "default")
	write(t, s, events(b, c))
	checkSession(t, s, sess, 3, at(5), at(20), "default", "shop")
	ss := getSession(t, s, sess)
	if !ss.CreatedAt.Equal(at(11)) {
		t.Errorf("CreatedAt = %v, want the first event's arrival %v", ss.CreatedAt, at(11))
	}
}

func testMintedSession(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	write(t, s, eye.Batch{Sessions: []eye.Session{{ID: sess, CreatedAt: at(0)}}})
	ss := getSession(t, s, sess)
	if ss.EventCount != 0 || !ss.FirstSeen.IsZero() || !ss.LastSeen.IsZero() || len(ss.ApplicationIDs) != 0 || !ss.CreatedAt.Equal(at(0)) {
		t.Errorf("minted session = %+v", ss)
	}
	write(t, s, events(g.event(sess, 100)))
	checkSession(t, s, sess, 1, at(100), at(100), "default")
	if ss := getSession(t, s, sess); !ss.CreatedAt.Equal(at(0)) {
		t.Errorf("CreatedAt changed to %v", ss.CreatedAt)
	}
	// Minting it again changes nothing.
	if res := write(t, s, eye.Batch{Sessions: []eye.Session{{ID: sess, CreatedAt: at(500)}}}); res.Sessions != 0 {
		t.Errorf("minting again = %+v", res)
	}
	checkSession(t, s, sess, 1, at(100), at(100), "default")
}

func testOneOutcomePerID(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	ev := g.event(sess, 0)
	ev.EventID = "k1"
	write(t, s, events(ev))
	// The same client event, later found invalid: not also an error.
	rec := g.errorRecord(sess, "future_timestamp", 0)
	rec.ID, rec.EventID = ev.ID, "k1"
	if res := write(t, s, eye.Batch{Errors: []eye.ErrorRecord{rec}}); res.Errors != 0 || res.Duplicates != 1 {
		t.Errorf("error for a stored event = %+v", res)
	}
	// And the other way round.
	rec2 := g.errorRecord(sess, "empty_data", 0)
	rec2.EventID = "k2"
	write(t, s, eye.Batch{Errors: []eye.ErrorRecord{rec2}})
	ev2 := g.event(sess, 1)
	ev2.ID, ev2.EventID = rec2.ID, "k2"
	if res := write(t, s, events(ev2)); res.Events != 0 || res.Duplicates != 1 {
		t.Errorf("event for a stored error = %+v", res)
	}
	checkSession(t, s, sess, 1, at(0), at(0), "default")
}

func testEventPages(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	var all []eye.Event
	// 25 events, in groups sharing one timestamp, written out of order.
	for i := range 25 {
		all = append(all, g.event(sess, (i*7%25)/3))
	}
	write(t, s, events(all...))
	asc := slices.Clone(all)
	slices.SortStableFunc(asc, func(a, b eye.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return int(a.Seq) - int(b.Seq)
	})
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	for _, limit := range []int{1, 2, 3, 7, 25, 100} {
		got := listAll(t, s, eye.EventFilter{SessionID: sess, Ascending: true, Limit: limit})
		if !slices.Equal(ids(got), ids(asc)) {
			t.Errorf("ascending, limit %d: wrong order or rows", limit)
		}
		got = listAll(t, s, eye.EventFilter{SessionID: sess, Limit: limit})
		if !slices.Equal(ids(got), ids(desc)) {
			t.Errorf("descending, limit %d: wrong order or rows", limit)
		}
	}
	page, err := s.Events(context.Background(), eye.EventFilter{SessionID: sess, Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	if page.Next != nil {
		t.Errorf("a page holding the last row has a next position")
	}
}

func testEventFilters(t *testing.T, s eye.Store) {
	g := &gen{}
	sess, other := newSession(), newSession()
	a := g.event(sess, 0)
	b := g.event(sess, 10)
	b.Category, b.Name = "form interaction", "submit"
	c := g.event(other, 20)
	c.Name = "cta click"
	write(t, s, events(a, b, c))
	tests := []struct {
		f    eye.EventFilter
		want []eye.Event
	}{
		{eye.EventFilter{SessionID: sess}, []eye.Event{b, a}},
		{eye.EventFilter{Category: "page interaction", SessionID: sess}, []eye.Event{a}},
		{eye.EventFilter{Name: "submit"}, []eye.Event{b}},
		{eye.EventFilter{Name: "cta click", Category: "page interaction"}, []eye.Event{c}},
		{eye.EventFilter{From: at(10), To: at(20)}, []eye.Event{c, b}},
		{eye.EventFilter{From: at(10), To: at(10)}, []eye.Event{b}},
		{eye.EventFilter{SessionID: sess, From: at(1)}, []eye.Event{b}},
		{eye.EventFilter{SessionID: sess, To: at(9)}, []eye.Event{a}},
		{eye.EventFilter{Category: "nothing"}, nil},
	}
	for _, tt := range tests {
		tt.f.Limit = 10
		// Other tests share no data with this one only when stores are
		// fresh; restrict to this test's sessions.
		got := filterSessions(listAll(t, s, tt.f), sess, other)
		if !slices.Equal(ids(got), ids(tt.want)) {
			t.Errorf("Events(%+v) = %v, want %v", tt.f, ids(got), ids(tt.want))
		}
	}
}

func filterSessions(evs []eye.Event, sessions ...string) []eye.Event {
	var out []eye.Event
	for _, ev := range evs {
		if slices.Contains(sessions, ev.SessionID) {
			out = append(out, ev)
		}
	}
	return out
}

func testUpdateEvent(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	sess, other := newSession(), newSession()
	a, b := g.event(sess, 0), g.event(sess, 10)
	b.ApplicationID = "shop"
	write(t, s, events(a, b, g.event(other, 5)))

	// Moving b later changes last_seen.
	got, err := s.UpdateEvent(ctx, b.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.Timestamp = at(30)
		cur.Category = "not named, not written"
		return cur, []string{"timestamp"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Timestamp.Equal(at(30)) || got.Category != b.Category {
		t.Errorf("updated = %+v", got)
	}
	checkSession(t, s, sess, 2, at(0), at(30), "default", "shop")

	// Moving b to another session moves its count and application.
	if _, err := s.UpdateEvent(ctx, b.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.SessionID = other
		return cur, []string{"session_id"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	checkSession(t, s, sess, 1, at(0), at(0), "default")
	checkSession(t, s, other, 2, at(5), at(30), "default", "shop")

	// Moving it to a session never seen creates it.
	fresh := newSession()
	if _, err := s.UpdateEvent(ctx, b.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.SessionID = fresh
		return cur, []string{"session_id"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	checkSession(t, s, fresh, 1, at(30), at(30), "shop")
	checkSession(t, s, other, 1, at(5), at(5), "default")

	// Data and names.
	if _, err := s.UpdateEvent(ctx, a.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.Data = []byte(`{"host":"example.com"}`)
		cur.Name = "renamed"
		return cur, []string{"data", "name"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if ev, _ := s.Event(ctx, a.ID); string(ev.Data) != `{"host":"example.com"}` || ev.Name != "renamed" {
		t.Errorf("after update: %+v", ev)
	}

	// An error from change aborts and comes back unchanged.
	sentinel := errors.New("no")
	if _, err := s.UpdateEvent(ctx, a.ID, func(cur eye.Event) (eye.Event, []string, error) {
		return cur, nil, sentinel
	}); !errors.Is(err, sentinel) {
		t.Errorf("UpdateEvent error = %v, want the change's", err)
	}
	if _, err := s.UpdateEvent(ctx, eye.NewID(), func(cur eye.Event) (eye.Event, []string, error) {
		t.Error("change called for a missing event")
		return cur, nil, nil
	}); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("UpdateEvent(missing) = %v, want not_found", err)
	}
}

func testDeleteEvent(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	sess := newSession()
	a, b, c := g.event(sess, 0), g.event(sess, 10), g.event(sess, 20)
	c.ApplicationID = "shop"
	write(t, s, events(a, b, c))
	if err := s.DeleteEvent(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	checkSession(t, s, sess, 2, at(0), at(10), "default")
	if err := s.DeleteEvent(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	checkSession(t, s, sess, 1, at(10), at(10), "default")
	if err := s.DeleteEvent(ctx, a.ID); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("second delete = %v, want not_found", err)
	}
	if err := s.DeleteEvent(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	checkSession(t, s, sess, 0, time.Time{}, time.Time{})
	// A redelivered copy of a deleted event is a new insert: the store
	// cannot tell, and counters stay true either way.
	write(t, s, events(b))
	checkSession(t, s, sess, 1, at(10), at(10), "default")
}

func testSessionPages(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	// Activity far in the future of every other test's, so this test's
	// sessions come first in the shared list.
	var want []string
	for i := range 7 {
		sess := newSession()
		want = append([]string{sess}, want...)
		if i == 3 {
			// A session without events sorts by its creation time.
			write(t, s, eye.Batch{Sessions: []eye.Session{{ID: sess, CreatedAt: at(1_000_000 + i)}}})
			continue
		}
		write(t, s, events(g.event(sess, 1_000_000+i)))
	}
	for _, limit := range []int{1, 3, 7} {
		var got []string
		f := eye.SessionFilter{Limit: limit}
		for len(got) < len(want) {
			page, err := s.Sessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, ss := range page.Items {
				got = append(got, ss.ID)
			}
			if page.Next == nil {
				break
			}
			f.After = page.Next
		}
		if !slices.Equal(got[:len(want)], want) {
			t.Errorf("limit %d: sessions %v, want %v", limit, got, want)
		}
	}
}

func (g *gen) errorRecord(session, code string, received int) eye.ErrorRecord {
	return eye.ErrorRecord{
		ID:            eye.NewID(),
		ReceivedAt:    at(received),
		ApplicationID: eye.DefaultApplicationID,
		Category:      "page interaction",
		Name:          "pageview",
		SessionID:     session,
		Reasons:       []eye.Reason{{Code: code, Field: "data", Message: code + " happened"}},
		Payload:       []byte(`{"session_id":"` + session + `", "n": 1.0000000000000000000001}`),
		Seq:           g.nextSeq(),
	}
}

func testErrors(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	sess := newSession()
	a := g.errorRecord(sess, eye.CodeFutureTimestamp, 2_000_000)
	b := g.errorRecord(sess, eye.CodeEmptyData, 2_000_001)
	b.Reasons = append(b.Reasons, eye.Reason{Code: eye.CodeFutureTimestamp, Field: "timestamp", Message: "late"},
		eye.Reason{Code: eye.CodeEmptyData, Field: "data", Message: "again"})
	b.Category = "form interaction"
	c := eye.ErrorRecord{ID: eye.NewID(), ReceivedAt: at(2_000_002), ApplicationID: "default",
		Reasons: []eye.Reason{{Code: eye.CodeMalformedJSON, Message: "not JSON"}}, Payload: []byte("{\"a\":\xff"), Seq: g.nextSeq()}
	if res := write(t, s, eye.Batch{Errors: []eye.ErrorRecord{a, b, c}}); res.Errors != 3 {
		t.Fatalf("Write = %+v", res)
	}
	got, err := s.ErrorRecord(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != string(c.Payload) || got.Message() != "not JSON" || got.SessionID != "" {
		t.Errorf("ErrorRecord = %+v", got)
	}
	got, _ = s.ErrorRecord(ctx, b.ID)
	if len(got.Reasons) != 3 || got.Reasons[1] != b.Reasons[1] || string(got.Payload) != string(b.Payload) {
		t.Errorf("ErrorRecord(b) = %+v", got)
	}
	list := func(f eye.ErrorFilter) []string {
		var out []string
		for {
			page, err := s.Errors(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Items {
				if r.ReceivedAt.Before(at(2_000_000)) || r.ReceivedAt.After(at(2_000_002)) {
					continue // another test's
				}
				out = append(out, r.ID)
			}
			if page.Next == nil {
				return out
			}
			f.After = page.Next
		}
	}
	tests := []struct {
		f    eye.ErrorFilter
		want []string
	}{
		{eye.ErrorFilter{}, []string{c.ID, b.ID, a.ID}},
		{eye.ErrorFilter{Code: eye.CodeFutureTimestamp}, []string{b.ID, a.ID}},
		{eye.ErrorFilter{Code: eye.CodeEmptyData}, []string{b.ID}},
		{eye.ErrorFilter{Code: eye.CodeMalformedJSON}, []string{c.ID}},
		{eye.ErrorFilter{Code: eye.CodeFutureTimestamp, Category: "form interaction"}, []string{b.ID}},
		{eye.ErrorFilter{SessionID: sess}, []string{b.ID, a.ID}},
		{eye.ErrorFilter{Name: "pageview", From: at(2_000_001)}, []string{b.ID}},
		{eye.ErrorFilter{To: at(2_000_000), Code: eye.CodeFutureTimestamp}, []string{a.ID}},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 10} {
			tt.f.Limit = limit
			if got := list(tt.f); !slices.Equal(got, tt.want) {
				t.Errorf("Errors(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		}
	}
}

func testConcurrentWriters(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	const writers, perWriter = 8, 50
	all := make([]eye.Event, writers*perWriter)
	for i := range all {
		all[i] = g.event(sess, i)
		all[i].ApplicationID = fmt.Sprintf("app-%d", i%3)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		// Each writer writes its own events and, overlapping, its
		// neighbour's: every event is written twice.
		mine := all[w*perWriter : (w+1)*perWriter]
		next := all[(w+1)%writers*perWriter : ((w+1)%writers+1)*perWriter]
		for _, part := range [][]eye.Event{mine, next} {
			wg.Go(func() {
				for i := 0; i < len(part); i += 10 {
					if _, err := s.Write(context.Background(), events(part[i:i+10]...)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkSession(t, s, sess, writers*perWriter, at(0), at(writers*perWriter-1), "app-0", "app-1", "app-2")
}

func testKeys(t *testing.T, s eye.Store) {
	ctx := context.Background()
	k := eye.Key{ID: eye.NewID(), Prefix: "eye_abcd", Hash: []byte("0123456789abcdef0123456789abcdef"),
		Scopes: []string{"admin"}, Label: "test", CreatedAt: at(0)}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(x eye.Key) bool { return x.ID == k.ID })
	if i < 0 {
		t.Fatalf("Keys() lacks the new key: %+v", keys)
	}
	got := keys[i]
	if got.Prefix != k.Prefix || string(got.Hash) != string(k.Hash) || !slices.Equal(got.Scopes, k.Scopes) ||
		got.ApplicationID != "" || got.Label != "test" || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Errorf("Keys()[i] = %+v, want %+v", got, k)
	}
}

func testNotFound(t *testing.T, s eye.Store) {
	ctx := context.Background()
	id := eye.NewID()
	if _, err := s.Event(ctx, id); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Event = %v", err)
	}
	if _, err := s.Session(ctx, id); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Session = %v", err)
	}
	if _, err := s.ErrorRecord(ctx, id); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("ErrorRecord = %v", err)
	}
}

func testApplications(t *testing.T, s eye.Store) {
	ctx := context.Background()
	app := eye.Application{ID: eye.NewID(), Name: "shop-" + eye.NewID(), CreatedAt: at(0), Active: true,
		AllowedOrigins: []string{"https://shop.example", "http://localhost:3000"}}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	dup := app
	dup.ID = eye.NewID()
	if err := s.CreateApplication(ctx, dup); eye.ErrorCode(err) != eye.ECONFLICT {
		t.Errorf("same name again: %v, want conflict", err)
	}
	got, err := s.ApplicationByName(ctx, app.Name)
	if err != nil || !reflect.DeepEqual(got, app) {
		t.Errorf("ApplicationByName = %+v, %v; want %+v", got, err, app)
	}
	if _, err := s.Application(ctx, eye.NewID()); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Application(unknown) = %v", err)
	}
	all, err := s.Applications(ctx)
	if err != nil || !slices.ContainsFunc(all, func(a eye.Application) bool { return a.ID == app.ID }) ||
		!slices.ContainsFunc(all, func(a eye.Application) bool { return a.ID == eye.DefaultApplicationID }) {
		t.Errorf("Applications = %+v, %v", all, err)
	}

	// Keys: of an active application they work; revoked or of a
	// deactivated application they do not, but are still listed.
	k1 := eye.Key{ID: eye.NewID(), Prefix: "eye_k1", Hash: []byte(eye.NewID()[:32]), Scopes: []string{"ingest"}, ApplicationID: app.ID, CreatedAt: at(1)}
	k2 := eye.Key{ID: eye.NewID(), Prefix: "eye_k2", Hash: []byte(eye.NewID()[:32]), Scopes: []string{"read"}, ApplicationID: app.ID, CreatedAt: at(2)}
	for _, k := range []eye.Key{k1, k2} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	working := func() []string {
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			if k.ApplicationID == app.ID {
				out = append(out, k.ID)
			}
		}
		return out
	}
	if got := working(); !slices.Equal(got, []string{k1.ID, k2.ID}) {
		t.Errorf("working keys %v", got)
	}
	if err := s.RevokeKey(ctx, app.ID, k1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, eye.DefaultApplicationID, k2.ID); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("revoking another application's key: %v", err)
	}
	if got := working(); !slices.Equal(got, []string{k2.ID}) {
		t.Errorf("working keys after revoke %v", got)
	}
	app.Active = false
	if err := s.UpdateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if got := working(); len(got) != 0 {
		t.Errorf("keys of a deactivated application work: %v", got)
	}
	listed, err := s.ApplicationKeys(ctx, app.ID)
	if err != nil || len(listed) != 2 || listed[0].RevokedAt.IsZero() || !listed[1].RevokedAt.IsZero() {
		t.Errorf("ApplicationKeys = %+v, %v", listed, err)
	}
	app.Active, app.Name, app.AllowedOrigins = true, app.Name+"-renamed", []string{"https://www.shop.example"}
	if err := s.UpdateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if got := working(); !slices.Equal(got, []string{k2.ID}) {
		t.Errorf("keys after reactivation %v", got)
	}
	if got, _ := s.Application(ctx, app.ID); !reflect.DeepEqual(got, app) {
		t.Errorf("after update: %+v; want %+v", got, app)
	}
	app.AllowedOrigins = nil
	if err := s.UpdateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Application(ctx, app.ID); len(got.AllowedOrigins) != 0 {
		t.Errorf("allowed origins after clearing them: %q", got.AllowedOrigins)
	}
	if err := s.UpdateApplication(ctx, eye.Application{ID: eye.NewID(), Name: "x"}); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("UpdateApplication(unknown) = %v", err)
	}
}

func testApplicationFilters(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	app := "app-" + eye.NewID()
	sess, other := newSession(), newSession()
	a, b := g.event(sess, 0), g.event(other, 1)
	a.ApplicationID = app
	rec := g.errorRecord(sess, eye.CodeEmptyData, 0)
	rec.ApplicationID = app
	write(t, s, eye.Batch{Events: []eye.Event{a, b}, Errors: []eye.ErrorRecord{rec, g.errorRecord(sess, eye.CodeEmptyData, 0)}})

	evs := listAll(t, s, eye.EventFilter{ApplicationID: app, Limit: 10})
	if !slices.Equal(ids(evs), []string{a.ID}) {
		t.Errorf("events of %s: %v", app, ids(evs))
	}
	page, err := s.Errors(ctx, eye.ErrorFilter{ApplicationID: app, Limit: 10})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != rec.ID {
		t.Errorf("errors of %s: %+v, %v", app, page.Items, err)
	}
	sessions, err := s.Sessions(ctx, eye.SessionFilter{ApplicationID: app, Limit: 10})
	if err != nil || len(sessions.Items) != 1 || sessions.Items[0].ID != sess {
		t.Errorf("sessions of %s: %+v, %v", app, sessions.Items, err)
	}
}

func testUsers(t *testing.T, s eye.Store) {
	ctx := context.Background()
	u := eye.User{ID: eye.NewID(), Name: "ada-" + eye.NewID(), PasswordHash: []byte("$2a$12$hash"), CreatedAt: at(0)}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.ID = eye.NewID()
	if err := s.CreateUser(ctx, u); eye.ErrorCode(err) != eye.ECONFLICT {
		t.Errorf("same name again: %v, want conflict", err)
	}
}

func testSchemas(t *testing.T, s eye.Store) {
	ctx := context.Background()
	cat, name := "page interaction "+eye.NewID(), "pageview"
	if _, err := s.Schema(ctx, cat, name, 0); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Schema(none) = %v", err)
	}
	v1, err := s.PutSchema(ctx, eye.Schema{Category: cat, Name: name, Body: []byte(`{"type":"object"}`), CreatedAt: at(0)})
	if err != nil || v1.Version != 1 || !v1.Active {
		t.Fatalf("PutSchema = %+v, %v", v1, err)
	}
	v2, _ := s.PutSchema(ctx, eye.Schema{Category: cat, Name: name, Body: []byte(`{"required":["host"]}`), CreatedAt: at(1)})
	if v2.Version != 2 {
		t.Errorf("second version %d", v2.Version)
	}
	latest, err := s.Schema(ctx, cat, name, 0)
	if err != nil || latest.Version != 2 || string(latest.Body) != `{"required":["host"]}` || !latest.Active {
		t.Errorf("latest = %+v, %v", latest, err)
	}
	first, err := s.Schema(ctx, cat, name, 1)
	if err != nil || string(first.Body) != `{"type":"object"}` || first.Active {
		t.Errorf("version 1 = %+v, %v", first, err)
	}
	if _, err := s.Schema(ctx, cat, name, 3); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Schema(v3) = %v", err)
	}
	versions, _ := s.SchemaVersions(ctx, cat, name)
	if len(versions) != 2 || versions[0].Version != 1 || versions[1].Version != 2 || versions[0].Body != nil {
		t.Errorf("versions %+v", versions)
	}
	active := func() int {
		list, err := s.ActiveSchemas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range list {
			if sc.Category == cat && sc.Name == name {
				return sc.Version
			}
		}
		return 0
	}
	if v := active(); v != 2 {
		t.Errorf("active version %d", v)
	}
	if err := s.DeleteSchema(ctx, cat, name); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSchema(ctx, cat, name); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("second delete = %v", err)
	}
	if v := active(); v != 0 {
		t.Errorf("deleted schema still active: %d", v)
	}
	all, _ := s.Schemas(ctx)
	if i := slices.IndexFunc(all, func(sc eye.Schema) bool { return sc.Category == cat }); i < 0 || all[i].Active || all[i].Version != 2 {
		t.Errorf("Schemas after delete: %+v", all)
	}
	v3, _ := s.PutSchema(ctx, eye.Schema{Category: cat, Name: name, Body: []byte(`{}`), CreatedAt: at(2)})
	if v3.Version != 3 || active() != 3 {
		t.Errorf("a new version after delete: %+v, active %d", v3, active())
	}
}

func findType(t *testing.T, s eye.Store, category, name string) eye.EventType {
	t.Helper()
	types, err := s.EventTypes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range types {
		if et.Category == category && et.Name == name {
			return et
		}
	}
	return eye.EventType{}
}

func testEventTypes(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	cat := "types " + eye.NewID()
	sess := newSession()
	a, b := g.event(sess, 0), g.event(sess, 5)
	a.Category, b.Category = cat, cat
	rec := g.errorRecord(sess, eye.CodeEmptyData, 9)
	rec.Category = cat
	write(t, s, eye.Batch{Events: []eye.Event{a, b}, Errors: []eye.ErrorRecord{rec}})
	write(t, s, events(a)) // a duplicate counts nothing
	et := findType(t, s, cat, "pageview")
	if et.Events != 2 || et.Errors != 1 || !et.FirstSeen.Equal(at(1)) || !et.LastSeen.Equal(at(9)) || et.SchemaVersion != 0 {
		t.Errorf("event type %+v", et)
	}
	// A correction moves the count; a deletion takes it away.
	if _, err := s.UpdateEvent(ctx, a.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.Name = "renamed"
		return cur, []string{"name"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEvent(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if et := findType(t, s, cat, "pageview"); et.Events != 0 || et.Errors != 1 {
		t.Errorf("after rename and delete: %+v", et)
	}
	if et := findType(t, s, cat, "renamed"); et.Events != 1 {
		t.Errorf("renamed type: %+v", et)
	}
	// A type with a schema shows its version, seen or not.
	s.PutSchema(ctx, eye.Schema{Category: cat, Name: "pageview", Body: []byte(`{}`), CreatedAt: at(0)})
	s.PutSchema(ctx, eye.Schema{Category: cat, Name: "planned", Body: []byte(`{}`), CreatedAt: at(0)})
	if et := findType(t, s, cat, "pageview"); et.SchemaVersion != 1 {
		t.Errorf("schema version of a seen type: %+v", et)
	}
	if et := findType(t, s, cat, "planned"); et.SchemaVersion != 1 || et.Events != 0 || !et.FirstSeen.IsZero() {
		t.Errorf("a planned type never seen: %+v", et)
	}
}

func testReplay(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	sess := newSession()
	rec := g.errorRecord(sess, eye.CodeSchemaViolation, 3)
	other := g.errorRecord(sess, eye.CodeEmptyData, 4)
	write(t, s, eye.Batch{Errors: []eye.ErrorRecord{rec, other}})
	got, _ := s.ErrorRecord(ctx, rec.ID)
	if got.Status != eye.StatusOpen {
		t.Errorf("status %q, want open", got.Status)
	}

	ev := g.event(sess, 2)
	ev.ID, ev.ReceivedAt, ev.SchemaVersion = rec.ID, rec.ReceivedAt, 4
	inserted, err := s.ReplayError(ctx, ev)
	if err != nil || !inserted {
		t.Fatalf("ReplayError = %v, %v", inserted, err)
	}
	if inserted, err := s.ReplayError(ctx, ev); err != nil || inserted {
		t.Errorf("second replay = %v, %v; want nothing inserted", inserted, err)
	}
	stored, err := s.Event(ctx, rec.ID)
	if err != nil || stored.SchemaVersion != 4 {
		t.Errorf("replayed event %+v, %v", stored, err)
	}
	checkSession(t, s, sess, 1, at(2), at(2), "default")
	if got, _ := s.ErrorRecord(ctx, rec.ID); got.Status != eye.StatusReplayed {
		t.Errorf("status after replay %q", got.Status)
	}
	missing := g.event(sess, 2)
	if _, err := s.ReplayError(ctx, missing); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("replay of no error record = %v", err)
	}

	// Still invalid: new reasons, and the code filter follows them.
	newReasons := []eye.Reason{{Code: eye.CodeFutureTimestamp, Field: "timestamp", Message: "late"},
		{Code: eye.CodeSchemaViolation, Field: "/host", Message: "missing", Keyword: "required"}}
	if err := s.UpdateErrorReasons(ctx, other.ID, newReasons); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ErrorRecord(ctx, other.ID)
	if !slices.Equal(got.Reasons, newReasons) {
		t.Errorf("reasons %+v", got.Reasons)
	}
	codes := func(code string) []string {
		page, err := s.Errors(ctx, eye.ErrorFilter{Code: code, SessionID: sess, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range page.Items {
			out = append(out, r.ID)
		}
		return out
	}
	if got := codes(eye.CodeEmptyData); len(got) != 0 {
		t.Errorf("old code still indexed: %v", got)
	}
	if got := codes(eye.CodeFutureTimestamp); !slices.Equal(got, []string{other.ID}) {
		t.Errorf("new code: %v", got)
	}

	if err := s.SetErrorStatus(ctx, other.ID, eye.StatusDiscarded); err != nil {
		t.Fatal(err)
	}
	for status, want := range map[string][]string{eye.StatusOpen: nil, eye.StatusDiscarded: {other.ID}, eye.StatusReplayed: {rec.ID}} {
		page, _ := s.Errors(ctx, eye.ErrorFilter{Status: status, SessionID: sess, Limit: 10})
		var got []string
		for _, r := range page.Items {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("status %s: %v, want %v", status, got, want)
		}
	}
	if err := s.SetErrorStatus(ctx, eye.NewID(), eye.StatusDiscarded); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("SetErrorStatus(unknown) = %v", err)
	}
}

func testJobs(t *testing.T, s eye.Store) {
	ctx := context.Background()
	j := eye.Job{ID: eye.NewID(), Kind: "replay", Status: eye.JobRunning, CreatedAt: at(0), UpdatedAt: at(0),
		Filter: eye.ErrorFilter{Status: eye.StatusOpen, Code: eye.CodeSchemaViolation, Category: "c", From: at(1)}}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := s.Job(ctx, j.ID)
	if err != nil || got.Filter != j.Filter || got.Cursor != nil || got.Status != eye.JobRunning {
		t.Errorf("Job = %+v, %v", got, err)
	}
	j.Cursor = &eye.Position{Time: at(5), Row: 42}
	j.Replayed, j.StillInvalid, j.UpdatedAt = 10, 3, at(6)
	if err := s.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	running, _ := s.RunningJobs(ctx)
	if i := slices.IndexFunc(running, func(x eye.Job) bool { return x.ID == j.ID }); i < 0 ||
		running[i].Replayed != 10 || running[i].StillInvalid != 3 || !running[i].Cursor.Time.Equal(at(5)) || running[i].Cursor.Row != 42 {
		t.Errorf("RunningJobs = %+v", running)
	}
	j.Status = eye.JobDone
	s.UpdateJob(ctx, j)
	running, _ = s.RunningJobs(ctx)
	if slices.ContainsFunc(running, func(x eye.Job) bool { return x.ID == j.ID }) {
		t.Error("a done job is still running")
	}
	if _, err := s.Job(ctx, eye.NewID()); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Job(unknown) = %v", err)
	}
}

func testStats(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	app := "stats-" + eye.NewID()
	day := time.Date(2022, 3, 4, 0, 0, 0, 0, time.UTC)
	mk := func(ts time.Time, category string) eye.Event {
		ev := g.event(newSession(), 0)
		ev.ApplicationID, ev.Timestamp, ev.Category = app, ts, category
		return ev
	}
	a := mk(day.Add(10*time.Minute+5*time.Second), "page")
	b := mk(day.Add(10*time.Minute+59*time.Second), "page")
	c := mk(day.Add(2*time.Hour), "form")
	rec := g.errorRecord(newSession(), eye.CodeEmptyData, 0)
	rec.ApplicationID, rec.ReceivedAt = app, day.Add(10*time.Minute+30*time.Second)
	malformed := eye.ErrorRecord{ID: eye.NewID(), ApplicationID: app, ReceivedAt: day.Add(3 * time.Hour), Payload: []byte("x"),
		Reasons: []eye.Reason{{Code: eye.CodeMalformedJSON, Message: "not JSON"}}}
	write(t, s, eye.Batch{Events: []eye.Event{a, b, c}, Errors: []eye.ErrorRecord{rec, malformed}})
	write(t, s, events(a)) // a duplicate counts nothing

	stats := func(f eye.StatsFilter) string {
		f.ApplicationID = app
		got, err := s.Stats(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range got {
			out = append(out, fmt.Sprintf("%s %d/%d", b.Start.Format("15:04"), b.Events, b.Errors))
		}
		return strings.Join(out, ", ")
	}
	whole := eye.StatsFilter{From: day, To: day.Add(24 * time.Hour)}
	tests := []struct {
		f    eye.StatsFilter
		want string
	}{
		{eye.StatsFilter{Interval: eye.IntervalMinute}, "00:10 2/1, 02:00 1/0, 03:00 0/1"},
		{eye.StatsFilter{Interval: eye.IntervalHour}, "00:00 2/1, 02:00 1/0, 03:00 0/1"},
		{eye.StatsFilter{Interval: eye.IntervalDay}, "00:00 3/2"},
		{eye.StatsFilter{Interval: eye.IntervalHour, Category: "page"}, "00:00 2/0"},
		{eye.StatsFilter{Interval: eye.IntervalMinute, From: day.Add(10 * time.Minute), To: day.Add(11 * time.Minute)}, "00:10 2/1"},
		{eye.StatsFilter{Interval: eye.IntervalMinute, From: day.Add(11 * time.Minute), To: day.Add(2 * time.Hour)}, ""},
	}
	for _, tt := range tests {
		if tt.f.From.IsZero() {
			tt.f.From, tt.f.To = whole.From, whole.To
		}
		if got := stats(tt.f); got != tt.want {
			t.Errorf("Stats(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	// Corrections and deletions keep the counts true.
	if _, err := s.UpdateEvent(ctx, b.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.Timestamp = day.Add(2*time.Hour + 30*time.Second)
		return cur, []string{"timestamp"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEvent(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := stats(eye.StatsFilter{Interval: eye.IntervalMinute, From: whole.From, To: whole.To}); got != "00:10 1/1, 02:00 1/0, 03:00 0/1" {
		t.Errorf("after a correction and a deletion: %q", got)
	}
	if _, err := s.Stats(ctx, eye.StatsFilter{Interval: "week", From: whole.From, To: whole.To}); eye.ErrorCode(err) != eye.EINVALID {
		t.Errorf("unknown interval: %v", err)
	}
	if size, err := s.Size(ctx); err != nil || size <= 0 {
		t.Errorf("Size = %d, %v", size, err)
	}
}

// testJobLease: only a job's owner updates it; another process claims it
// once the lease lapsed, or when it has no owner or no lease.
func testJobLease(t *testing.T, s eye.Store) {
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	j := eye.Job{ID: eye.NewID(), Kind: eye.JobReplay, Status: eye.JobRunning, CreatedAt: t0, UpdatedAt: t0,
		Owner: "a", LeaseUntil: t0.Add(time.Minute)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Job(ctx, j.ID); err != nil || got.Owner != "a" || !got.LeaseUntil.Equal(j.LeaseUntil) {
		t.Fatalf("Job = owner %q, lease %v, %v", got.Owner, got.LeaseUntil, err)
	}
	claim := func(owner string, now time.Time) bool {
		t.Helper()
		ok, err := s.ClaimJob(ctx, j.ID, owner, now, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if claim("b", t0.Add(30*time.Second)) {
		t.Error("b claimed a job whose lease holds")
	}
	if !claim("a", t0.Add(30*time.Second)) {
		t.Error("its owner could not renew its claim")
	}
	// a's lease (renewed until t0+90s) lapses: b takes the job over.
	if !claim("b", t0.Add(2*time.Minute)) {
		t.Fatal("b could not claim a job whose lease lapsed")
	}
	j.Replayed, j.UpdatedAt = 5, t0.Add(2*time.Minute)
	if err := s.UpdateJob(ctx, j); eye.ErrorCode(err) != eye.ECONFLICT {
		t.Errorf("UpdateJob by the former owner = %v, want a conflict", err)
	}
	if got, _ := s.Job(ctx, j.ID); got.Owner != "b" || got.Replayed != 0 {
		t.Errorf("after the former owner's update: owner %q, replayed %d", got.Owner, got.Replayed)
	}
	// b stops and gives its lease up: anyone may claim the job at once.
	j.Owner, j.LeaseUntil = "b", time.Time{}
	if err := s.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Job(ctx, j.ID); got.Replayed != 5 || !got.LeaseUntil.IsZero() {
		t.Errorf("after giving up the lease: replayed %d, lease %v", got.Replayed, got.LeaseUntil)
	}
	if !claim("c", t0.Add(2*time.Minute)) {
		t.Error("c could not claim a job without a lease")
	}
	// A job that ended is claimed by no one.
	j.Owner, j.Status = "c", eye.JobDone
	if err := s.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if claim("c", t0.Add(time.Hour)) {
		t.Error("a done job was claimed")
	}
	if _, err := s.ClaimJob(ctx, eye.NewID(), "c", t0, t0); err != nil {
		t.Errorf("ClaimJob(unknown) = %v", err)
	}
	if err := s.UpdateJob(ctx, eye.Job{ID: eye.NewID(), Status: eye.JobDone, UpdatedAt: t0}); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("UpdateJob(unknown) = %v", err)
	}

	// Of concurrent claims on a job without an owner, one wins.
	k := eye.Job{ID: eye.NewID(), Kind: eye.JobDelete, Status: eye.JobRunning, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateJob(ctx, k); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var won atomic.Int32
	for i := range 8 {
		wg.Go(func() {
			ok, err := s.ClaimJob(ctx, k.ID, fmt.Sprint("p", i), t0, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Errorf("%d of 8 concurrent claims won, want 1", n)
	}
}
