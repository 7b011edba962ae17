package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// The data lifecycle: deletions (a session erased, events by a filter,
// what the retention deletes) keep every counter true; the audit log.

// lifecycleTests are the tests of this file, which Run runs.
func lifecycleTests() []struct {
	name string
	fn   func(t *testing.T, s eye.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s eye.Store)
	}{
		{"DeleteEvents", testDeleteEvents},
		{"DeleteEventsLimit", testDeleteEventsLimit},
		{"DeleteSession", testDeleteSession},
		{"RetentionDeletes", testRetentionDeletes},
		{"AuditLog", testAuditLog},
		{"DeleteJobs", testDeleteJobs},
	}
}

// window is the range of minutes whose stats checkCounters compares.
var window = [2]time.Time{base.Add(-2 * time.Hour).Truncate(time.Minute), base.Add(48 * time.Hour).Truncate(time.Minute)}

// allErrors returns every error record stored.
func allErrors(t *testing.T, s eye.Store) []eye.ErrorRecord {
	t.Helper()
	var all []eye.ErrorRecord
	f := eye.ErrorFilter{Limit: 1000}
	for {
		page, err := s.Errors(context.Background(), f)
		if err != nil {
			t.Fatalf("Errors: %v", err)
		}
		all = append(all, page.Items...)
		if page.Next == nil {
			return all
		}
		f.After = page.Next
	}
}

// checkCounters is CheckCounters over the minutes of window.
func checkCounters(t *testing.T, s eye.Store, sessions ...string) {
	t.Helper()
	CheckCounters(t, s, window[0], window[1], sessions...)
}

// CheckCounters recomputes every counter from the events and error
// records stored, and compares it with the store's: each of sessions
// (count, first and last event, applications; a session the store does
// not know must have no events), every event type, and the stats of the
// minutes from from to to (whole minutes).
func CheckCounters(t *testing.T, s eye.Store, from, to time.Time, sessions ...string) {
	t.Helper()
	ctx := context.Background()
	evs := listAll(t, s, eye.EventFilter{Limit: 1000})
	recs := allErrors(t, s)

	type session struct {
		count       int64
		first, last time.Time
		apps        map[string]bool
	}
	want := map[string]*session{}
	for _, ev := range evs {
		w := want[ev.SessionID]
		if w == nil {
			w = &session{first: ev.Timestamp, last: ev.Timestamp, apps: map[string]bool{}}
			want[ev.SessionID] = w
		}
		w.count++
		w.apps[ev.ApplicationID] = true
		if ev.Timestamp.Before(w.first) {
			w.first = ev.Timestamp
		}
		if ev.Timestamp.After(w.last) {
			w.last = ev.Timestamp
		}
	}
	for _, id := range sessions {
		w := want[id]
		ss, err := s.Session(ctx, id)
		switch {
		case eye.ErrorCode(err) == eye.ENOTFOUND && w == nil:
			continue
		case err != nil:
			t.Errorf("Session(%s): %v", id, err)
			continue
		case w == nil:
			w = &session{apps: map[string]bool{}}
		}
		if ss.EventCount != w.count || !ss.FirstSeen.Equal(w.first) || !ss.LastSeen.Equal(w.last) ||
			!slices.Equal(ss.ApplicationIDs, slices.Sorted(maps.Keys(w.apps))) {
			t.Errorf("session %s = count %d, first %v, last %v, apps %v; its events say %d, %v, %v, %v",
				id, ss.EventCount, ss.FirstSeen, ss.LastSeen, ss.ApplicationIDs, w.count, w.first, w.last, slices.Sorted(maps.Keys(w.apps)))
		}
	}

	types := map[[2]string][2]int64{}
	for _, ev := range evs {
		k := [2]string{ev.Category, ev.Name}
		types[k] = [2]int64{types[k][0] + 1, types[k][1]}
	}
	for _, r := range recs {
		if r.Category != "" && r.Name != "" {
			k := [2]string{r.Category, r.Name}
			types[k] = [2]int64{types[k][0], types[k][1] + 1}
		}
	}
	stored, err := s.EventTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range stored {
		k := [2]string{et.Category, et.Name}
		if got := [2]int64{et.Events, et.Errors}; got != types[k] {
			t.Errorf("event type %q/%q counts %d events, %d errors; the rows stored say %d, %d", et.Category, et.Name,
				got[0], got[1], types[k][0], types[k][1])
		}
		delete(types, k)
	}
	for k, c := range types {
		t.Errorf("event type %q/%q of %d events, %d errors is missing", k[0], k[1], c[0], c[1])
	}

	minutes := map[time.Time][2]int64{}
	for _, ev := range evs {
		m := ev.Timestamp.Truncate(time.Minute)
		minutes[m] = [2]int64{minutes[m][0] + 1, minutes[m][1]}
	}
	for _, r := range recs {
		m := r.ReceivedAt.Truncate(time.Minute)
		minutes[m] = [2]int64{minutes[m][0], minutes[m][1] + 1}
	}
	buckets, err := s.Stats(ctx, eye.StatsFilter{From: from, To: to, Interval: eye.IntervalMinute})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if got := [2]int64{b.Events, b.Errors}; got != minutes[b.Start] {
			t.Errorf("stats of %v count %d events, %d errors; the rows stored say %d, %d", b.Start, got[0], got[1],
				minutes[b.Start][0], minutes[b.Start][1])
		}
		delete(minutes, b.Start)
	}
	for m, c := range minutes {
		if !m.Before(from) && m.Before(to) {
			t.Errorf("stats of %v (%d events, %d errors) are missing", m, c[0], c[1])
		}
	}
}

// deleteEvents deletes by f with the limit and checks how many went.
func deleteEvents(t *testing.T, s eye.Store, f eye.EventFilter, limit int, want int64) {
	t.Helper()
	n, err := s.DeleteEvents(context.Background(), f, limit)
	if err != nil || n != want {
		t.Errorf("DeleteEvents(%+v, %d) = %d, %v; want %d", f, limit, n, err, want)
	}
}

// checkEvents compares the ids of the events stored with want's.
func checkEvents(t *testing.T, s eye.Store, want ...eye.Event) {
	t.Helper()
	got := ids(listAll(t, s, eye.EventFilter{Ascending: true, Limit: 1000}))
	if w := ids(want); !slices.Equal(got, w) {
		t.Errorf("events %v, want %v", got, w)
	}
}

// testDeleteEvents deletes by each filter of EventFilter.
func testDeleteEvents(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	a, b := newSession(), newSession()
	mk := func(session string, ts int, app, category, name, data string) eye.Event {
		ev := g.event(session, ts)
		ev.ApplicationID, ev.Category, ev.Name, ev.Data = app, category, name, []byte(data)
		return ev
	}
	const page, form = "page interaction", "form interaction"
	a0 := mk(a, 0, "default", page, "pageview", `{"host":"www.example.com","path":"/"}`)
	a1 := mk(a, 60, "shop", form, "submit", `{"host":"www.example.com","path":"/"}`)
	a2 := mk(a, 120, "default", page, "pageview", `{"host":"www.example.com","path":"/pricing"}`)
	a3 := mk(a, 7200, "default", page, "pageview", `{"host":"www.example.com","path":"/"}`)
	b0 := mk(b, 30, "shop", page, "pageview", `{"host":"www.example.com","path":"/"}`)
	b1 := mk(b, 90, "default", form, "submit", `{"host":"www.example.com","path":"/"}`)
	rec := g.errorRecord(a, eye.CodeEmptyData, 10)
	write(t, s, eye.Batch{Events: []eye.Event{a0, a1, a2, a3, b0, b1}, Errors: []eye.ErrorRecord{rec}})
	checkCounters(t, s, a, b)

	count := func(f eye.EventFilter, want int64) {
		t.Helper()
		if n, err := s.CountEvents(ctx, f); err != nil || n != want {
			t.Errorf("CountEvents(%+v) = %d, %v; want %d", f, n, err, want)
		}
	}
	pricing := []eye.DataFilter{{Path: []string{"path"}, Value: "/pricing"}}
	count(eye.EventFilter{}, 6)
	count(eye.EventFilter{Limit: 1, Ascending: true}, 6) // the page is ignored
	count(eye.EventFilter{SessionID: b}, 2)
	count(eye.EventFilter{ApplicationID: "shop"}, 2)
	count(eye.EventFilter{Category: form}, 2)
	count(eye.EventFilter{Name: "pageview", SessionID: a}, 3)
	count(eye.EventFilter{From: at(60), To: at(120)}, 3)
	count(eye.EventFilter{Data: pricing}, 1)

	deleteEvents(t, s, eye.EventFilter{SessionID: b, Category: page}, 10, 1) // b0
	checkEvents(t, s, a0, a1, b1, a2, a3)
	checkCounters(t, s, a, b)
	deleteEvents(t, s, eye.EventFilter{ApplicationID: "shop"}, 10, 1) // a1: a keeps only default's events
	checkCounters(t, s, a, b)
	deleteEvents(t, s, eye.EventFilter{Name: "submit"}, 10, 1) // b1: b is left with no event
	checkCounters(t, s, a, b)
	checkSession(t, s, b, 0, time.Time{}, time.Time{})
	deleteEvents(t, s, eye.EventFilter{Data: pricing}, 10, 1) // a2
	checkEvents(t, s, a0, a3)
	checkCounters(t, s, a, b)
	deleteEvents(t, s, eye.EventFilter{From: at(7200), To: at(7200)}, 10, 1) // a3: a's last event
	checkSession(t, s, a, 1, at(0), at(0), "default")
	checkCounters(t, s, a, b)

	// Idempotent: what is deleted is not found again.
	deleteEvents(t, s, eye.EventFilter{From: at(7200), To: at(7200)}, 10, 0)
	deleteEvents(t, s, eye.EventFilter{SessionID: newSession()}, 10, 0)
	deleteEvents(t, s, eye.EventFilter{}, 0, 0) // no limit, nothing
	checkEvents(t, s, a0)
	// No filter deletes everything; the error record stays.
	deleteEvents(t, s, eye.EventFilter{}, 10, 1)
	checkEvents(t, s)
	checkCounters(t, s, a, b)
	if et := findType(t, s, page, "pageview"); et.Events != 0 || et.Errors != 1 {
		t.Errorf("page interaction/pageview = %+v after every event went", et)
	}
	// A deleted event's id is free again: its redelivery is stored anew.
	write(t, s, events(a2))
	checkEvents(t, s, a2)
	checkCounters(t, s, a, b)
}

// testDeleteEventsLimit checks that a deletion takes the oldest events
// first (by timestamp, then arrival), never more than its limit.
func testDeleteEventsLimit(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	var evs []eye.Event
	for i := range 7 {
		evs = append(evs, g.event(sess, 100-i%3)) // timestamps repeat: arrival breaks the ties
	}
	write(t, s, events(evs...))
	sorted := slices.Clone(evs)
	slices.SortStableFunc(sorted, func(a, b eye.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	f := eye.EventFilter{SessionID: sess}
	for i, want := range []int64{3, 3, 1, 0} {
		deleteEvents(t, s, f, 3, want)
		left := sorted[min(3*(i+1), len(sorted)):]
		checkEvents(t, s, left...)
		checkCounters(t, s, sess)
	}
}

// testDeleteSession erases sessions with their events and error records.
func testDeleteSession(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	a, b := newSession(), newSession()
	a0, a1, a2 := g.event(a, 0), g.event(a, 60), g.event(a, 3600)
	a1.ApplicationID, a1.Category, a1.Name = "shop", "form interaction", "submit"
	b0 := g.event(b, 30)
	recA, recA2, recB := g.errorRecord(a, eye.CodeEmptyData, 5), g.errorRecord(a, eye.CodeFutureTimestamp, 7), g.errorRecord(b, eye.CodeEmptyData, 6)
	recA2.Category, recA2.Name = "", "" // what could not be read
	write(t, s, eye.Batch{Events: []eye.Event{a0, a1, a2, b0}, Errors: []eye.ErrorRecord{recA, recA2, recB}})
	checkCounters(t, s, a, b)

	res, err := s.DeleteSession(ctx, a)
	if err != nil || res != (eye.DeleteResult{Events: 3, Errors: 2}) {
		t.Fatalf("DeleteSession = %+v, %v; want 3 events, 2 error records", res, err)
	}
	if _, err := s.Session(ctx, a); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("Session(erased) = %v, want not_found", err)
	}
	for _, id := range []string{a0.ID, a1.ID, a2.ID} {
		if _, err := s.Event(ctx, id); eye.ErrorCode(err) != eye.ENOTFOUND {
			t.Errorf("Event(%s) of the erased session = %v, want not_found", id, err)
		}
	}
	for _, id := range []string{recA.ID, recA2.ID} {
		if _, err := s.ErrorRecord(ctx, id); eye.ErrorCode(err) != eye.ENOTFOUND {
			t.Errorf("ErrorRecord(%s) of the erased session = %v, want not_found", id, err)
		}
	}
	for _, f := range []eye.ErrorFilter{{SessionID: a, Limit: 10}, {Code: eye.CodeFutureTimestamp, Limit: 10}} {
		if page, err := s.Errors(ctx, f); err != nil || len(page.Items) != 0 {
			t.Errorf("Errors(%+v) = %d records, %v; want none", f, len(page.Items), err)
		}
	}
	if page, err := s.Sessions(ctx, eye.SessionFilter{ApplicationID: "shop", Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Errorf("sessions of shop = %d, %v; want none", len(page.Items), err)
	}
	checkEvents(t, s, b0)
	checkCounters(t, s, a, b)

	if _, err := s.DeleteSession(ctx, a); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("second DeleteSession = %v, want not_found", err)
	}
	if _, err := s.DeleteSession(ctx, newSession()); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("DeleteSession(unknown) = %v, want not_found", err)
	}
	// A session without events.
	minted := newSession()
	write(t, s, eye.Batch{Sessions: []eye.Session{{ID: minted, CreatedAt: at(0)}}})
	if res, err := s.DeleteSession(ctx, minted); err != nil || res != (eye.DeleteResult{}) {
		t.Errorf("DeleteSession(no events) = %+v, %v", res, err)
	}
	// An event of an erased session arriving later makes it anew.
	write(t, s, events(a2))
	checkSession(t, s, a, 1, at(3600), at(3600), "default")
	checkCounters(t, s, a, b, minted)
}

// testRetentionDeletes deletes what is older than a cutoff, as the
// retention does, in small batches.
func testRetentionDeletes(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	cutoff := at(3600)
	old, straddling, recent, oldEmpty, newEmpty := newSession(), newSession(), newSession(), newSession(), newSession()
	var evs []eye.Event
	for i := range 5 {
		evs = append(evs, g.event(old, i*60), g.event(straddling, 3000+i*300), g.event(recent, 4000+i))
	}
	var recs []eye.ErrorRecord
	for _, received := range []int{0, 100, 3599, 3600, 5000} {
		recs = append(recs, g.errorRecord(old, eye.CodeEmptyData, received))
	}
	write(t, s, eye.Batch{Events: evs, Errors: recs, Sessions: []eye.Session{{ID: oldEmpty, CreatedAt: at(10)}, {ID: newEmpty, CreatedAt: at(3700)}}})
	sessions := []string{old, straddling, recent, oldEmpty, newEmpty}
	checkCounters(t, s, sessions...)

	var total int64
	for {
		n, err := s.DeleteEvents(ctx, eye.EventFilter{To: cutoff.Add(-time.Microsecond)}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n > 2 {
			t.Fatalf("DeleteEvents with limit 2 deleted %d", n)
		}
		total += n
		if n < 2 {
			break
		}
	}
	if total != 7 { // old's 5, straddling's 3000 and 3300
		t.Errorf("deleted %d events older than the cutoff, want 7", total)
	}
	for _, ev := range listAll(t, s, eye.EventFilter{Limit: 1000}) {
		if ev.Timestamp.Before(cutoff) {
			t.Errorf("event %s at %v is older than the cutoff", ev.ID, ev.Timestamp)
		}
	}
	checkSession(t, s, straddling, 3, at(3600), at(4200), "default")
	checkCounters(t, s, sessions...)

	total = 0
	for {
		n, err := s.DeleteErrorsBefore(ctx, cutoff, 1)
		if err != nil || n > 1 {
			t.Fatalf("DeleteErrorsBefore = %d, %v", n, err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	left := allErrors(t, s)
	if total != 3 || len(left) != 2 {
		t.Errorf("deleted %d error records, %d left; want 3 and 2", total, len(left))
	}
	for _, r := range left {
		if r.ReceivedAt.Before(cutoff) {
			t.Errorf("error record received at %v is older than the cutoff", r.ReceivedAt)
		}
	}
	if page, err := s.Errors(ctx, eye.ErrorFilter{Code: eye.CodeEmptyData, Limit: 10}); err != nil || len(page.Items) != 2 {
		t.Errorf("Errors(code) = %d records, %v; want 2", len(page.Items), err)
	}
	checkCounters(t, s, sessions...)

	// Sessions left without events and created before the cutoff: old
	// (its first event arrived at 1 s) and oldEmpty.
	total = 0
	for {
		n, err := s.DeleteEmptySessions(ctx, cutoff, 1)
		if err != nil || n > 1 {
			t.Fatalf("DeleteEmptySessions = %d, %v", n, err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total != 2 {
		t.Errorf("deleted %d empty sessions, want 2", total)
	}
	for id, gone := range map[string]bool{old: true, oldEmpty: true, straddling: false, recent: false, newEmpty: false} {
		if _, err := s.Session(ctx, id); (eye.ErrorCode(err) == eye.ENOTFOUND) != gone {
			t.Errorf("Session(%s) = %v; deleted: want %v", id, err, gone)
		}
	}
	checkCounters(t, s, sessions...)
}

// testAuditLog records entries and lists them newest first, with filters
// and pages; the oldest go first.
func testAuditLog(t *testing.T, s eye.Store) {
	ctx := context.Background()
	var entries []eye.AuditEntry
	for i, action := range []string{eye.ActionApplicationCreate, eye.ActionKeyCreate, eye.ActionEventDelete,
		eye.ActionKeyCreate, eye.ActionSessionDelete, eye.ActionRetentionRun} {
		e := eye.AuditEntry{ID: eye.NewID(), At: at(i), Actor: "key:" + fmt.Sprint(i%2), ActorName: "label", Action: action,
			Target: eye.NewID(), Details: json.RawMessage(`{"n":` + fmt.Sprint(i) + `}`), Addr: "192.0.2.1"}
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	plain := eye.AuditEntry{ID: eye.NewID(), At: at(2), Actor: eye.ActorCLI, Action: eye.ActionUserCreate, Target: "ada"}
	if err := s.RecordAudit(ctx, plain); err != nil {
		t.Fatal(err)
	}
	plain.Details = json.RawMessage(`{}`)

	list := func(f eye.AuditFilter) []eye.AuditEntry {
		t.Helper()
		var all []eye.AuditEntry
		for range 100 {
			page, err := s.Audit(ctx, f)
			if err != nil {
				t.Fatalf("Audit(%+v): %v", f, err)
			}
			if len(page.Items) > f.Limit {
				t.Fatalf("Audit(%+v) gave %d entries", f, len(page.Items))
			}
			all = append(all, page.Items...)
			if page.Next == nil {
				return all
			}
			f.After = page.Next
		}
		t.Fatal("Audit: pages never end")
		return nil
	}
	same := func(got []eye.AuditEntry, want ...eye.AuditEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("got %d entries, want %d", len(got), len(want))
			return
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID != w.ID || !g.At.Equal(w.At) || g.Actor != w.Actor || g.ActorName != w.ActorName || g.Action != w.Action ||
				g.Target != w.Target || string(g.Details) != string(w.Details) || g.Addr != w.Addr {
				t.Errorf("entry %d = %+v, want %+v", i, g, w)
			}
		}
	}
	e := entries
	for _, limit := range []int{1, 2, 100} {
		same(list(eye.AuditFilter{Limit: limit}), e[5], e[4], e[3], plain, e[2], e[1], e[0])
	}
	same(list(eye.AuditFilter{Action: eye.ActionKeyCreate, Limit: 1}), e[3], e[1])
	same(list(eye.AuditFilter{Actor: "key:0", Limit: 2}), e[4], e[2], e[0])
	same(list(eye.AuditFilter{Actor: eye.ActorCLI, Limit: 2}), plain)
	same(list(eye.AuditFilter{From: at(2), To: at(4), Limit: 2}), e[4], e[3], plain, e[2])
	same(list(eye.AuditFilter{Action: "nothing", Limit: 2}))

	if n, err := s.DeleteAuditBefore(ctx, at(3), 2); err != nil || n != 2 {
		t.Errorf("DeleteAuditBefore = %d, %v; want 2", n, err)
	}
	if n, err := s.DeleteAuditBefore(ctx, at(3), 10); err != nil || n != 2 {
		t.Errorf("DeleteAuditBefore = %d, %v; want 2", n, err)
	}
	same(list(eye.AuditFilter{Limit: 10}), e[5], e[4], e[3])
}

// testDeleteJobs stores a deletion job with its filter and progress.
func testDeleteJobs(t *testing.T, s eye.Store) {
	ctx := context.Background()
	f := eye.EventFilter{ApplicationID: "shop", SessionID: newSession(), Category: "c", Name: "n", From: at(1), To: at(2),
		Data: []eye.DataFilter{{Path: []string{"form", "first.name"}, Value: "Ada"}, {Path: []string{"n"}, Value: json.Number("1.50")},
			{Path: []string{"b"}, Value: true}, {Path: []string{"z"}, Value: nil}}}
	j := eye.Job{ID: eye.NewID(), Kind: eye.JobDelete, EventFilter: f, Status: eye.JobRunning, Matched: 12,
		Actor: "key:admin", ActorName: "the admin key", CreatedAt: at(0), UpdatedAt: at(0)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	j.Deleted, j.Status, j.UpdatedAt = 12, eye.JobDone, at(5)
	if err := s.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := s.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != eye.JobDelete || got.Matched != 12 || got.Deleted != 12 || got.Status != eye.JobDone ||
		got.Actor != j.Actor || got.ActorName != j.ActorName || got.Filter != (eye.ErrorFilter{}) {
		t.Errorf("Job = %+v", got)
	}
	gf := got.EventFilter
	if gf.ApplicationID != f.ApplicationID || gf.SessionID != f.SessionID || gf.Category != f.Category || gf.Name != f.Name ||
		!gf.From.Equal(f.From) || !gf.To.Equal(f.To) || fmt.Sprint(gf.Data) != fmt.Sprint(f.Data) {
		t.Errorf("job filter = %+v, want %+v", gf, f)
	}
	if n, ok := gf.Data[1].Value.(json.Number); !ok || n != "1.50" {
		t.Errorf("a number of a data filter came back as %T %v", gf.Data[1].Value, gf.Data[1].Value)
	}
}
