package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitionsAhead is how many months after now's EnsurePartitions makes.
const partitionsAhead = 3

// EnsurePartitions makes the monthly partitions of events from the month
// before now's to three months after it, those that are missing, under the
// schema's advisory lock. Migrate calls it; the service calls it daily, so
// that a month's partition exists well before its first event. Events
// outside every partition go to events_default: no write ever makes a
// partition, whatever timestamp it carries.
//
// Rows of a new partition's month that sit in events_default already (the
// partition was missing when they arrived) are moved into it.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) error {
	now = now.UTC()
	first := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	return s.tx(ctx, "ensure partitions", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return storeError("lock schema", err)
		}
		for i := range partitionsAhead + 2 {
			if err := s.ensurePartition(ctx, tx, first.AddDate(0, i, 0)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ensurePartition makes the partition of the month starting at start,
// unless it exists.
//
// Partition DDL cannot take parameters: the name and bounds are made here
// from numbers, never from input. The partition is made as a table of its
// own, filled with its rows from the default partition, then attached:
// ATTACH locks the parent more lightly than CREATE TABLE … PARTITION OF
// (reads and writes of other partitions go on), and the default partition
// must hold no row of the new range when it is attached.
func (s *Store) ensurePartition(ctx context.Context, tx pgx.Tx, start time.Time) error {
	name := fmt.Sprintf("events_%04d%02d", start.Year(), int(start.Month()))
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
		return storeError("look up partition", err)
	} else if exists {
		return nil
	}
	table := pgx.Identifier{name}.Sanitize()
	lo, hi := micros(start), micros(start.AddDate(0, 1, 0))
	bounds := fmt.Sprintf("FROM (%d) TO (%d)", lo, hi)
	if _, err := tx.Exec(ctx, `CREATE TABLE `+table+` (LIKE events INCLUDING DEFAULTS)`); err != nil {
		return fmt.Errorf("create partition %s: %w", name, storeError("create partition", err))
	}
	moved, err := tx.Exec(ctx, `WITH moved AS (
			DELETE FROM events_default WHERE timestamp >= $1 AND timestamp < $2 RETURNING *
		)
		INSERT INTO `+table+` SELECT * FROM moved`, lo, hi)
	if err != nil {
		return storeError("move rows to partition", err)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE events ATTACH PARTITION `+table+` FOR VALUES `+bounds); err != nil {
		return fmt.Errorf("attach partition %s: %w", name, storeError("attach partition", err))
	}
	s.log.Info("made a partition of events", "partition", name, "rows_moved", moved.RowsAffected())
	return nil
}
