package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

// jobFilter and jobCursor are the stored JSON of a job's filter and
// position.
type jobFilter struct {
	ApplicationID string    `json:"application,omitempty"`
	Status        string    `json:"status,omitempty"`
	Code          string    `json:"code,omitempty"`
	Category      string    `json:"category,omitempty"`
	Name          string    `json:"name,omitempty"`
	SessionID     string    `json:"session,omitempty"`
	From          int64     `json:"from,omitempty"`
	To            int64     `json:"to,omitempty"`
	Data          []jobData `json:"data,omitempty"` // a deletion's filters on members of data
}

// jobData is the stored JSON of a filter on a member of data.
type jobData struct {
	Path  []string        `json:"path"`
	Value json.RawMessage `json:"value"`
}

type jobCursor struct {
	Time int64 `json:"time"`
	Row  int64 `json:"row"`
}

func encodeJob(j eye.Job) (filter string, cursor pgtype.Text, err error) {
	f := jobFilter{ApplicationID: j.Filter.ApplicationID, Status: j.Filter.Status, Code: j.Filter.Code,
		Category: j.Filter.Category, Name: j.Filter.Name, SessionID: j.Filter.SessionID}
	from, to := j.Filter.From, j.Filter.To
	if j.Kind == eye.JobDelete {
		e := j.EventFilter
		f = jobFilter{ApplicationID: e.ApplicationID, Category: e.Category, Name: e.Name, SessionID: e.SessionID}
		from, to = e.From, e.To
		for _, d := range e.Data {
			v, err := json.Marshal(d.Value)
			if err != nil {
				return "", cursor, fmt.Errorf("encode job filter: %w", err)
			}
			f.Data = append(f.Data, jobData{Path: d.Path, Value: v})
		}
	}
	if !from.IsZero() {
		f.From = micros(from)
	}
	if !to.IsZero() {
		f.To = micros(to)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", cursor, fmt.Errorf("encode job filter: %w", err)
	}
	if j.Cursor != nil {
		c, err := json.Marshal(jobCursor{Time: micros(j.Cursor.Time), Row: j.Cursor.Row})
		if err != nil {
			return "", cursor, fmt.Errorf("encode job cursor: %w", err)
		}
		cursor = pgtype.Text{String: string(c), Valid: true}
	}
	return string(b), cursor, nil
}

// CreateJob stores a new job.
func (s *Store) CreateJob(ctx context.Context, j eye.Job) error {
	filter, cursor, err := encodeJob(j)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO jobs (id, kind, filter, status, replayed, still_invalid, matched, deleted, error, cursor,
			actor, actor_name, created_at, updated_at, owner, lease_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		j.ID, j.Kind, filter, j.Status, j.Replayed, j.StillInvalid, j.Matched, j.Deleted, j.Error, cursor,
		j.Actor, j.ActorName, micros(j.CreatedAt), micros(j.UpdatedAt), j.Owner, nullMicros(j.LeaseUntil))
	if err != nil {
		return storeError("create job", err)
	}
	return nil
}

// UpdateJob stores a job's progress and lease, when j.Owner owns it.
func (s *Store) UpdateJob(ctx context.Context, j eye.Job) error {
	_, cursor, err := encodeJob(j)
	if err != nil {
		return err
	}
	r, err := s.db.Exec(ctx, `UPDATE jobs SET status = $1, replayed = $2, still_invalid = $3, deleted = $4, error = $5, cursor = $6,
		updated_at = $7, lease_until = $8 WHERE id = $9 AND owner = $10`, j.Status, j.Replayed, j.StillInvalid, j.Deleted, j.Error, cursor,
		micros(j.UpdatedAt), nullMicros(j.LeaseUntil), j.ID, j.Owner)
	if err != nil {
		return storeError("update job", err)
	}
	if r.RowsAffected() == 0 {
		if _, err := s.Job(ctx, j.ID); err != nil {
			return err
		}
		return eye.Errorf(eye.ECONFLICT, "The job %q is run by another process now.", j.ID)
	}
	return nil
}

// ClaimJob makes owner the owner of a running job until the time until,
// when no other owner's lease holds at now. The row's lock makes one of
// concurrent claims win.
func (s *Store) ClaimJob(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	r, err := s.db.Exec(ctx, `UPDATE jobs SET owner = $1, lease_until = $2
		WHERE id = $3 AND status = $4 AND (owner = '' OR owner = $1 OR lease_until IS NULL OR lease_until < $5)`,
		owner, micros(until), id, eye.JobRunning, micros(now))
	if err != nil {
		return false, storeError("claim job", err)
	}
	return r.RowsAffected() == 1, nil
}

const jobColumns = `id, kind, filter, status, replayed, still_invalid, matched, deleted, error, cursor, actor, actor_name,
	created_at, updated_at, owner, lease_until`

func scanJob(sc scanner) (eye.Job, error) {
	var (
		j                eye.Job
		filter           string
		cursor           pgtype.Text
		created, updated int64
		lease            pgtype.Int8
	)
	if err := sc.Scan(&j.ID, &j.Kind, &filter, &j.Status, &j.Replayed, &j.StillInvalid, &j.Matched, &j.Deleted, &j.Error, &cursor,
		&j.Actor, &j.ActorName, &created, &updated, &j.Owner, &lease); err != nil {
		return j, err
	}
	j.CreatedAt, j.UpdatedAt, j.LeaseUntil = fromMicros(created), fromMicros(updated), fromNullMicros(lease)
	var f jobFilter
	if err := json.Unmarshal([]byte(filter), &f); err != nil {
		return j, fmt.Errorf("decode job filter: %w", err)
	}
	var from, to time.Time
	if f.From != 0 {
		from = fromMicros(f.From)
	}
	if f.To != 0 {
		to = fromMicros(f.To)
	}
	if j.Kind == eye.JobDelete {
		j.EventFilter = eye.EventFilter{ApplicationID: f.ApplicationID, Category: f.Category, Name: f.Name,
			SessionID: f.SessionID, From: from, To: to}
		for _, d := range f.Data {
			dec := json.NewDecoder(bytes.NewReader(d.Value))
			dec.UseNumber() // a number stays a json.Number, as filters take it
			var v any
			if err := dec.Decode(&v); err != nil {
				return j, fmt.Errorf("decode job filter: %w", err)
			}
			j.EventFilter.Data = append(j.EventFilter.Data, eye.DataFilter{Path: d.Path, Value: v})
		}
	} else {
		j.Filter = eye.ErrorFilter{ApplicationID: f.ApplicationID, Status: f.Status, Code: f.Code, Category: f.Category,
			Name: f.Name, SessionID: f.SessionID, From: from, To: to}
	}
	if cursor.Valid {
		var c jobCursor
		if err := json.Unmarshal([]byte(cursor.String), &c); err != nil {
			return j, fmt.Errorf("decode job cursor: %w", err)
		}
		j.Cursor = &eye.Position{Time: fromMicros(c.Time), Row: c.Row}
	}
	return j, nil
}

// Job returns the job with the id.
func (s *Store) Job(ctx context.Context, id string) (eye.Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return j, eye.Errorf(eye.ENOTFOUND, "No job has the id %q.", id)
	} else if err != nil {
		return j, storeError("get job", err)
	}
	return j, nil
}

// RunningJobs returns the jobs still running, oldest first.
func (s *Store) RunningJobs(ctx context.Context) ([]eye.Job, error) {
	rows, err := s.db.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE status = $1 ORDER BY created_at`, eye.JobRunning)
	if err != nil {
		return nil, storeError("list jobs", err)
	}
	defer rows.Close()
	var out []eye.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, storeError("scan job", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list jobs", err)
	}
	return out, nil
}
