package eye

import (
	"encoding/json"
	"time"
)

// Notice tells live-tail listeners what a worker has just recorded: an
// event stored, or an error record made. Workers publish notices after
// each commit; API processes stream them to clients. Its JSON is the wire
// form between processes and the form clients receive.
type Notice struct {
	Outcome       string          `json:"outcome"` // "stored" or "rejected"
	ID            string          `json:"id"`
	ApplicationID string          `json:"application_id"`
	SessionID     string          `json:"session_id,omitempty"`
	Category      string          `json:"category,omitempty"`
	Name          string          `json:"name,omitempty"`
	Timestamp     string          `json:"timestamp,omitempty"` // events only
	ReceivedAt    string          `json:"received_at"`
	Codes         []string        `json:"codes,omitempty"`   // rejected only
	Message       string          `json:"message,omitempty"` // rejected only
	Data          json.RawMessage `json:"data,omitempty"`    // events with data up to 4 KiB
}

// Notice outcomes.
const (
	OutcomeStored   = "stored"
	OutcomeRejected = "rejected"
)

// maxNoticeData bounds the data a notice carries.
const maxNoticeData = 4 << 10

// StoredNotice is the notice of a stored event.
func StoredNotice(ev Event) Notice {
	n := Notice{Outcome: OutcomeStored, ID: ev.ID, ApplicationID: ev.ApplicationID, SessionID: ev.SessionID,
		Category: ev.Category, Name: ev.Name, Timestamp: FormatTime(ev.Timestamp), ReceivedAt: FormatTime(ev.ReceivedAt)}
	if len(ev.Data) <= maxNoticeData {
		n.Data = ev.Data
	}
	return n
}

// RejectedNotice is the notice of an error record.
func RejectedNotice(rec ErrorRecord) Notice {
	n := Notice{Outcome: OutcomeRejected, ID: rec.ID, ApplicationID: rec.ApplicationID, SessionID: rec.SessionID,
		Category: rec.Category, Name: rec.Name, ReceivedAt: FormatTime(rec.ReceivedAt), Message: rec.Message()}
	for _, r := range rec.Reasons {
		n.Codes = append(n.Codes, r.Code)
	}
	return n
}

// QueueState is what the queue holds and how its workers are doing.
type QueueState struct {
	Messages   uint64    // queue messages not yet processed (each may hold many events)
	Bytes      uint64    // their size
	MaxBytes   int64     // the size at which the queue refuses new messages (0: no limit)
	Oldest     time.Time // when the oldest unprocessed message arrived; zero when empty
	InProgress int       // messages workers hold, not yet acknowledged
	Waiting    int       // workers waiting for messages
}

// Intervals of statistics buckets.
const (
	IntervalMinute = "minute"
	IntervalHour   = "hour"
	IntervalDay    = "day"
)

// StatsFilter selects the counts of Stats. Empty fields select everything.
type StatsFilter struct {
	From, To      time.Time // [From, To), each a start of an interval (UTC)
	Interval      string    // minute, hour or day
	Category      string
	Name          string
	ApplicationID string

	// Data selects events by members of their data. With it, the events
	// themselves are counted (the per-minute counts know nothing of data),
	// and no error record is: error records have no stored data.
	Data []DataFilter
}

// StatsBucket counts events (by their timestamp) and error records (by
// their arrival) in one interval.
type StatsBucket struct {
	Start  time.Time
	Events int64
	Errors int64
}
