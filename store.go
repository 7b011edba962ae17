package eye

import (
	"context"
	"time"
)

// Store keeps events, sessions, error records and keys. Every write is
// idempotent: writing a record whose id is stored already changes nothing.
type Store interface {
	// Write stores a batch in one transaction: all of it or none of it.
	// Session counters count only events really inserted.
	Write(ctx context.Context, b Batch) (WriteResult, error)

	// Event returns one event, or ENOTFOUND.
	Event(ctx context.Context, id string) (Event, error)
	// Events returns a page of events matching f.
	Events(ctx context.Context, f EventFilter) (Page[Event], error)
	// UpdateEvent reads an event, calls change with it, and stores the
	// members change names (session_id, category, name, data, timestamp)
	// from the event it returns, all in one transaction. An error from
	// change aborts the update and is returned as it is.
	UpdateEvent(ctx context.Context, id string, change func(Event) (Event, []string, error)) (Event, error)
	// DeleteEvent deletes an event, or returns ENOTFOUND.
	DeleteEvent(ctx context.Context, id string) error

	// Session returns one session, or ENOTFOUND.
	Session(ctx context.Context, id string) (Session, error)
	// Sessions returns a page of sessions, most recent activity first.
	Sessions(ctx context.Context, f SessionFilter) (Page[Session], error)

	// ErrorRecord returns one error record, or ENOTFOUND.
	ErrorRecord(ctx context.Context, id string) (ErrorRecord, error)
	// Errors returns a page of error records matching f, newest first.
	Errors(ctx context.Context, f ErrorFilter) (Page[ErrorRecord], error)
	// UpdateErrorReasons replaces an error record's reasons; ENOTFOUND.
	UpdateErrorReasons(ctx context.Context, id string, reasons []Reason) error
	// SetErrorStatus sets an error record's status; ENOTFOUND.
	SetErrorStatus(ctx context.Context, id, status string) error
	// DiscardErrors marks discarded the open error records among ids, in
	// one transaction, and returns how many it marked.
	DiscardErrors(ctx context.Context, ids []string) (int64, error)
	// ReplayError stores ev, made from the error record of the same id,
	// and marks the record replayed, in one transaction. It reports
	// whether the event was inserted (false: stored already).
	ReplayError(ctx context.Context, ev Event) (bool, error)

	// PutSchema stores a new version of an event type's schema and
	// returns it with its version.
	PutSchema(ctx context.Context, s Schema) (Schema, error)
	// Schema returns one version of a type's schema (0: the latest), or
	// ENOTFOUND.
	Schema(ctx context.Context, category, name string, version int) (Schema, error)
	// SchemaVersions returns every version of a type's schema, oldest
	// first, without bodies.
	SchemaVersions(ctx context.Context, category, name string) ([]Schema, error)
	// Schemas returns the latest schema of every type that has one.
	Schemas(ctx context.Context) ([]Schema, error)
	// ActiveSchemas returns the schemas events are checked against.
	ActiveSchemas(ctx context.Context) ([]Schema, error)
	// DeleteSchema stops checking a type (its versions are kept);
	// ENOTFOUND when it has no active schema.
	DeleteSchema(ctx context.Context, category, name string) error
	// EventTypes returns every event type seen or given a schema.
	EventTypes(ctx context.Context) ([]EventType, error)
	// Stats returns the buckets of f's range that count anything, in
	// order; the counts are kept per minute in the same transactions as
	// the events and error records. With f.Data, the matching events are
	// counted from the events themselves, and error records not at all.
	Stats(ctx context.Context, f StatsFilter) ([]StatsBucket, error)
	// Size returns the store's size on disk, in bytes.
	Size(ctx context.Context) (int64, error)

	// CountEvents returns how many events match f (its order and page
	// are ignored).
	CountEvents(ctx context.Context, f EventFilter) (int64, error)
	// DeleteEvents deletes the oldest limit events matching f (by
	// timestamp, then arrival; its order and page are ignored) in one
	// transaction that keeps every counter true, and returns how many it
	// deleted: fewer than limit once none is left.
	DeleteEvents(ctx context.Context, f EventFilter, limit int) (int64, error)
	// DeleteSession erases a session: the session, all its events and all
	// its error records, in one transaction that keeps every counter
	// true; ENOTFOUND.
	DeleteSession(ctx context.Context, id string) (DeleteResult, error)
	// DeleteErrorsBefore deletes the oldest limit error records received
	// before cutoff, keeping the counters true, and returns how many.
	DeleteErrorsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	// DeleteEmptySessions deletes up to limit sessions without events
	// created before before, and returns how many.
	DeleteEmptySessions(ctx context.Context, before time.Time, limit int) (int64, error)

	// RecordAudit stores an audit entry.
	RecordAudit(ctx context.Context, e AuditEntry) error
	// Audit returns a page of audit entries matching f, newest first.
	Audit(ctx context.Context, f AuditFilter) (Page[AuditEntry], error)
	// DeleteAuditBefore deletes the oldest limit audit entries made before
	// cutoff, and returns how many.
	DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)

	// CreateJob stores a new background job.
	CreateJob(ctx context.Context, j Job) error
	// Job returns a job, or ENOTFOUND.
	Job(ctx context.Context, id string) (Job, error)
	// UpdateJob stores a job's progress, status and lease (LeaseUntil),
	// when j.Owner still owns it: ECONFLICT when another process took it
	// over, ENOTFOUND when there is no such job.
	UpdateJob(ctx context.Context, j Job) error
	// ClaimJob makes owner the owner of a running job until the time until,
	// when it has no owner, owner owns it already, or its lease lapsed
	// before now; it reports whether it did. Of processes claiming one job
	// at once, one succeeds.
	ClaimJob(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
	// RunningJobs returns the jobs not yet done or failed.
	RunningJobs(ctx context.Context) ([]Job, error)

	// CreateApplication stores a new application; ECONFLICT when its name
	// is taken.
	CreateApplication(ctx context.Context, a Application) error
	// Application returns one application, or ENOTFOUND.
	Application(ctx context.Context, id string) (Application, error)
	// ApplicationByName returns the application with the name, or ENOTFOUND.
	ApplicationByName(ctx context.Context, name string) (Application, error)
	// Applications returns every application, oldest first.
	Applications(ctx context.Context) ([]Application, error)
	// UpdateApplication changes an application's name, active flag and allowed origins;
	// ENOTFOUND, or ECONFLICT when the new name is taken.
	UpdateApplication(ctx context.Context, a Application) error

	// Keys returns every API key that works: not revoked, not expired, and
	// of no application or of an active one.
	Keys(ctx context.Context) ([]Key, error)
	// ApplicationKeys returns the keys of an application, revoked ones
	// included, oldest first; never a user's login session.
	ApplicationKeys(ctx context.Context, applicationID string) ([]Key, error)
	// CreateKey stores a new API key.
	CreateKey(ctx context.Context, k Key) error
	// RevokeKey revokes a key of an application (any key when
	// applicationID is ""); ENOTFOUND when there is no such key.
	RevokeKey(ctx context.Context, applicationID, keyID string) error
	// RecordKeyUses sets the last use of each key named (by id) to the
	// time given, unless it has a later one, in one statement; ids of no
	// key are ignored.
	RecordKeyUses(ctx context.Context, uses map[string]time.Time) error

	// CreateUser stores a new admin user; ECONFLICT when the name is taken.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with the id, or ENOTFOUND.
	User(ctx context.Context, id string) (User, error)
	// UserByName returns the user with the name, or ENOTFOUND.
	UserByName(ctx context.Context, name string) (User, error)
	// Users returns every user, oldest first.
	Users(ctx context.Context) ([]User, error)
	// SetUserPassword replaces a user's password hash and revokes the
	// user's login sessions, in one transaction; ENOTFOUND.
	SetUserPassword(ctx context.Context, id string, hash []byte) error
	// DeleteUser deletes a user and revokes the user's login sessions, in
	// one transaction; ENOTFOUND.
	DeleteUser(ctx context.Context, id string) error

	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Page is one page of a list, with the position after its last item when
// there may be more.
type Page[T any] struct {
	Items []T
	Next  *Position
}

// Position is a place in a list: the full sort key of the row before it,
// so that the next page starts exactly after that row however deep it is.
// Time is the row's timestamp (events), received_at (error records) or
// activity time (sessions); Seq its arrival sequence (events); Row the
// store's own row number, which makes the key unique.
type Position struct {
	Time time.Time
	Seq  uint64
	Row  int64
}

// EventFilter selects events. Empty fields select everything.
type EventFilter struct {
	ApplicationID string
	SessionID     string
	Category      string
	Name          string
	From          time.Time // timestamp >= From, when not zero
	To            time.Time // timestamp <= To, when not zero
	Ascending     bool      // oldest first; newest first otherwise
	Limit         int
	After         *Position

	// Data selects events by members of their data: each must hold.
	Data []DataFilter
}

// DataFilter selects events whose data holds a value at a path.
type DataFilter struct {
	// Path is a list of object keys from data's top level: ["form",
	// "first_name"] is data.form.first_name. It has at least one key.
	Path []string
	// Value is the JSON value the member must equal: a string, a
	// json.Number (equal numbers match: 1.50 matches 1.5), a bool, or nil
	// for JSON null. A value of another JSON type never matches.
	Value any
}

// ErrorFilter selects error records. Empty fields select everything.
type ErrorFilter struct {
	ApplicationID string
	Status        string // open, replayed or discarded
	Code          string // a record matches when any of its reasons has this code
	Category      string
	Name          string
	SessionID     string
	From          time.Time // received_at >= From, when not zero
	To            time.Time // received_at <= To, when not zero
	Limit         int
	After         *Position
}

// SessionFilter selects sessions.
type SessionFilter struct {
	ApplicationID string // sessions with events of this application
	Limit         int
	After         *Position
}

// Key is an API key. Only the SHA-256 hash of its secret is stored.
type Key struct {
	ID            string
	Prefix        string // the first characters of the secret, to recognize it
	Hash          []byte // SHA-256 of the secret
	Scopes        []string
	ApplicationID string // "" for a key of no application (the admin key)
	Label         string
	UserID        string // the user whose login session this is; "" for an API key
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero while the key works
	// LastUsedAt is when the key last authenticated a request, as last
	// recorded (uses are kept in memory and recorded about every minute);
	// zero: never.
	LastUsedAt time.Time
}

// Expired reports whether the key has expired at now.
func (k Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}
