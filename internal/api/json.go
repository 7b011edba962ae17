package api

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
)

// eventJSON is an event as the API shows it.
type eventJSON struct {
	ID            string          `json:"id"`
	EventID       *string         `json:"event_id"`
	SessionID     string          `json:"session_id"`
	ApplicationID string          `json:"application_id"`
	Category      string          `json:"category"`
	Name          string          `json:"name"`
	Data          json.RawMessage `json:"data"`
	Timestamp     string          `json:"timestamp"`
	SentAt        *string         `json:"sent_at"`
	ReceivedAt    string          `json:"received_at"`
	ClockOffsetUS *int64          `json:"clock_offset_us"`
	SchemaVersion *int            `json:"schema_version"`
}

func eventToJSON(ev eye.Event) eventJSON {
	out := eventJSON{
		ID:            ev.ID,
		EventID:       optional(ev.EventID),
		SessionID:     ev.SessionID,
		ApplicationID: ev.ApplicationID,
		Category:      ev.Category,
		Name:          ev.Name,
		Data:          ev.Data,
		Timestamp:     eye.FormatTime(ev.Timestamp),
		SentAt:        optionalTime(ev.SentAt),
		ReceivedAt:    eye.FormatTime(ev.ReceivedAt),
	}
	if !ev.SentAt.IsZero() {
		us := ev.ClockOffset.Microseconds()
		out.ClockOffsetUS = &us
	}
	if ev.SchemaVersion > 0 {
		v := ev.SchemaVersion
		out.SchemaVersion = &v
	}
	return out
}

// sessionJSON is a session as the API shows it.
type sessionJSON struct {
	ID             string   `json:"id"`
	CreatedAt      string   `json:"created_at"`
	FirstSeen      *string  `json:"first_seen"`
	LastSeen       *string  `json:"last_seen"`
	EventCount     int64    `json:"event_count"`
	ApplicationIDs []string `json:"application_ids"`
}

func sessionToJSON(ss eye.Session) sessionJSON {
	apps := ss.ApplicationIDs
	if apps == nil {
		apps = []string{}
	}
	return sessionJSON{
		ID:             ss.ID,
		CreatedAt:      eye.FormatTime(ss.CreatedAt),
		FirstSeen:      optionalTime(ss.FirstSeen),
		LastSeen:       optionalTime(ss.LastSeen),
		EventCount:     ss.EventCount,
		ApplicationIDs: apps,
	}
}

// errorJSON is an error record as the API shows it. The payload is the
// JSON value received, byte for byte, when it is JSON; otherwise a string
// of the text received ("payload_encoding": "text"), or of its base64 when
// it is not UTF-8 ("base64").
type errorJSON struct {
	ID              string          `json:"id"`
	ReceivedAt      string          `json:"received_at"`
	EventID         *string         `json:"event_id"`
	ApplicationID   string          `json:"application_id"`
	Category        *string         `json:"category"`
	Name            *string         `json:"name"`
	SessionID       *string         `json:"session_id"`
	Reasons         []reasonJSON    `json:"reasons"`
	Message         string          `json:"message"`
	Payload         json.RawMessage `json:"payload"`
	PayloadEncoding string          `json:"payload_encoding"`
	Status          string          `json:"status"`
	ReplayedAs      *string         `json:"replayed_as"` // the id of the event it became
}

type reasonJSON struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
	Keyword string `json:"keyword,omitempty"` // the JSON Schema keyword of a schema_violation
}

func reasonsJSON(rs []eye.Reason) []reasonJSON {
	out := make([]reasonJSON, len(rs))
	for i, r := range rs {
		out[i] = reasonJSON(r)
	}
	return out
}

func errorToJSON(rec eye.ErrorRecord) errorJSON {
	out := errorJSON{
		ID:            rec.ID,
		ReceivedAt:    eye.FormatTime(rec.ReceivedAt),
		EventID:       optional(rec.EventID),
		ApplicationID: rec.ApplicationID,
		Category:      optional(rec.Category),
		Name:          optional(rec.Name),
		SessionID:     optional(rec.SessionID),
		Reasons:       reasonsJSON(rec.Reasons),
		Message:       rec.Message(),
		Status:        rec.Status,
	}
	if rec.Status == eye.StatusReplayed {
		out.ReplayedAs = &rec.ID
	}
	switch {
	case len(rec.Payload) > 0 && json.Valid(rec.Payload):
		out.Payload, out.PayloadEncoding = rec.Payload, "json"
	case utf8.Valid(rec.Payload):
		out.Payload, _ = json.Marshal(string(rec.Payload))
		out.PayloadEncoding = "text"
	default:
		out.Payload, _ = json.Marshal(base64.StdEncoding.EncodeToString(rec.Payload))
		out.PayloadEncoding = "base64"
	}
	return out
}

// listJSON is the envelope of every list: a page and the URL of the next
// one (null on the last page).
type listJSON[T any] struct {
	Results []T     `json:"results"`
	Next    *string `json:"next"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := eye.FormatTime(t)
	return &s
}

// appendEvent appends an event's JSON: the same bytes encoding/json writes
// for eventJSON (with HTML escaping off), without reflection, for lists of
// events, the largest answers. data is appended as stored: compact, valid
// JSON.
func appendEvent(b []byte, ev eye.Event) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, ev.ID)
	b = append(b, `,"event_id":`...)
	b = appendOptional(b, ev.EventID)
	b = append(b, `,"session_id":`...)
	b = appendString(b, ev.SessionID)
	b = append(b, `,"application_id":`...)
	b = appendString(b, ev.ApplicationID)
	b = append(b, `,"category":`...)
	b = appendString(b, ev.Category)
	b = append(b, `,"name":`...)
	b = appendString(b, ev.Name)
	b = append(b, `,"data":`...)
	b = append(b, ev.Data...)
	b = append(b, `,"timestamp":"`...)
	b = eye.AppendTime(b, ev.Timestamp)
	b = append(b, `","sent_at":`...)
	if ev.SentAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = eye.AppendTime(b, ev.SentAt)
		b = append(b, '"')
	}
	b = append(b, `,"received_at":"`...)
	b = eye.AppendTime(b, ev.ReceivedAt)
	b = append(b, `","clock_offset_us":`...)
	if ev.SentAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, ev.ClockOffset.Microseconds(), 10)
	}
	b = append(b, `,"schema_version":`...)
	if ev.SchemaVersion > 0 {
		b = strconv.AppendInt(b, int64(ev.SchemaVersion), 10)
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

func appendOptional(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as a JSON string, escaped as encoding/json does
// with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
