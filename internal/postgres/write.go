package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

// sessionDelta is what a batch adds to one session.
type sessionDelta struct {
	count       int64
	first, last time.Time
	created     time.Time
	apps        map[string]int64
}

func newSessionDelta() *sessionDelta { return &sessionDelta{apps: map[string]int64{}} }

func (d *sessionDelta) add(ev eye.Event) {
	if d.count == 0 || ev.Timestamp.Before(d.first) {
		d.first = ev.Timestamp
	}
	if d.count == 0 || ev.Timestamp.After(d.last) {
		d.last = ev.Timestamp
	}
	if d.created.IsZero() || ev.ReceivedAt.Before(d.created) {
		d.created = ev.ReceivedAt
	}
	d.count++
	d.apps[ev.ApplicationID]++
}

// Write stores a batch in one transaction. Records whose id is stored
// already are counted as duplicates and left alone; so is a record with a
// client event_id whose id is stored as the other kind (an event for an
// error record, an error record for an event): one id, one outcome.
//
// The transaction takes its locks in one order — client ids, event ids,
// error records, sessions, their applications, event types, stats — and
// within each in the order of the keys, so that concurrent writers wait
// for each other but never deadlock; a Write that loses a deadlock all the
// same (against a correction, say) is tried again. It first claims the
// events' ids expecting them all new, and tries again skipping those
// stored when one is not (see claimNew).
func (s *Store) Write(ctx context.Context, b eye.Batch) (eye.WriteResult, error) {
	claim := claimNew
	for attempt := 1; ; attempt++ {
		res, err := s.write(ctx, b, claim)
		switch {
		case err == nil:
			return res, nil
		case claim == claimNew && isUnique(err, "event_ids_pkey"):
			claim = claimUnclaimed // an event stored already: skip it
		case attempt < writeAttempts && isCode(err, deadlockDetect):
			s.log.Warn("a write lost a deadlock; trying again", "attempt", attempt, "error", err)
		default:
			return res, err
		}
	}
}

func (s *Store) write(ctx context.Context, b eye.Batch, claim string) (eye.WriteResult, error) {
	var res eye.WriteResult
	err := s.tx(ctx, "write", func(tx pgx.Tx) error {
		res = eye.WriteResult{}
		eventIDs, errorIDs := clientIDs(b)
		if err := lockIDs(ctx, tx, append(eventIDs, errorIDs...)); err != nil {
			return err
		}

		others, err := storedIDs(ctx, tx, "errors", eventIDs)
		if err != nil {
			return err
		}
		evs := uniqueEvents(b.Events)
		if len(others) > 0 {
			evs = slices.DeleteFunc(slices.Clone(evs), func(ev eye.Event) bool { return others[ev.ID] })
		}
		inserted, err := insertEvents(ctx, tx, evs, claim)
		if err != nil {
			return err
		}
		deltas := map[string]*sessionDelta{}
		types, stats := typeDeltas{}, statDeltas{}
		counted := map[string]bool{} // the second of two events with one id is a duplicate
		for _, ev := range b.Events {
			if !inserted[ev.ID] || counted[ev.ID] {
				noteDuplicate(&res, ev.ID)
				continue
			}
			counted[ev.ID] = true
			res.Events++
			d := deltas[ev.SessionID]
			if d == nil {
				d = newSessionDelta()
				deltas[ev.SessionID] = d
			}
			d.add(ev)
			types.event(ev.Category, ev.Name, ev.ReceivedAt)
			stats.add(eventStat(ev), 1, 0)
		}

		// After the events: an event of this batch counts too.
		if others, err = storedIDs(ctx, tx, "event_ids", errorIDs); err != nil {
			return err
		}
		all := storableErrors(b.Errors)
		recs := slices.DeleteFunc(uniqueErrors(all), func(e eye.ErrorRecord) bool { return others[e.ID] })
		stored, err := insertErrors(ctx, tx, recs)
		if err != nil {
			return err
		}
		counted = map[string]bool{}
		for _, e := range all {
			if !stored[e.ID] || counted[e.ID] {
				noteDuplicate(&res, e.ID)
				continue
			}
			counted[e.ID] = true
			res.Errors++
			if e.Category != "" && e.Name != "" {
				types.error(e.Category, e.Name, e.ReceivedAt)
			}
			stats.add(errorStat(e), 0, 1)
		}

		// The counters, in one round trip; the most shared rows last,
		// locked for the shortest time.
		var batch pgx.Batch
		minted := queueSessions(&batch, b.Sessions, deltas)
		queueSessionApps(&batch, deltas)
		types.queue(&batch)
		stats.queue(&batch)
		if err := sendBatch(ctx, tx, "count", &batch); err != nil {
			return err
		}
		res.Sessions = *minted
		return nil
	})
	if err != nil {
		return eye.WriteResult{}, err
	}
	return res, nil
}

// noteDuplicate counts a record already stored.
func noteDuplicate(res *eye.WriteResult, id string) {
	res.Duplicates++
	res.DuplicateIDs = append(res.DuplicateIDs, id)
}

// clientIDs returns the ids of the batch's events and error records that
// carry a client event_id: only those may be stored as the other kind
// already (records without one have ids of their own).
func clientIDs(b eye.Batch) (events, errors []string) {
	for _, ev := range b.Events {
		if ev.EventID != "" {
			events = append(events, ev.ID)
		}
	}
	for _, e := range b.Errors {
		if e.EventID != "" {
			errors = append(errors, e.ID)
		}
	}
	return events, errors
}

// lockIDs takes a transaction lock on each id, in the order of the locks'
// keys: the check that an id is not stored as the other kind then holds
// against a concurrent writer of the other kind.
func lockIDs(ctx context.Context, tx pgx.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, k)
		FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest($2::text[]) AS id) AS keys ORDER BY k`, idLockSpace, ids)
	if err != nil {
		return storeError("lock ids", err)
	}
	return nil
}

// storedIDs returns which of ids are in table: "errors" or "event_ids".
func storedIDs(ctx context.Context, tx pgx.Tx, table string, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	if len(ids) == 0 {
		return found, nil
	}
	// table is one of two constants of this package, never input.
	rows, err := tx.Query(ctx, `SELECT id FROM `+table+` WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, storeError("look up "+table, err)
	}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { found[id] = true; return nil }); err != nil {
		return nil, storeError("look up "+table, err)
	}
	return found, nil
}

// uniqueEvents returns events without repeated ids (the first of each is
// kept, the others are duplicates), in their order: evs itself when no id
// repeats (most batches), which callers must then not modify.
func uniqueEvents(evs []eye.Event) []eye.Event {
	seen := make(map[string]bool, len(evs))
	var out []eye.Event // nil until a repeated id
	for i, ev := range evs {
		switch {
		case seen[ev.ID] && out == nil:
			out = slices.Clone(evs[:i])
		case !seen[ev.ID] && out != nil:
			out = append(out, ev)
		}
		seen[ev.ID] = true
	}
	if out == nil {
		return evs
	}
	return out
}

// The two statements that claim the ids of events in event_ids, in the
// order of the ids. claimNew expects every id to be new, and fails on one
// stored already: most batches hold none, and a plain INSERT is cheaper
// than INSERT … ON CONFLICT (about 10% of a batch's insert, measured in
// docs/postgres.md). claimUnclaimed skips them, and returns the ids it
// claimed.
const (
	claimNew = `INSERT INTO event_ids (id, timestamp, seq)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u (id, timestamp, seq)
		ORDER BY id COLLATE "C"`
	claimUnclaimed = claimNew + `
		ON CONFLICT (id) DO NOTHING
		RETURNING id`
)

// insertEvents stores events (without repeated ids) and returns the ids of
// those it inserted: it claims their ids in event_ids with claim, in the
// order of the ids, then copies into events the rows it claimed, and only
// those, with COPY, PostgreSQL's fastest way in, in the order of the batch
// (the order of arrival, which keeps the indexes' inserts close together).
// Both are measured in docs/postgres.md.
func insertEvents(ctx context.Context, tx pgx.Tx, evs []eye.Event, claim string) (map[string]bool, error) {
	inserted := make(map[string]bool, len(evs))
	if len(evs) == 0 {
		return inserted, nil
	}
	type key struct {
		id             string
		timestamp, seq int64
	}
	keys := make([]key, len(evs))
	for i, ev := range evs {
		keys[i] = key{ev.ID, micros(ev.Timestamp), int64(ev.Seq)}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.id, b.id) })
	ids, stamps, seqs := make([]string, len(evs)), make([]int64, len(evs)), make([]int64, len(evs))
	for i, k := range keys {
		ids[i], stamps[i], seqs[i] = k.id, k.timestamp, k.seq
	}
	if claim == claimNew {
		if _, err := tx.Exec(ctx, claimNew, ids, stamps, seqs); err != nil {
			return nil, storeError("claim event ids", err)
		}
		for _, id := range ids {
			inserted[id] = true
		}
	} else {
		rows, err := tx.Query(ctx, claimUnclaimed, ids, stamps, seqs)
		if err != nil {
			return nil, storeError("claim event ids", err)
		}
		var id string
		if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { inserted[id] = true; return nil }); err != nil {
			return nil, storeError("claim event ids", err)
		}
	}
	claimed := evs
	if len(inserted) < len(evs) {
		claimed = slices.DeleteFunc(slices.Clone(evs), func(ev eye.Event) bool { return !inserted[ev.ID] })
	}
	// pk comes from its sequence.
	columns := []string{"id", "seq", "event_id", "application_id", "session_id", "category", "name",
		"data", "timestamp", "sent_at", "received_at", "clock_offset", "schema_version"}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, columns, pgx.CopyFromSlice(len(claimed), func(i int) ([]any, error) {
		ev := claimed[i]
		var offset pgtype.Int8
		if !ev.SentAt.IsZero() {
			offset = pgtype.Int8{Int64: ev.ClockOffset.Microseconds(), Valid: true}
		}
		// data is sent as JSON text: jsonb parses it (and refuses a
		// \u0000, failing the batch).
		return []any{ev.ID, int64(ev.Seq), nullString(ev.EventID), ev.ApplicationID, ev.SessionID,
			ev.Category, ev.Name, string(ev.Data), micros(ev.Timestamp), nullMicros(ev.SentAt), micros(ev.ReceivedAt),
			offset, nullInt(ev.SchemaVersion)}, nil
	}))
	if err != nil {
		return nil, storeError("copy events", err)
	}
	return inserted, nil
}

// queueSessions queues the statement that creates the sessions a batch
// mints and adds its inserted events to their sessions' counters, in the
// database, so that concurrent writers never lose a count: one statement,
// in the order of the ids. Once the batch is sent, the int it returns holds
// how many minted sessions it inserted.
//
// A minted session keeps the creation time it was minted with; a session
// first seen through its events was created by the earliest arrival.
func queueSessions(batch *pgx.Batch, minted []eye.Session, deltas map[string]*sessionDelta) *int {
	n := new(int)
	created := map[string]time.Time{}
	for _, ss := range minted {
		if _, ok := created[ss.ID]; !ok {
			created[ss.ID] = ss.CreatedAt
		}
	}
	ids := slices.Collect(maps.Keys(created))
	for id := range deltas {
		if _, ok := created[id]; !ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return n
	}
	slices.Sort(ids)
	var (
		createdAt, counts = make([]int64, len(ids)), make([]int64, len(ids))
		first, last       = make([]pgtype.Int8, len(ids)), make([]pgtype.Int8, len(ids))
	)
	for i, id := range ids {
		if t, ok := created[id]; ok {
			createdAt[i] = micros(t)
		}
		if d := deltas[id]; d != nil {
			if _, ok := created[id]; !ok {
				createdAt[i] = micros(d.created)
			}
			first[i], last[i], counts[i] = nullMicros(d.first), nullMicros(d.last), d.count
		}
	}
	// least and greatest ignore NULLs. A minted session stored already is
	// left alone (and not returned); xmax = 0 marks the rows inserted.
	batch.Queue(`INSERT INTO sessions AS s (id, created_at, first_seen, last_seen, event_count)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
			AS u (id, created_at, first_seen, last_seen, event_count)
		ORDER BY id COLLATE "C"
		ON CONFLICT (id) DO UPDATE SET
			first_seen = least(s.first_seen, excluded.first_seen),
			last_seen = greatest(s.last_seen, excluded.last_seen),
			event_count = s.event_count + excluded.event_count
		WHERE excluded.event_count > 0
		RETURNING id, xmax = 0`, ids, createdAt, first, last, counts).Query(func(rows pgx.Rows) error {
		var (
			id       string
			inserted bool
		)
		_, err := pgx.ForEachRow(rows, []any{&id, &inserted}, func() error {
			if _, ok := created[id]; ok && inserted {
				*n++
			}
			return nil
		})
		return err
	})
	return n
}

// queueSessionApps queues the statement that adds inserted events to the
// number of each session's events sent by each application, in the order
// of the keys.
func queueSessionApps(batch *pgx.Batch, deltas map[string]*sessionDelta) {
	var sessions, apps []string
	var counts []int64
	for _, id := range slices.Sorted(maps.Keys(deltas)) {
		d := deltas[id]
		for _, app := range slices.Sorted(maps.Keys(d.apps)) {
			sessions, apps, counts = append(sessions, id), append(apps, app), append(counts, d.apps[app])
		}
	}
	if len(sessions) == 0 {
		return
	}
	batch.Queue(`INSERT INTO session_applications AS a (session_id, application_id, event_count)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u (session_id, application_id, event_count)
		ORDER BY session_id COLLATE "C", application_id COLLATE "C"
		ON CONFLICT (session_id, application_id) DO UPDATE SET event_count = a.event_count + excluded.event_count`,
		sessions, apps, counts)
}

// queueSessionAppOut queues the statements that take one event of an
// application out of a session, forgetting the application when none is
// left.
func queueSessionAppOut(batch *pgx.Batch, session, app string) {
	batch.Queue(`UPDATE session_applications SET event_count = event_count - 1
		WHERE session_id = $1 AND application_id = $2`, session, app)
	batch.Queue(`DELETE FROM session_applications
		WHERE session_id = $1 AND application_id = $2 AND event_count = 0`, session, app)
}

// typeDelta names an event type.
type typeDelta struct{ category, name string }

// typeCounts is what a transaction adds to an event type's counters.
type typeCounts struct {
	events, errors int64
	first, last    time.Time
}

func (c *typeCounts) seen(t time.Time) {
	if c.first.IsZero() || t.Before(c.first) {
		c.first = t
	}
	if t.After(c.last) {
		c.last = t
	}
}

// typeDeltas gathers a transaction's counts per event type.
type typeDeltas map[typeDelta]*typeCounts

func (d typeDeltas) get(category, name string) *typeCounts {
	k := typeDelta{category, name}
	if d[k] == nil {
		d[k] = &typeCounts{}
	}
	return d[k]
}

func (d typeDeltas) event(category, name string, received time.Time) {
	c := d.get(category, name)
	c.events++
	c.seen(received)
}

func (d typeDeltas) error(category, name string, received time.Time) {
	c := d.get(category, name)
	c.errors++
	c.seen(received)
}

// queue queues the statements that add the counts to the event types'
// counters, creating the types that are new, in the order of the types:
// the counts of a batch (all positive) in one statement; those of a
// correction or a deletion (one or two types, counted out or in) one
// statement each.
func (d typeDeltas) queue(batch *pgx.Batch) {
	keys := slices.SortedFunc(maps.Keys(d), func(a, b typeDelta) int {
		if c := strings.Compare(a.category, b.category); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	if !slices.ContainsFunc(keys, func(k typeDelta) bool { return d[k].events < 0 || d[k].errors < 0 }) {
		d.upsert(batch, keys)
		return
	}
	for _, k := range keys {
		if c := d[k]; c.events >= 0 && c.errors >= 0 {
			d.upsert(batch, []typeDelta{k})
		} else {
			batch.Queue(`UPDATE event_types SET events = events + $1, errors = errors + $2
				WHERE category = $3 AND name = $4`, c.events, c.errors, k.category, k.name)
		}
	}
}

// upsert queues the statement that adds the (positive) counts of the types
// keys, in their order.
func (d typeDeltas) upsert(batch *pgx.Batch, keys []typeDelta) {
	if len(keys) == 0 {
		return
	}
	var (
		categories, names           []string
		events, errs, firsts, lasts []int64
	)
	for _, k := range keys {
		c := d[k]
		categories, names = append(categories, k.category), append(names, k.name)
		events, errs = append(events, c.events), append(errs, c.errors)
		firsts, lasts = append(firsts, micros(c.first)), append(lasts, micros(c.last))
	}
	batch.Queue(`INSERT INTO event_types AS t (category, name, events, errors, first_seen, last_seen)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
			AS u (category, name, events, errors, first_seen, last_seen)
		ORDER BY category COLLATE "C", name COLLATE "C"
		ON CONFLICT (category, name) DO UPDATE SET
			events = t.events + excluded.events,
			errors = t.errors + excluded.errors,
			first_seen = least(t.first_seen, excluded.first_seen),
			last_seen = greatest(t.last_seen, excluded.last_seen)`,
		categories, names, events, errs, firsts, lasts)
}

// storableErrors returns copies of error records whose text columns hold
// no NUL character: PostgreSQL's text refuses them, and an error record
// keeps what could be read of an event that may hold them (a category of
// "a\u0000b" is a valid JSON string) but must always be storable. Each NUL
// becomes U+FFFD; the payload keeps the exact bytes.
func storableErrors(recs []eye.ErrorRecord) []eye.ErrorRecord {
	out := make([]eye.ErrorRecord, len(recs))
	for i, e := range recs {
		for _, s := range []*string{&e.EventID, &e.ApplicationID, &e.Category, &e.Name, &e.SessionID} {
			*s = strings.ReplaceAll(*s, "\x00", "\uFFFD")
		}
		out[i] = e
	}
	return out
}

// uniqueErrors returns error records without repeated ids (the first of
// each is kept, the others are duplicates), sorted by id: the order in
// which they are inserted.
func uniqueErrors(recs []eye.ErrorRecord) []eye.ErrorRecord {
	seen := make(map[string]bool, len(recs))
	out := make([]eye.ErrorRecord, 0, len(recs))
	for _, e := range recs {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b eye.ErrorRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// insertErrorsQuery is one statement for the error records of a batch: it
// inserts those not stored yet, in the order of the ids, and indexes each
// by the distinct codes of its reasons.
const insertErrorsQuery = `WITH inserted AS (
		INSERT INTO errors (id, seq, received_at, event_id, application_id, category, name, session_id, reasons, payload, status)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::bytea[], $11::text[])
			AS i (id, seq, received_at, event_id, application_id, category, name, session_id, reasons, payload, status)
		ORDER BY id COLLATE "C"
		ON CONFLICT (id) DO NOTHING
		RETURNING pk, id, received_at
	), codes AS (
		INSERT INTO error_codes (code, received_at, error_pk)
		SELECT c.code, r.received_at, r.pk FROM inserted r JOIN unnest($12::text[], $13::text[]) AS c (id, code) ON c.id = r.id
	)
	SELECT id FROM inserted`

// insertErrors stores error records (without repeated ids) and returns
// the ids of those it inserted.
func insertErrors(ctx context.Context, tx pgx.Tx, recs []eye.ErrorRecord) (map[string]bool, error) {
	stored := map[string]bool{}
	if len(recs) == 0 {
		return stored, nil
	}
	n := len(recs)
	var (
		ids, apps, reasons, statuses         = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		eventIDs, categories, names, session = make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n)
		seqs, received                       = make([]int64, n), make([]int64, n)
		payloads                             = make([][]byte, n)
		codeIDs, codes                       []string
	)
	for i, e := range recs {
		body, err := json.Marshal(reasonsJSON(e.Reasons))
		if err != nil {
			return nil, fmt.Errorf("encode reasons: %w", err)
		}
		status := e.Status
		if status == "" {
			status = eye.StatusOpen
		}
		ids[i], seqs[i], received[i] = e.ID, int64(e.Seq), micros(e.ReceivedAt)
		eventIDs[i], apps[i], categories[i], names[i] = nullString(e.EventID), e.ApplicationID, nullString(e.Category), nullString(e.Name)
		session[i], reasons[i], payloads[i], statuses[i] = nullString(e.SessionID), string(body), payloadBytes(e.Payload), status
		for _, code := range distinctCodes(e.Reasons) {
			codeIDs, codes = append(codeIDs, e.ID), append(codes, code)
		}
	}
	rows, err := tx.Query(ctx, insertErrorsQuery, ids, seqs, received, eventIDs, apps, categories, names, session,
		reasons, payloads, statuses, codeIDs, codes)
	if err != nil {
		return nil, storeError("insert error records", err)
	}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { stored[id] = true; return nil }); err != nil {
		return nil, storeError("insert error records", err)
	}
	return stored, nil
}

// distinctCodes returns the distinct codes of reasons, in their order.
func distinctCodes(reasons []eye.Reason) []string {
	var codes []string
	for _, r := range reasons {
		if !slices.Contains(codes, r.Code) {
			codes = append(codes, r.Code)
		}
	}
	return codes
}

// insertCodes indexes an error record by each distinct code of its reasons.
func insertCodes(ctx context.Context, tx pgx.Tx, pk, received int64, reasons []eye.Reason) error {
	_, err := tx.Exec(ctx, `INSERT INTO error_codes (code, received_at, error_pk)
		SELECT code, $2, $3 FROM unnest($1::text[]) AS code`, distinctCodes(reasons), received, pk)
	if err != nil {
		return storeError("insert error codes", err)
	}
	return nil
}

// payloadBytes never returns nil: the column is NOT NULL, and an empty
// body is a body.
func payloadBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// reasonJSON is the stored form of a reason.
type reasonJSON struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
	Keyword string `json:"keyword,omitempty"`
}

func reasonsJSON(rs []eye.Reason) []reasonJSON {
	out := make([]reasonJSON, len(rs))
	for i, r := range rs {
		out[i] = reasonJSON(r)
	}
	return out
}

// sendBatch sends the statements queued, if any, and waits for them.
func sendBatch(ctx context.Context, tx pgx.Tx, op string, batch *pgx.Batch) error {
	if batch.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return storeError(op, err)
	}
	return nil
}
