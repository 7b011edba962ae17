package eye

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the members of an event, in characters, and of data's depth.
const (
	MaxCategoryLen = 50
	MaxNameLen     = 150
	MaxEventIDLen  = 200
	MaxDataDepth   = 32 // objects and arrays nested in data, data itself included

	// MaxEventBytes bounds an event's JSON, alone or in a batch.
	MaxEventBytes = 32 << 10
)

// Rules are the rules every event must follow: the generic ones, then
// the JSON Schema of its type.
type Rules struct {
	// FutureTolerance is how much later than its arrival (after the
	// client's clock offset is applied) an event's timestamp may be.
	FutureTolerance time.Duration
	// Schemas checks data against its type's schema; nil checks nothing.
	Schemas SchemaChecker
	// RejectUnknownTypes refuses events of a type without a schema.
	RejectUnknownTypes bool
}

// ParseEvent reads the event an application sent in m and checks it. It
// returns the event, filled as far as it could be read, and every reason it
// is invalid; the event may be stored only when there is none.
//
// Members other than those of an event are ignored.
func (r Rules) ParseEvent(m Message) (Event, []Reason) {
	ev := Event{ID: m.ID, ApplicationID: m.ApplicationID, ReceivedAt: m.ReceivedAt}
	fields, err := DecodeObject(m.Payload)
	if err != nil {
		return ev, []Reason{{Code: CodeMalformedJSON, Message: err.Error()}}
	}
	var rs []Reason
	if len(m.Payload) > MaxEventBytes {
		rs = append(rs, Reason{Code: CodeTooLarge, Message: fmt.Sprintf("the event is %d bytes of JSON, more than %d", len(m.Payload), MaxEventBytes)})
	}
	if raw, ok := present(fields, "event_id"); ok {
		s, reason := readString(raw, "event_id", MaxEventIDLen)
		if reason != nil {
			rs = append(rs, *reason)
		}
		ev.EventID = s
	}
	if raw, ok := present(fields, "sent_at"); ok {
		t, reason := readTime(raw, "sent_at")
		if reason != nil {
			rs = append(rs, *reason)
		} else {
			ev.SentAt = t
			ev.ClockOffset = ev.ReceivedAt.Sub(t)
		}
	}
	return ev, append(rs, r.readMutable(fields, &ev)...)
}

// Correct applies a correction of an event's mutable members (session_id,
// category, name, data, timestamp), given as a whole JSON object of them, to
// cur, and checks the result with the same rules as an arriving event. The
// timestamp is judged against the event's original arrival.
func (r Rules) Correct(cur Event, fields map[string]json.RawMessage) (Event, []Reason) {
	var rs []Reason
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		switch k {
		case "session_id", "session", "category", "name", "data", "timestamp":
		case "id", "event_id", "application_id", "sent_at", "received_at", "clock_offset_us":
			rs = append(rs, Reason{Code: CodeReadOnly, Field: k, Message: k + " cannot be changed"})
		default:
			rs = append(rs, Reason{Code: CodeUnknownField, Field: k, Message: k + " is not a member of an event"})
		}
	}
	ev := cur
	return ev, append(rs, r.readMutable(fields, &ev)...)
}

// readMutable reads and checks the members a correction may change.
func (r Rules) readMutable(fields map[string]json.RawMessage, ev *Event) []Reason {
	var rs []Reason
	add := func(reason *Reason) {
		if reason != nil {
			rs = append(rs, *reason)
		}
	}

	id, reason := readSessionID(fields)
	ev.SessionID = id
	add(reason)
	sessionReasons := len(rs)

	ev.Category, reason = readRequiredString(fields, "category", MaxCategoryLen)
	add(reason)
	ev.Name, reason = readRequiredString(fields, "name", MaxNameLen)
	add(reason)

	ev.Data = nil
	if raw, ok := present(fields, "data"); !ok {
		add(&Reason{Code: CodeMissingField, Field: "data", Message: "data is missing"})
	} else if raw[0] != '{' {
		add(&Reason{Code: CodeDataNotObject, Field: "data", Message: "data must be a JSON object, not " + jsonType(raw)})
	} else if data, err := compact(raw); err != nil {
		add(&Reason{Code: CodeDataNotObject, Field: "data", Message: "data is not valid JSON"})
	} else if len(data) == 2 {
		add(&Reason{Code: CodeEmptyData, Field: "data", Message: "data is an empty object"})
	} else if d := depth(data); d > MaxDataDepth {
		add(&Reason{Code: CodeTooDeep, Field: "data", Message: fmt.Sprintf("data nests %d levels deep, more than %d", d, MaxDataDepth)})
	} else {
		ev.Data = data
	}

	// The schema is checked when its type and data could be read, so that
	// one error record holds every reason.
	if len(rs) == sessionReasons {
		rs = append(rs, r.checkSchema(ev)...)
	}

	ev.Timestamp = time.Time{}
	if raw, ok := present(fields, "timestamp"); !ok {
		add(&Reason{Code: CodeMissingField, Field: "timestamp", Message: "timestamp is missing"})
	} else if t, reason := readTime(raw, "timestamp"); reason != nil {
		add(reason)
	} else {
		ev.Timestamp = t
		limit := ev.ReceivedAt.Add(r.FutureTolerance)
		if adjusted := t.Add(ev.ClockOffset); adjusted.After(limit) {
			msg := fmt.Sprintf("timestamp %s is in the future: later than received_at %s plus the tolerance of %s",
				FormatTime(t), FormatTime(ev.ReceivedAt), r.FutureTolerance)
			if ev.ClockOffset != 0 {
				msg += fmt.Sprintf(", after correcting the client's clock offset of %s", ev.ClockOffset)
			}
			add(&Reason{Code: CodeFutureTimestamp, Field: "timestamp", Message: msg})
		}
	}
	return rs
}

// checkSchema checks data against its type's schema, and notes the
// version it passed.
func (r Rules) checkSchema(ev *Event) []Reason {
	ev.SchemaVersion = 0
	if r.Schemas == nil {
		return nil
	}
	version, reasons := r.Schemas.Check(ev.Category, ev.Name, ev.Data)
	if version == 0 && r.RejectUnknownTypes {
		return []Reason{{Code: CodeUnknownEventType, Field: "name",
			Message: fmt.Sprintf("the event type (%q, %q) has no schema, and unknown types are rejected", ev.Category, ev.Name)}}
	}
	if len(reasons) == 0 {
		ev.SchemaVersion = version
	}
	return reasons
}

// depth returns how deeply objects and arrays nest in valid JSON.
func depth(b []byte) int {
	d, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = skipString(b, i) - 1
		case '{', '[':
			d++
			deepest = max(deepest, d)
		case '}', ']':
			d--
		}
	}
	return deepest
}

// compact returns valid JSON without insignificant white space: raw
// itself when it has none (the usual case: no copy), a compacted copy
// otherwise.
func compact(raw []byte) ([]byte, error) {
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return raw, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readSessionID reads the session id from "session_id", or from
// "session": {"id": …} as the reference implementation's clients send it.
func readSessionID(fields map[string]json.RawMessage) (string, *Reason) {
	raw, okFlat := present(fields, "session_id")
	nested, okNested := present(fields, "session")
	if okNested {
		if nested[0] != '{' {
			return "", &Reason{Code: CodeInvalidSessionID, Field: "session", Message: `session must be an object {"id": "<uuid>"}, not ` + jsonType(nested)}
		}
		inner, err := DecodeObject(nested)
		if err != nil {
			return "", &Reason{Code: CodeInvalidSessionID, Field: "session", Message: "session is not valid JSON"}
		}
		id, ok := present(inner, "id")
		if !ok {
			return "", &Reason{Code: CodeMissingField, Field: "session", Message: "session.id is missing"}
		}
		if okFlat && !bytes.Equal(bytes.TrimSpace(raw), bytes.TrimSpace(id)) {
			return "", &Reason{Code: CodeInvalidSessionID, Field: "session", Message: "session_id and session.id differ"}
		}
		raw, okFlat = id, true
	}
	if !okFlat {
		return "", &Reason{Code: CodeMissingField, Field: "session_id", Message: "session_id is missing"}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &Reason{Code: CodeInvalidSessionID, Field: "session_id", Message: "session_id must be a UUID string, not " + jsonType(raw)}
	}
	id, ok := ParseUUID(s)
	if !ok {
		return clip(s), &Reason{Code: CodeInvalidSessionID, Field: "session_id", Message: fmt.Sprintf("session_id %q is not a UUID", clip(s))}
	}
	return id, nil
}

// readRequiredString reads a member that must be a non-blank string of at
// most max characters. It returns what it could read even when invalid.
func readRequiredString(fields map[string]json.RawMessage, field string, max int) (string, *Reason) {
	raw, ok := present(fields, field)
	if !ok {
		return "", &Reason{Code: CodeMissingField, Field: field, Message: field + " is missing"}
	}
	s, reason := readString(raw, field, max)
	if reason == nil && strings.TrimSpace(s) == "" {
		return s, &Reason{Code: CodeMissingField, Field: field, Message: field + " is empty"}
	}
	return s, reason
}

// readString reads a JSON string of at most max characters.
func readString(raw json.RawMessage, field string, max int) (string, *Reason) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &Reason{Code: CodeInvalidType, Field: field, Message: field + " must be a string, not " + jsonType(raw)}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return clip(s), &Reason{Code: CodeTooLong, Field: field, Message: fmt.Sprintf("%s is %d characters long, more than %d", field, n, max)}
	}
	return s, nil
}

func readTime(raw json.RawMessage, field string) (time.Time, *Reason) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, &Reason{Code: CodeInvalidTimestamp, Field: field, Message: field + " must be a string, not " + jsonType(raw)}
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, &Reason{Code: CodeInvalidTimestamp, Field: field, Message: fmt.Sprintf("%s %q is %v", field, clip(s), err)}
	}
	return t, nil
}

// present returns a member's value unless it is absent or null.
func present(fields map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	raw, ok := fields[key]
	raw = bytes.TrimSpace(raw)
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// jsonType names the JSON type of a valid JSON value.
func jsonType(raw []byte) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// clip shortens what an application sent before it is echoed in a message
// or kept in an error record's columns (the payload keeps it whole).
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
