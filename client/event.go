package client

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the API on an event's members.
const (
	maxCategoryLen = 50       // characters
	maxNameLen     = 150      // characters
	maxEventIDLen  = 200      // characters
	maxEventBytes  = 32 << 10 // one event's JSON, sent_at included
)

// An Event is something that happened in a session of an application: a
// page viewed, a button clicked, a form submitted. Its JSON form is the
// API's.
type Event struct {
	// SessionID is the session's UUID, made by the application (see
	// NewSessionID) or minted by the API (see Client.CreateSession).
	SessionID string `json:"session_id"`

	// Category and Name identify the event's type, such as "page
	// interaction" and "pageview": at most 50 and 150 characters.
	Category string `json:"category"`
	Name     string `json:"name"`

	// Data is the event's payload: it must not be empty, and it must
	// encode as JSON.
	Data map[string]any `json:"data"`

	// Timestamp is when the event happened. A zero Timestamp is the time
	// Track is called.
	Timestamp time.Time `json:"timestamp"`

	// EventID is the application's own key for the event, at most 200
	// characters: the API stores the events of one application with one
	// EventID once. When it is empty, Track sets a random one.
	EventID string `json:"event_id,omitempty"`
}

// Pageview returns a pageview event of the session: a page at path on host
// was viewed. Its Timestamp is zero, so Track dates it.
func Pageview(session, host, path string) Event {
	return Event{SessionID: session, Category: "page interaction", Name: "pageview",
		Data: map[string]any{"host": host, "path": path}}
}

// CTAClick returns a "cta click" event of the session: the call to action
// element (such as "chat bubble") of the page at path on host was clicked.
func CTAClick(session, host, path, element string) Event {
	return Event{SessionID: session, Category: "page interaction", Name: "cta click",
		Data: map[string]any{"host": host, "path": path, "element": element}}
}

// FormSubmit returns a form submit event of the session: a form of the page
// at path on host was submitted with the given fields, such as
// {"first_name": "John", "last_name": "Doe"}.
func FormSubmit(session, host, path string, form map[string]any) Event {
	return Event{SessionID: session, Category: "form interaction", Name: "submit",
		Data: map[string]any{"host": host, "path": path, "form": form}}
}

// NewSessionID returns a new random session id: a version 4 UUID, such as
// "e2085be5-9137-4e4e-80b5-f1ffddc25423".
func NewSessionID() string {
	return newUUID()
}

// newUUID returns a random version 4 UUID (RFC 9562).
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// isUUID reports whether s is a UUID in its text form
// (8-4-4-4-12 hexadecimal digits).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// An item is an event in the buffer: its JSON, without sent_at (added at
// each attempt). The buffer holds only that, not the caller's Data.
type item struct {
	json []byte
}

// event decodes the item's event, to report it; the numbers of its Data
// are json.Numbers, so that it encodes again as it was sent.
func (it item) event() Event {
	var ev Event
	d := json.NewDecoder(bytes.NewReader(it.json))
	d.UseNumber()
	d.Decode(&ev) // it was encoded from an Event
	return ev
}

// newItem completes an event (its timestamp and event_id) and encodes it,
// or says why the API would refuse it.
func newItem(ev Event, now time.Time) (item, error) {
	if ev.Timestamp.IsZero() {
		ev.Timestamp = now
	}
	ev.Timestamp = ev.Timestamp.UTC()
	if ev.EventID == "" {
		ev.EventID = newUUID()
	}
	if err := check(ev); err != nil {
		return item{}, err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return item{}, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	if len(b)+len(sentAtMember) > maxEventBytes {
		return item{}, fmt.Errorf("%w: it encodes to %d bytes, more than %d", ErrInvalidEvent, len(b), maxEventBytes)
	}
	return item{json: b}, nil
}

// check applies the API's rules that need no knowledge of the server:
// every member present, the session id a UUID, the lengths.
func check(ev Event) error {
	switch {
	case !isUUID(ev.SessionID):
		return fmt.Errorf("%w: session id %q is not a UUID", ErrInvalidEvent, ev.SessionID)
	case strings.TrimSpace(ev.Category) == "":
		return fmt.Errorf("%w: category is blank", ErrInvalidEvent)
	case utf8.RuneCountInString(ev.Category) > maxCategoryLen:
		return fmt.Errorf("%w: category is longer than %d characters", ErrInvalidEvent, maxCategoryLen)
	case strings.TrimSpace(ev.Name) == "":
		return fmt.Errorf("%w: name is blank", ErrInvalidEvent)
	case utf8.RuneCountInString(ev.Name) > maxNameLen:
		return fmt.Errorf("%w: name is longer than %d characters", ErrInvalidEvent, maxNameLen)
	case len(ev.Data) == 0:
		return fmt.Errorf("%w: data is empty", ErrInvalidEvent)
	case strings.TrimSpace(ev.EventID) == "":
		return fmt.Errorf("%w: event id is blank", ErrInvalidEvent)
	case utf8.RuneCountInString(ev.EventID) > maxEventIDLen:
		return fmt.Errorf("%w: event id is longer than %d characters", ErrInvalidEvent, maxEventIDLen)
	}
	return nil
}

// timeLayout is the form of sent_at: RFC 3339 in UTC, to the microsecond.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// sentAtMember is what sent_at adds to an event's JSON.
const sentAtMember = `,"sent_at":"` + timeLayout + `"`

// batchSize returns the size of the batch body of items.
func batchSize(items []item) int {
	n := 1 // [ and ], less the comma the first event does not have
	for _, it := range items {
		n += len(it.json) + len(sentAtMember) + 1 // and a comma
	}
	return n
}

// batchBody returns the JSON array of items, each with sent_at set: the
// API corrects the timestamps of a device whose clock is off with it.
func batchBody(items []item, sentAt time.Time) []byte {
	stamp := sentAt.UTC().Format(timeLayout)
	b := make([]byte, 0, batchSize(items))
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.json[:len(it.json)-1]...) // without its closing brace
		b = append(b, `,"sent_at":"`...)
		b = append(b, stamp...)
		b = append(b, `"}`...)
	}
	return append(b, ']')
}
