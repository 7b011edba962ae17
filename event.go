package eye

import (
	"encoding/json"
	"strings"
	"time"
)

// DefaultApplicationID is the application of events sent with a key that
// belongs to no application (the admin key).
const DefaultApplicationID = "default"

// Event is a stored, valid event: something a user did in an application.
type Event struct {
	ID            string // server-assigned UUID
	EventID       string // the application's own idempotency key, "" when none
	ApplicationID string
	SessionID     string
	Category      string
	Name          string
	Data          json.RawMessage // a non-empty JSON object, numbers exactly as sent
	Timestamp     time.Time       // when it happened, by the application's clock
	SentAt        time.Time       // when the application sent it; zero when not told
	ReceivedAt    time.Time       // when The Eye received it
	ClockOffset   time.Duration   // ReceivedAt − SentAt; zero when SentAt is zero
	Seq           uint64          // arrival sequence: the queue's sequence number
	SchemaVersion int             // the version of its type's schema it passed; 0 when none
}

// Session is a run of events that applications tie together with one id.
type Session struct {
	ID             string
	CreatedAt      time.Time // when The Eye first recorded it
	FirstSeen      time.Time // timestamp of its earliest event; zero when it has none
	LastSeen       time.Time // timestamp of its latest event; zero when it has none
	EventCount     int64
	ApplicationIDs []string // applications that sent its events, sorted
}

// ErrorRecord is something that reached The Eye but could not be stored as
// an event, kept whole with every reason so that it can be inspected.
type ErrorRecord struct {
	ID            string // the id the application was given in the reply
	ReceivedAt    time.Time
	EventID       string // these five are filled when they could be read
	ApplicationID string
	Category      string
	Name          string
	SessionID     string
	Reasons       []Reason
	Payload       []byte // exactly the bytes received
	Seq           uint64
	Status        string // StatusOpen, StatusReplayed or StatusDiscarded
}

// Message returns the reasons joined into one line.
func (e ErrorRecord) Message() string {
	parts := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		parts[i] = r.Message
	}
	return strings.Join(parts, "; ")
}

// Reason is one way in which an event is invalid.
type Reason struct {
	Code    string // one of the Code… constants
	Field   string // the top-level member concerned, "" for the whole body; for a schema violation, the JSON Pointer in data
	Message string // for people
	Keyword string // for a schema violation: the JSON Schema keyword that failed
}

// Validation codes, as stored in error records and returned in 422 answers.
const (
	CodeMalformedJSON    = "malformed_json"     // the body is not a JSON object
	CodeMissingField     = "missing_field"      // a required member is absent, null or empty
	CodeInvalidSessionID = "invalid_session_id" // the session id is not a UUID
	CodeInvalidType      = "invalid_type"       // a member has the wrong JSON type
	CodeTooLong          = "too_long"           // a string is over its length limit
	CodeDataNotObject    = "data_not_object"    // data is not a JSON object
	CodeEmptyData        = "empty_data"         // data is {}
	CodeTooDeep          = "too_deep"           // data nests deeper than MaxDataDepth
	CodeTooLarge         = "too_large"          // the event's JSON is over MaxEventBytes
	CodeInvalidTimestamp = "invalid_timestamp"  // a time cannot be parsed
	CodeFutureTimestamp  = "future_timestamp"   // the timestamp is later than received_at allows
	CodeReadOnly         = "read_only"          // a correction names a member that cannot change
	CodeUnknownField     = "unknown_field"      // a body names a member it may not have
	CodeInvalidValue     = "invalid_value"      // a member's value is not one of those allowed
	CodeStoreRejected    = "store_rejected"     // the store refused the event on its own
	CodeUndecodable      = "undecodable"        // a queued message that cannot be decoded (poison)
	CodeSchemaViolation  = "schema_violation"   // data breaks its type's JSON Schema
	CodeUnknownEventType = "unknown_event_type" // the type has no schema and unknown types are rejected
)

// Batch is what a worker writes to the store in one transaction.
type Batch struct {
	Events   []Event
	Errors   []ErrorRecord
	Sessions []Session // sessions minted by POST /sessions/
}

// Len returns the number of records in the batch.
func (b Batch) Len() int { return len(b.Events) + len(b.Errors) + len(b.Sessions) }

// WriteResult counts what a Write really inserted.
type WriteResult struct {
	Events       int      // events inserted
	Duplicates   int      // events and error records already stored (same id)
	Errors       int      // error records inserted
	Sessions     int      // minted sessions inserted
	DuplicateIDs []string // the ids of the duplicates
}

// NewErrorRecord makes the error record of a message that could not be
// stored as an event, from what could be read of it.
func NewErrorRecord(m Message, ev Event, reasons []Reason) ErrorRecord {
	return ErrorRecord{
		ID:            m.ID,
		ReceivedAt:    m.ReceivedAt,
		EventID:       clip(ev.EventID),
		ApplicationID: m.ApplicationID,
		Category:      clip(ev.Category),
		Name:          clip(ev.Name),
		SessionID:     clip(ev.SessionID),
		Reasons:       reasons,
		Payload:       m.Payload,
		Seq:           m.Seq,
		Status:        StatusOpen,
	}
}
