package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

// The benchmarks write the rows of internal/sqlite's BenchmarkWrite:
// batches of 1,000 events spread over 100 sessions, each batch one
// transaction, into a fresh database. They report events/s, or times
// per batch.
//
//	EYE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//		go test -run '^$' -bench . -benchtime 300x -count 3 ./internal/postgres/

// batches makes the batches of the benchmarks.
type batches struct {
	sessions []string
	base     time.Time
	seq      uint64
}

func newBatches() *batches {
	b := &batches{sessions: make([]string, 100), base: time.Date(2021, 1, 1, 9, 15, 27, 0, time.UTC)}
	for i := range b.sessions {
		b.sessions[i] = eye.NewID()
	}
	return b
}

func (b *batches) next() []eye.Event {
	evs := make([]eye.Event, 1000)
	for i := range evs {
		b.seq++
		evs[i] = eye.Event{
			ID: eye.NewID(), ApplicationID: "default", SessionID: b.sessions[i%len(b.sessions)],
			Category: "page interaction", Name: "pageview",
			Data:      []byte(fmt.Sprintf(`{"host":"www.example.com","path":"/p/%d","i":%d}`, i%50, b.seq)),
			Timestamp: b.base.Add(time.Duration(b.seq) * time.Millisecond), ReceivedAt: b.base.Add(time.Duration(b.seq) * time.Millisecond),
			Seq: b.seq,
		}
	}
	return evs
}

// BenchmarkWrite measures the worker's write path: Store.Write, with
// deduplication, session, type and stats counters.
func BenchmarkWrite(b *testing.B) {
	s := open(b)
	gen := newBatches()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		bt := eye.Batch{Events: gen.next()}
		b.StartTimer()
		if _, err := s.Write(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCopy is the baseline of BenchmarkWrite: the same rows copied
// into events (pgx CopyFrom, the binary COPY protocol), with no
// deduplication and no counters.
func BenchmarkCopy(b *testing.B) {
	s := open(b)
	gen := newBatches()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		rows := copyRows(gen.next())
		b.StartTimer()
		if _, err := s.db.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns(), pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriteVsCopy alternates the two, batch by batch, each into a
// database of its own, and reports both rates and their ratio, from the
// total times and from the median batch times: on a machine whose disk and
// processors are shared, stalls hit either at random, and the ratio of
// one run, of medians above all, is steadier than that of two runs.
func BenchmarkWriteVsCopy(b *testing.B) {
	s, raw := open(b), open(b)
	gen, rawGen := newBatches(), newBatches()
	ctx := context.Background()
	var writes, copies []time.Duration
	for b.Loop() {
		bt := eye.Batch{Events: gen.next()}
		rows := copyRows(rawGen.next())
		start := time.Now()
		if _, err := s.Write(ctx, bt); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := raw.db.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns(), pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		writes, copies = append(writes, mid.Sub(start)), append(copies, time.Since(mid))
	}
	write, copied := sum(writes), sum(copies)
	b.ReportMetric(float64(b.N*1000)/write.Seconds(), "write-events/s")
	b.ReportMetric(float64(b.N*1000)/copied.Seconds(), "copy-events/s")
	b.ReportMetric(copied.Seconds()/write.Seconds(), "write/copy")
	b.ReportMetric(median(copies).Seconds()/median(writes).Seconds(), "median-write/copy")
}

func sum(ds []time.Duration) time.Duration {
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	return total
}

func median(ds []time.Duration) time.Duration {
	return slices.Sorted(slices.Values(ds))[len(ds)/2]
}

// copyColumns are the columns of events copyRows fills.
func copyColumns() []string {
	return []string{"id", "seq", "event_id", "application_id", "session_id", "category", "name",
		"data", "timestamp", "sent_at", "received_at", "clock_offset", "schema_version"}
}

func copyRows(evs []eye.Event) [][]any {
	rows := make([][]any, len(evs))
	for i, ev := range evs {
		rows[i] = []any{ev.ID, int64(ev.Seq), nullString(ev.EventID), ev.ApplicationID, ev.SessionID, ev.Category, ev.Name,
			string(ev.Data), micros(ev.Timestamp), nullMicros(ev.SentAt), micros(ev.ReceivedAt), nil, nullInt(ev.SchemaVersion)}
	}
	return rows
}

// BenchmarkInsertEvents compares ways of sending a batch's events in one
// transaction, ids claimed in event_ids (no counters). Each iteration sends
// one batch each way, in turn, each into a database of its own, and the
// benchmark reports each way's median time per batch, in milliseconds:
// taking turns, the ways share the machine's stalls.
//
//   - claim-new+copy, the store's: a plain INSERT claims the ids (it fails
//     on an id stored already), then COPY sends the rows;
//   - claim-unclaimed+copy, the store's when a batch holds an id stored
//     already: INSERT … ON CONFLICT DO NOTHING RETURNING id claims the
//     ids, then COPY sends the rows claimed;
//   - unnest: one statement over arrays claims the ids (ON CONFLICT) and
//     inserts the rows claimed (INSERT … SELECT);
//   - temp-copy: COPY into a temporary table, then the same claim and
//     insert from it.
func BenchmarkInsertEvents(b *testing.B) {
	type way struct {
		name   string
		insert func(ctx context.Context, tx pgx.Tx, evs []eye.Event) error
	}
	ways := []way{
		{"claim-new+copy", func(ctx context.Context, tx pgx.Tx, evs []eye.Event) error {
			_, err := insertEvents(ctx, tx, evs, claimNew)
			return err
		}},
		{"claim-unclaimed+copy", func(ctx context.Context, tx pgx.Tx, evs []eye.Event) error {
			_, err := insertEvents(ctx, tx, evs, claimUnclaimed)
			return err
		}},
		{"unnest", func(ctx context.Context, tx pgx.Tx, evs []eye.Event) error {
			var cols eventArrays
			for _, ev := range evs {
				cols.add(ev)
			}
			_, err := tx.Exec(ctx, `WITH input AS (
					SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
						$8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::integer[])
					AS i (id, seq, event_id, application_id, session_id, category, name,
						data, timestamp, sent_at, received_at, clock_offset, schema_version)
				), `+claimAndInsert, cols.args()...)
			return err
		}},
		{"temp-copy", func(ctx context.Context, tx pgx.Tx, evs []eye.Event) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS input (
				id text, seq bigint, event_id text, application_id text, session_id text, category text, name text,
				data text, timestamp bigint, sent_at bigint, received_at bigint, clock_offset bigint, schema_version integer
			) ON COMMIT DELETE ROWS`); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"input"}, copyColumns(), pgx.CopyFromRows(copyRows(evs))); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `WITH `+claimAndInsert)
			return err
		}},
	}
	stores, gens, times := make([]*Store, len(ways)), make([]*batches, len(ways)), make([][]time.Duration, len(ways))
	for i := range ways {
		stores[i], gens[i] = open(b), newBatches()
	}
	ctx := context.Background()
	for b.Loop() {
		for i, w := range ways {
			evs := gens[i].next()
			start := time.Now()
			if err := stores[i].tx(ctx, "bench", func(tx pgx.Tx) error { return w.insert(ctx, tx, evs) }); err != nil {
				b.Fatal(err)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	for i, w := range ways {
		b.ReportMetric(float64(median(times[i]).Microseconds())/1000, w.name+"-ms/batch")
	}
}

// eventArrays holds events column by column, the arguments of the unnest
// variant.
type eventArrays struct {
	id, eventID, app, session, category, name, data []pgtype.Text
	seq, timestamp, sentAt, receivedAt, offset      []pgtype.Int8
	schemaVersion                                   []pgtype.Int4
}

func (c *eventArrays) add(ev eye.Event) {
	text := func(s string) pgtype.Text { return pgtype.Text{String: s, Valid: true} }
	c.id = append(c.id, text(ev.ID))
	c.seq = append(c.seq, pgtype.Int8{Int64: int64(ev.Seq), Valid: true})
	c.eventID = append(c.eventID, nullString(ev.EventID))
	c.app = append(c.app, text(ev.ApplicationID))
	c.session = append(c.session, text(ev.SessionID))
	c.category = append(c.category, text(ev.Category))
	c.name = append(c.name, text(ev.Name))
	c.data = append(c.data, text(string(ev.Data)))
	c.timestamp = append(c.timestamp, pgtype.Int8{Int64: micros(ev.Timestamp), Valid: true})
	c.sentAt = append(c.sentAt, nullMicros(ev.SentAt))
	c.receivedAt = append(c.receivedAt, pgtype.Int8{Int64: micros(ev.ReceivedAt), Valid: true})
	c.offset = append(c.offset, pgtype.Int8{})
	c.schemaVersion = append(c.schemaVersion, nullInt(ev.SchemaVersion))
}

func (c *eventArrays) args() []any {
	return []any{c.id, c.seq, c.eventID, c.app, c.session, c.category, c.name,
		c.data, c.timestamp, c.sentAt, c.receivedAt, c.offset, c.schemaVersion}
}

// claimAndInsert claims the ids of the rows of input and inserts the rows
// claimed into events.
const claimAndInsert = `claimed AS (
		INSERT INTO event_ids (id, timestamp, seq)
		SELECT i.id, i.timestamp, i.seq FROM input i
		ORDER BY i.id COLLATE "C"
		ON CONFLICT (id) DO NOTHING
		RETURNING id
	)
	INSERT INTO events (id, seq, event_id, application_id, session_id, category, name,
		data, timestamp, sent_at, received_at, clock_offset, schema_version)
	SELECT i.id, i.seq, i.event_id, i.application_id, i.session_id, i.category, i.name,
		i.data::jsonb, i.timestamp, i.sent_at, i.received_at, i.clock_offset, i.schema_version
	FROM input i JOIN claimed c ON c.id = i.id`
