package eye

import (
	"encoding/json"
	"time"
)

// Schema is one version of the JSON Schema of an event type's data.
type Schema struct {
	Category  string
	Name      string
	Version   int // 1, 2, …
	Body      json.RawMessage
	CreatedAt time.Time
	Active    bool // false once the type's schema is deleted (only the latest version can be active)
}

// EventType is a (category, name) pair: what applications send, against
// what the tracking plan says.
type EventType struct {
	Category      string
	Name          string
	Events        int64     // stored events of the type
	Errors        int64     // error records of the type, whatever their status
	FirstSeen     time.Time // the first arrival of one of its events or error records
	LastSeen      time.Time // the last arrival
	SchemaVersion int       // the active schema's version; 0 when the type has none
}

// SchemaChecker checks an event's data against the active schema of its
// type. It returns the version of that schema (0 when the type has none)
// and one reason per violation.
type SchemaChecker interface {
	Check(category, name string, data json.RawMessage) (version int, reasons []Reason)
}

// Statuses of error records.
const (
	StatusOpen      = "open"      // as it arrived, or still invalid after a replay
	StatusReplayed  = "replayed"  // stored as an event since
	StatusDiscarded = "discarded" // put aside on purpose
)

// Job is a background task: a bulk replay of error records (kind
// "replay") or a bulk deletion of events (kind "delete").
type Job struct {
	ID           string
	Kind         string      // JobReplay or JobDelete
	Filter       ErrorFilter // the error records a replay replays
	EventFilter  EventFilter // the events a deletion deletes
	Status       string      // running, done, failed
	Replayed     int64
	StillInvalid int64
	Matched      int64     // events matching when a deletion started
	Deleted      int64     // events a deletion deleted so far
	Error        string    // why it failed
	Cursor       *Position // where it is in the list of errors to replay
	Actor        string    // who started it, as the audit log names them
	ActorName    string
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// Owner is the process running a running job, and LeaseUntil when its
	// claim lapses unless renewed (zero: claimable now). Only the owner
	// updates a job; another process takes it over once the lease lapses.
	Owner      string
	LeaseUntil time.Time
}

// Job kinds.
const (
	JobReplay = "replay"
	JobDelete = "delete"
)

// Job statuses.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)
