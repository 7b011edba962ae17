package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/theeye/eye"
)

// event returns a valid event of session at ts, with the arrival sequence
// seq.
func event(session string, seq int, ts time.Time) eye.Event {
	return eye.Event{
		ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID, SessionID: session,
		Category: "page interaction", Name: "pageview",
		Data:      []byte(`{"host":"www.example.com","path":"/"}`),
		Timestamp: ts, ReceivedAt: ts.Add(time.Second), Seq: uint64(seq),
	}
}

// TestOverlappingWriters writes every event of one session twice, from 8
// goroutines at once in overlapping batches of shuffled events, as workers
// of a scale-out deployment do with redeliveries; the counters must come
// out exact, round after round.
func TestOverlappingWriters(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	const writers, perBatch, total = 8, 25, 800
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for round := range 5 {
		sess := eye.NewID()
		all := make([]eye.Event, total)
		for i := range all {
			// Spread over three months (three partitions), not in order.
			all[i] = event(sess, round*total+i, base.Add(time.Duration((i*7919)%total)*3*time.Hour))
			all[i].ApplicationID = fmt.Sprintf("app-%d", i%3)
			all[i].Name = fmt.Sprintf("name-%d", i%5)
		}
		minted := eye.Session{ID: sess, CreatedAt: base}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			sum     eye.WriteResult
			written = map[string]int{}
		)
		errs := make(chan error, writers)
		for w := range writers {
			// Writer w writes the events i with i%writers of w and of its
			// neighbour: each event twice, by two writers.
			var mine []eye.Event
			for i, ev := range all {
				if i%writers == w || i%writers == (w+1)%writers {
					mine = append(mine, ev)
				}
			}
			rand.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
			wg.Go(func() {
				for i := 0; i < len(mine); i += perBatch {
					b := eye.Batch{Events: mine[i:min(i+perBatch, len(mine))], Sessions: []eye.Session{minted}}
					res, err := s.Write(ctx, b)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					sum.Events += res.Events
					sum.Duplicates += res.Duplicates
					sum.Sessions += res.Sessions
					for _, ev := range b.Events {
						written[ev.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if sum.Events != total || sum.Duplicates != total || sum.Sessions > 1 {
			t.Errorf("round %d: results add up to %+v, want %d events, %d duplicates, at most 1 session", round, sum, total, total)
		}
		for id, n := range written {
			if n != 2 {
				t.Fatalf("event %s written %d times", id, n)
			}
		}
		ss, err := s.Session(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		first, last := base, base.Add((total-1)*3*time.Hour)
		if ss.EventCount != total || !ss.FirstSeen.Equal(first) || !ss.LastSeen.Equal(last) ||
			!slices.Equal(ss.ApplicationIDs, []string{"app-0", "app-1", "app-2"}) {
			t.Errorf("round %d: session %+v, want %d events from %v to %v", round, ss, total, first, last)
		}
		var rows, ids int
		var apps int64
		if err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE session_id = $1),
			(SELECT count(*) FROM event_ids i JOIN events e ON e.timestamp = i.timestamp AND e.seq = i.seq AND e.id = i.id WHERE e.session_id = $1),
			(SELECT sum(event_count)::bigint FROM session_applications WHERE session_id = $1)`, sess).Scan(&rows, &ids, &apps); err != nil {
			t.Fatal(err)
		}
		if rows != total || ids != total || apps != total {
			t.Errorf("round %d: %d rows, %d ids, %d counted per application; want %d each", round, rows, ids, apps, total)
		}
	}
	types, err := s.EventTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, et := range types {
		n += et.Events
	}
	if n != 5*total {
		t.Errorf("event types count %d events, want %d", n, 5*total)
	}
	stats, err := s.Stats(ctx, eye.StatsFilter{From: base, To: base.AddDate(0, 6, 0), Interval: eye.IntervalDay})
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for _, b := range stats {
		n += b.Events
	}
	if n != 5*total {
		t.Errorf("stats count %d events, want %d", n, 5*total)
	}
}

// TestOneOutcomeConcurrently writes an event and an error record of one
// client event_id (so one id) at once: exactly one of them is stored.
func TestOneOutcomeConcurrently(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	for round := range 30 {
		ev := event(eye.NewID(), round, time.Now().UTC().Truncate(time.Microsecond))
		ev.EventID = fmt.Sprintf("k-%d", round)
		ev.ID = eye.DerivedID(ev.ApplicationID, ev.EventID)
		rec := eye.ErrorRecord{ID: ev.ID, EventID: ev.EventID, ApplicationID: ev.ApplicationID, ReceivedAt: ev.ReceivedAt,
			Reasons: []eye.Reason{{Code: eye.CodeFutureTimestamp, Message: "late"}}, Payload: []byte(`{}`)}
		var wg sync.WaitGroup
		results := make([]eye.WriteResult, 2)
		errs := make([]error, 2)
		wg.Go(func() { results[0], errs[0] = s.Write(ctx, eye.Batch{Events: []eye.Event{ev}}) })
		wg.Go(func() { results[1], errs[1] = s.Write(ctx, eye.Batch{Errors: []eye.ErrorRecord{rec}}) })
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		stored := results[0].Events + results[1].Errors
		dups := results[0].Duplicates + results[1].Duplicates
		_, evErr := s.Event(ctx, ev.ID)
		_, recErr := s.ErrorRecord(ctx, ev.ID)
		if stored != 1 || dups != 1 || (evErr == nil) == (recErr == nil) {
			t.Fatalf("round %d: %+v; event: %v; error record: %v", round, results, evErr, recErr)
		}
	}
}

// TestRefusedData checks that a batch holding data that jsonb refuses (a
// \u0000) or text PostgreSQL refuses (a NUL in a category) fails whole,
// with an error that is not EUNAVAILABLE while Ping succeeds: the worker
// then writes the records one by one, and keeps the refused event as a
// store_rejected error record, which is always storable.
func TestRefusedData(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	sess := eye.NewID()
	now := time.Now().UTC().Truncate(time.Microsecond)
	good := event(sess, 1, now)
	nulData := event(sess, 2, now)
	nulData.Data = []byte(`{"s":"é\u0000"}`)
	nulCategory := event(sess, 3, now)
	nulCategory.Category = "page\x00interaction"
	for _, bad := range []eye.Event{nulData, nulCategory} {
		_, err := s.Write(ctx, eye.Batch{Events: []eye.Event{good, bad}})
		if err == nil {
			t.Fatalf("Write of %q/%q: no error", bad.Category, bad.Data)
		}
		if code := eye.ErrorCode(err); code != eye.EINVALID {
			t.Errorf("Write of %q/%q: %v (code %s), want invalid", bad.Category, bad.Data, err, code)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Event(ctx, good.ID); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("an event of a refused batch is stored: %v", err)
	}
	if _, err := s.Session(ctx, sess); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("the session of a refused batch is stored: %v", err)
	}

	// One by one, as the worker does.
	if res, err := s.Write(ctx, eye.Batch{Events: []eye.Event{good}}); err != nil || res.Events != 1 {
		t.Fatalf("Write(good) = %+v, %v", res, err)
	}
	for _, bad := range []eye.Event{nulData, nulCategory} {
		_, err := s.Write(ctx, eye.Batch{Events: []eye.Event{bad}})
		if err == nil {
			t.Fatal("no error")
		}
		payload := []byte(`{"category":"page\u0000interaction","data":{"s":"é\u0000"},"raw":"` + "\x00\xff" + `"}`)
		rec := eye.ErrorRecord{ID: bad.ID, ReceivedAt: bad.ReceivedAt, ApplicationID: bad.ApplicationID,
			Category: bad.Category, Name: bad.Name, SessionID: bad.SessionID, Seq: bad.Seq, Payload: payload,
			Reasons: []eye.Reason{{Code: eye.CodeStoreRejected, Message: "the store refused the event: " + err.Error() + " \x00"}}}
		if res, err := s.Write(ctx, eye.Batch{Errors: []eye.ErrorRecord{rec}}); err != nil || res.Errors != 1 {
			t.Fatalf("Write(store_rejected) = %+v, %v", res, err)
		}
		got, err := s.ErrorRecord(ctx, bad.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload) != string(payload) || got.Reasons[0] != rec.Reasons[0] || got.Category != storableErrors([]eye.ErrorRecord{rec})[0].Category {
			t.Errorf("error record = %+v", got)
		}
	}
	ss, err := s.Session(ctx, sess)
	if err != nil || ss.EventCount != 1 {
		t.Errorf("session = %+v, %v", ss, err)
	}
}

// partitions returns the names of the partitions of events.
func partitions(t *testing.T, s *Store) []string {
	ctx := t.Context()
	t.Helper()
	rows, err := s.db.Query(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// partitionOf returns the partition that holds the event with the id, and
// the timestamp event_ids has for it.
func partitionOf(t *testing.T, s *Store, id string) (string, int64) {
	ctx := t.Context()
	t.Helper()
	var name string
	var ts int64
	err := s.db.QueryRow(ctx, `SELECT e.tableoid::regclass::text, i.timestamp FROM events e
		JOIN event_ids i ON i.id = e.id WHERE e.id = $1`, id).Scan(&name, &ts)
	if err != nil {
		t.Fatal(err)
	}
	return name, ts
}

func TestPartitions(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	now := time.Now().UTC()
	want := []string{"events_default"}
	for i := -1; i <= 3; i++ {
		m := time.Date(now.Year(), now.Month()+time.Month(i), 1, 0, 0, 0, 0, time.UTC)
		want = append(want, fmt.Sprintf("events_%04d%02d", m.Year(), int(m.Month())))
	}
	slices.Sort(want)
	if got := partitions(t, s); !slices.Equal(got, want) {
		t.Fatalf("partitions after Migrate %v, want %v", got, want)
	}

	// Hostile timestamps make no partition: they go to the default one.
	sess := eye.NewID()
	far := event(sess, 1, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC))
	old := event(sess, 2, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC))
	june := event(sess, 3, time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC))
	if res, err := s.Write(ctx, eye.Batch{Events: []eye.Event{far, old, june}}); err != nil || res.Events != 3 {
		t.Fatalf("Write = %+v, %v", res, err)
	}
	if got := partitions(t, s); !slices.Equal(got, want) {
		t.Errorf("partitions after writes %v, want %v", got, want)
	}
	for _, ev := range []eye.Event{far, old, june} {
		if p, _ := partitionOf(t, s, ev.ID); p != "events_default" {
			t.Errorf("event of %v in %s", ev.Timestamp, p)
		}
	}

	// A partition made later takes its rows from the default partition.
	if err := s.EnsurePartitions(ctx, time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if p, _ := partitionOf(t, s, june.ID); p != "events_202406" {
		t.Errorf("the June event is in %s, want events_202406", p)
	}
	if err := s.EnsurePartitions(ctx, time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("EnsurePartitions again: %v", err)
	}
	got := partitions(t, s)
	for _, p := range []string{"events_202406", "events_202407", "events_202408", "events_202409", "events_202410"} {
		if !slices.Contains(got, p) {
			t.Errorf("partitions %v lack %s", got, p)
		}
	}
	page, err := s.Events(ctx, eye.EventFilter{SessionID: sess, Ascending: true, Limit: 10})
	if err != nil || len(page.Items) != 3 || page.Items[0].ID != old.ID || page.Items[1].ID != june.ID || page.Items[2].ID != far.ID {
		t.Errorf("events across partitions: %+v, %v", page.Items, err)
	}
	if ss, err := s.Session(ctx, sess); err != nil || ss.EventCount != 3 {
		t.Errorf("session %+v, %v", ss, err)
	}
}

// TestCorrectionAcrossPartitions moves an event to another partition by
// correcting its timestamp: event_ids follows, so that the event is found,
// corrected again, deleted and written again.
func TestCorrectionAcrossPartitions(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	sess := eye.NewID()
	ev, other := event(sess, 1, now), event(sess, 2, now.Add(-time.Hour))
	if _, err := s.Write(ctx, eye.Batch{Events: []eye.Event{ev, other}}); err != nil {
		t.Fatal(err)
	}
	home, _ := partitionOf(t, s, ev.ID)
	old := time.Date(2020, 2, 29, 12, 0, 0, 0, time.UTC)
	moved, err := s.UpdateEvent(ctx, ev.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.Timestamp = old
		cur.Data = []byte(`{"host":"www.example.com","path":"/moved"}`)
		return cur, []string{"timestamp", "data"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !moved.Timestamp.Equal(old) || string(moved.Data) != `{"host":"www.example.com","path":"/moved"}` {
		t.Errorf("moved = %+v", moved)
	}
	p, ts := partitionOf(t, s, ev.ID)
	if p != "events_default" || p == home || ts != old.UnixMicro() {
		t.Errorf("after the correction: in %s (was %s), event_ids timestamp %d, want events_default and %d", p, home, ts, old.UnixMicro())
	}
	if got, err := s.Event(ctx, ev.ID); err != nil || !got.Timestamp.Equal(old) {
		t.Errorf("Event after the move = %+v, %v", got, err)
	}
	ss, _ := s.Session(ctx, sess)
	if ss.EventCount != 2 || !ss.FirstSeen.Equal(old) || !ss.LastSeen.Equal(other.Timestamp) {
		t.Errorf("session after the move: %+v", ss)
	}
	// And back.
	if _, err := s.UpdateEvent(ctx, ev.ID, func(cur eye.Event) (eye.Event, []string, error) {
		cur.Timestamp = now
		return cur, []string{"timestamp"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if p, ts := partitionOf(t, s, ev.ID); p != home || ts != now.UnixMicro() {
		t.Errorf("after moving back: in %s, timestamp %d", p, ts)
	}
	if err := s.DeleteEvent(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE id = $1) + (SELECT count(*) FROM event_ids WHERE id = $1)`, ev.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows left of a deleted event", n)
	}
	if res, err := s.Write(ctx, eye.Batch{Events: []eye.Event{ev}}); err != nil || res.Events != 1 {
		t.Errorf("writing a deleted event again: %+v, %v", res, err)
	}
}

// TestConcurrentCorrections runs corrections of one event at once: each
// runs on what the one before stored (the row is locked), so none is lost.
func TestConcurrentCorrections(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	ev := event(eye.NewID(), 1, time.Now().UTC().Truncate(time.Microsecond))
	ev.Data = []byte(`{"n":0}`)
	if _, err := s.Write(ctx, eye.Batch{Events: []eye.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.UpdateEvent(ctx, ev.ID, func(cur eye.Event) (eye.Event, []string, error) {
				var count int
				fmt.Sscanf(string(cur.Data), `{"n":%d}`, &count)
				cur.Data = fmt.Appendf(nil, `{"n":%d}`, count+1)
				cur.Timestamp = cur.Timestamp.Add(time.Duration(count) * 24 * time.Hour) // across partitions, too
				return cur, []string{"data", "timestamp"}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Event(ctx, ev.ID)
	if err != nil || string(got.Data) != fmt.Sprintf(`{"n":%d}`, n) {
		t.Errorf("after %d concurrent increments: %s, %v", n, got.Data, err)
	}
}

// TestEventQueriesUseIndexes checks that every filter of GET /events/
// walks an index of each partition in the order asked for, with no sort of
// the matches, so that the first page and a deep page cost the same; and
// that an event is found by its id through indexes.
func TestEventQueriesUseIndexes(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	ts := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	after := &eye.Position{Time: ts, Seq: 10, Row: 3}
	filters := []eye.EventFilter{
		{},
		{After: after},
		{SessionID: "s", Ascending: true, After: after},
		{SessionID: "s", From: ts, To: ts},
		{Category: "c", After: after},
		{Name: "n", From: ts},
		{Category: "c", Name: "n"},
		{From: ts, To: ts, After: after, Ascending: true},
		{ApplicationID: "a", After: after},
	}
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// Empty tables: make the planner cost plans as for big ones.
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET enable_seqscan`)
	type query struct {
		name string
		sql  string
		args []any
	}
	queries := []query{{"by id", eventByID, []any{"id"}}}
	for _, f := range filters {
		f.Limit = 100
		q, args := eventsQuery(f)
		queries = append(queries, query{fmt.Sprintf("%+v", f), q, args})
	}
	for _, q := range queries {
		rows, err := conn.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(plan, isSortOrScan); i >= 0 {
			t.Errorf("%s: plan has %q, want index scans without a sort:\n%s", q.name, plan[i], strings.Join(plan, "\n"))
		}
	}
}

// isSortOrScan reports whether a line of a plan is a node that sorts or
// reads a whole table.
func isSortOrScan(line string) bool {
	node := strings.TrimPrefix(strings.TrimSpace(line), "->  ")
	return strings.HasPrefix(node, "Sort  (") || strings.HasPrefix(node, "Incremental Sort  (") || strings.HasPrefix(node, "Seq Scan on ")
}

// TestWriteLeavesBatch checks that Write never changes the batch it is
// given (it skips duplicates and ids of the other kind without touching the
// caller's slices), on both of its ways of claiming ids.
func TestWriteLeavesBatch(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	sess := eye.NewID()
	a, b, c := event(sess, 1, now), event(sess, 2, now), event(sess, 3, now)
	c.EventID = "k"
	rec := eye.ErrorRecord{ID: c.ID, EventID: "k", ApplicationID: c.ApplicationID, ReceivedAt: now, Payload: []byte("x"),
		Reasons: []eye.Reason{{Code: eye.CodeEmptyData, Message: "empty"}}}
	if _, err := s.Write(ctx, eye.Batch{Errors: []eye.ErrorRecord{rec}}); err != nil {
		t.Fatal(err)
	}
	for _, evs := range [][]eye.Event{{a, b, a, c}, {b, a, c, b}} {
		batch := eye.Batch{Events: evs}
		before := slices.Clone(evs)
		if _, err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(evs, before, func(x, y eye.Event) bool { return x.ID == y.ID && x.Seq == y.Seq }) {
			t.Errorf("Write changed its batch: %v, was %v", ids(evs), ids(before))
		}
	}
}

func ids(evs []eye.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestUniqueEvents(t *testing.T) {
	a, b, c := eye.Event{ID: "a"}, eye.Event{ID: "b"}, eye.Event{ID: "c"}
	for _, tt := range []struct{ in, want []eye.Event }{
		{nil, nil},
		{[]eye.Event{a, b, c}, []eye.Event{a, b, c}},
		{[]eye.Event{a, a}, []eye.Event{a}},
		{[]eye.Event{a, b, a, c, b}, []eye.Event{a, b, c}},
		{[]eye.Event{c, b, c, c}, []eye.Event{c, b}},
	} {
		if got := uniqueEvents(tt.in); !slices.Equal(ids(got), ids(tt.want)) {
			t.Errorf("uniqueEvents(%v) = %v, want %v", ids(tt.in), ids(got), ids(tt.want))
		}
	}
}
