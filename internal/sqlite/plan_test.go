package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// TestEventQueriesUseIndexes checks that every filter of GET /events/ walks
// an index in the order asked for: no full scan, no sort of the matches,
// so that the first page and a deep page cost the same.
func TestEventQueriesUseIndexes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "eye.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	for _, f := range filters {
		f.Limit = 100
		q, args := eventsQuery(f)
		rows, err := s.r.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		t.Logf("%+v: %s", f, text)
		if strings.Contains(text, "TEMP B-TREE") || !strings.Contains(text, "USING INDEX") {
			t.Errorf("filter %+v: plan %q, want an index walk without a sort", f, text)
		}
	}
}
