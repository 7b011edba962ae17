package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

const sessionColumns = `pk, id, created_at, first_seen, last_seen, event_count`

func scanSession(sc scanner) (eye.Session, int64, error) {
	var (
		ss          eye.Session
		pk, created int64
		first, last pgtype.Int8
	)
	if err := sc.Scan(&pk, &ss.ID, &created, &first, &last, &ss.EventCount); err != nil {
		return ss, 0, err
	}
	ss.CreatedAt = fromMicros(created)
	ss.FirstSeen = fromNullMicros(first)
	ss.LastSeen = fromNullMicros(last)
	ss.ApplicationIDs = []string{}
	return ss, pk, nil
}

// activity is the time a session is listed by.
func activity(ss eye.Session) eye.Position {
	if ss.LastSeen.IsZero() {
		return eye.Position{Time: ss.CreatedAt}
	}
	return eye.Position{Time: ss.LastSeen}
}

// Session returns the session with the id.
func (s *Store) Session(ctx context.Context, id string) (eye.Session, error) {
	ss, _, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ss, eye.Errorf(eye.ENOTFOUND, "No session has the id %q.", id)
	} else if err != nil {
		return ss, storeError("get session", err)
	}
	list := []eye.Session{ss}
	if err := s.fillApplications(ctx, list); err != nil {
		return ss, err
	}
	return list[0], nil
}

// Sessions returns a page of sessions, most recent activity first.
func (s *Store) Sessions(ctx context.Context, f eye.SessionFilter) (eye.Page[eye.Session], error) {
	var page eye.Page[eye.Session]
	var w where
	if f.ApplicationID != "" {
		w.add("id IN (SELECT session_id FROM session_applications WHERE application_id = ?)", f.ApplicationID)
	}
	if p := f.After; p != nil {
		w.add("(coalesce(last_seen, created_at), pk) < (?, ?)", micros(p.Time), p.Row)
	}
	rows, err := s.db.Query(ctx, `SELECT `+sessionColumns+` FROM sessions`+w.String()+
		` ORDER BY coalesce(last_seen, created_at) DESC, pk DESC LIMIT `+itoa(f.Limit+1), w.args...)
	if err != nil {
		return page, storeError("list sessions", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		ss, pk, err := scanSession(rows)
		if err != nil {
			return page, storeError("scan session", err)
		}
		if len(page.Items) == f.Limit {
			pos := activity(page.Items[len(page.Items)-1])
			pos.Row = last
			page.Next = &pos
			break
		}
		page.Items = append(page.Items, ss)
		last = pk
	}
	if err := rows.Err(); err != nil {
		return page, storeError("list sessions", err)
	}
	rows.Close()
	return page, s.fillApplications(ctx, page.Items)
}

// fillApplications sets the applications of each session, in one query.
func (s *Store) fillApplications(ctx context.Context, list []eye.Session) error {
	if len(list) == 0 {
		return nil
	}
	index := make(map[string]int, len(list))
	ids := make([]string, len(list))
	for i, ss := range list {
		index[ss.ID] = i
		ids[i] = ss.ID
	}
	rows, err := s.db.Query(ctx, `SELECT session_id, application_id FROM session_applications
		WHERE session_id = ANY($1) ORDER BY session_id, application_id`, ids)
	if err != nil {
		return storeError("list session applications", err)
	}
	defer rows.Close()
	for rows.Next() {
		var session, app string
		if err := rows.Scan(&session, &app); err != nil {
			return storeError("scan session application", err)
		}
		i := index[session]
		list[i].ApplicationIDs = append(list[i].ApplicationIDs, app)
	}
	if err := rows.Err(); err != nil {
		return storeError("list session applications", err)
	}
	return nil
}
