package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/theeye/eye"
)

// TestDataFilterUsesIndex checks that a filter on a member of data that
// few events hold is answered by the GIN index events_data (on each
// partition), not by reading the events one by one; and measures, for
// the docs, the filter on a rare value and on a common one.
func TestDataFilterUsesIndex(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	month := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.EnsurePartitions(ctx, month); err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	for i := 0; i < n; i += 1000 {
		var b eye.Batch
		for j := i; j < i+1000; j++ {
			ev := event(fmt.Sprintf("%08d-0000-4000-8000-000000000000", j/20), j+1, month.Add(time.Duration(j)*time.Minute))
			host := "www.example.com"
			if j%5000 == 7 {
				host = "rare.example.com"
			}
			ev.Data = fmt.Appendf(nil, `{"host":%q,"path":"/p/%d","form":{"first_name":"n%d"}}`, host, j%50, j%100)
			b.Events = append(b.Events, ev)
		}
		if _, err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	var table, index int64
	if err := s.db.QueryRow(ctx, `SELECT pg_table_size('events_202601'), pg_relation_size('events_202601_data_idx')`).
		Scan(&table, &index); err != nil {
		t.Fatal(err)
	}
	t.Logf("a month of %d events: the partition takes %d kB, its index on data %d kB", n, table/1000, index/1000)
	for _, tt := range []struct {
		name  string
		f     eye.EventFilter
		want  int
		index bool // the plan must read events_data
	}{
		{"rare", eye.EventFilter{Data: []eye.DataFilter{{Path: []string{"host"}, Value: "rare.example.com"}}}, 4, true},
		{"rare, nested", eye.EventFilter{Data: []eye.DataFilter{{Path: []string{"form", "first_name"}, Value: "n7"},
			{Path: []string{"host"}, Value: "rare.example.com"}}}, 4, true},
		{"common", eye.EventFilter{Data: []eye.DataFilter{{Path: []string{"host"}, Value: "www.example.com"}}}, 100, false},
	} {
		tt.f.Limit = 100
		q, args := eventsQuery(tt.f)
		rows, err := s.db.Query(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if uses := strings.Contains(strings.Join(plan, "\n"), "data_idx"); tt.index && !uses {
			t.Errorf("%s: the plan does not use the GIN index on data:\n%s", tt.name, strings.Join(plan, "\n"))
		}
		start := time.Now()
		page, err := s.Events(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != tt.want {
			t.Errorf("%s: %d events, want %d", tt.name, len(page.Items), tt.want)
		}
		t.Logf("%s: %d events of %d in %v", tt.name, len(page.Items), n, time.Since(start))
	}
}
