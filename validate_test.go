package eye_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

var received = time.Date(2021, 1, 1, 9, 15, 30, 0, time.UTC)

const session = "e2085be5-9137-4e4e-80b5-f1ffddc25423"

func parse(payload string) (eye.Event, []eye.Reason) {
	rules := eye.Rules{FutureTolerance: time.Minute}
	return rules.ParseEvent(eye.Message{Kind: eye.KindEvent, ID: "id", ApplicationID: "app", ReceivedAt: received, Payload: []byte(payload)})
}

func codes(rs []eye.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code+":"+r.Field)
	}
	return out
}

func TestParseEventEnvelopes(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    eye.Event
	}{
		{
			name: "flat session_id, reference timestamp",
			payload: `{"session_id": "E2085BE5-9137-4E4E-80B5-F1FFDDC25423", "category": "form interaction", "name": "submit",
				"data": {"host": "www.example.com", "path": "/", "form": {"first_name": "John", "last_name": "Doe"}},
				"timestamp": "2021-01-01 09:15:27.243860"}`,
			want: eye.Event{SessionID: session, Category: "form interaction", Name: "submit",
				Data:      json.RawMessage(`{"host":"www.example.com","path":"/","form":{"first_name":"John","last_name":"Doe"}}`),
				Timestamp: time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC)},
		},
		{
			name: "reference's nested session, RFC 3339 with offset, extra members ignored",
			payload: `{"session": {"id": "` + session + `"}, "category": "page interaction", "name": "cta click",
				"data": {"host": "www.example.com", "path": "/", "element": "chat bubble"},
				"timestamp": "2021-01-01T10:15:27.2438601+01:00", "extra": [1, 2]}`,
			want: eye.Event{SessionID: session, Category: "page interaction", Name: "cta click",
				Data:      json.RawMessage(`{"host":"www.example.com","path":"/","element":"chat bubble"}`),
				Timestamp: time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC)},
		},
		{
			name: "event_id, sent_at and a fast client clock",
			payload: `{"session_id": "` + session + `", "category": "c", "name": "n", "data": {"big": 123456789012345678901234567890},
				"timestamp": "2021-01-01T09:20:00Z", "sent_at": "2021-01-01T09:20:00.5Z", "event_id": "k-1"}`,
			want: eye.Event{SessionID: session, Category: "c", Name: "n", EventID: "k-1",
				Data:        json.RawMessage(`{"big":123456789012345678901234567890}`),
				Timestamp:   time.Date(2021, 1, 1, 9, 20, 0, 0, time.UTC),
				SentAt:      time.Date(2021, 1, 1, 9, 20, 0, 500000000, time.UTC),
				ClockOffset: received.Sub(time.Date(2021, 1, 1, 9, 20, 0, 500000000, time.UTC))},
		},
		{
			name:    "lower-case t and z, no fraction",
			payload: `{"session_id": "` + session + `", "category": "c", "name": "n", "data": {"a": 1}, "timestamp": "2021-01-01t09:15:27z"}`,
			want: eye.Event{SessionID: session, Category: "c", Name: "n", Data: json.RawMessage(`{"a":1}`),
				Timestamp: time.Date(2021, 1, 1, 9, 15, 27, 0, time.UTC)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := parse(tt.payload)
			if len(reasons) > 0 {
				t.Fatalf("reasons: %v", reasons)
			}
			tt.want.ID, tt.want.ApplicationID, tt.want.ReceivedAt = "id", "app", received
			if got.SessionID != tt.want.SessionID || got.Category != tt.want.Category || got.Name != tt.want.Name ||
				string(got.Data) != string(tt.want.Data) || !got.Timestamp.Equal(tt.want.Timestamp) ||
				!got.SentAt.Equal(tt.want.SentAt) || got.ClockOffset != tt.want.ClockOffset || got.EventID != tt.want.EventID ||
				got.ID != "id" || got.ApplicationID != "app" || !got.ReceivedAt.Equal(received) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseEventReasons(t *testing.T) {
	ok := map[string]string{
		"session_id": `"` + session + `"`,
		"category":   `"page interaction"`,
		"name":       `"pageview"`,
		"data":       `{"host": "www.example.com"}`,
		"timestamp":  `"2021-01-01 09:15:27"`,
	}
	// with returns the valid event with members replaced ("" removes one).
	with := func(kv ...string) string {
		m := map[string]string{}
		for k, v := range ok {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		var parts []string
		for k, v := range m {
			parts = append(parts, `"`+k+`": `+v)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	tests := []struct {
		name    string
		payload string
		want    []string
	}{
		{"valid", with(), nil},
		{"not JSON", `{"a": `, []string{"malformed_json:"}},
		{"not an object", `[1]`, []string{"malformed_json:"}},
		{"no session", with("session_id", ""), []string{"missing_field:session_id"}},
		{"null session", with("session_id", "null"), []string{"missing_field:session_id"}},
		{"session not UUID", with("session_id", `"abc"`), []string{"invalid_session_id:session_id"}},
		{"session number", with("session_id", `42`), []string{"invalid_session_id:session_id"}},
		{"nested session not object", with("session_id", "", "session", `"x"`), []string{"invalid_session_id:session"}},
		{"nested session without id", with("session_id", "", "session", `{}`), []string{"missing_field:session"}},
		{"nested session bad id", with("session_id", "", "session", `{"id": "nope"}`), []string{"invalid_session_id:session_id"}},
		{"both sessions differ", with("session", `{"id": "`+eye.NewID()+`"}`), []string{"invalid_session_id:session"}},
		{"both sessions agree", with("session", `{"id": "`+session+`"}`), nil},
		{"no category", with("category", ""), []string{"missing_field:category"}},
		{"blank category", with("category", `"  "`), []string{"missing_field:category"}},
		{"category number", with("category", `5`), []string{"invalid_type:category"}},
		{"category too long", with("category", `"`+strings.Repeat("é", 51)+`"`), []string{"too_long:category"}},
		{"category at limit", with("category", `"`+strings.Repeat("é", 50)+`"`), nil},
		{"no name", with("name", ""), []string{"missing_field:name"}},
		{"name object", with("name", `{}`), []string{"invalid_type:name"}},
		{"name too long", with("name", `"`+strings.Repeat("n", 151)+`"`), []string{"too_long:name"}},
		{"no data", with("data", ""), []string{"missing_field:data"}},
		{"data string", with("data", `"{}"`), []string{"data_not_object:data"}},
		{"data array", with("data", `[{"a": 1}]`), []string{"data_not_object:data"}},
		{"empty data", with("data", `{ }`), []string{"empty_data:data"}},
		{"data too deep", with("data", strings.Repeat(`{"a":`, 33)+"1"+strings.Repeat("}", 33)), []string{"too_deep:data"}},
		{"event over 32 KiB", with("data", `{"big": "`+strings.Repeat("x", 32<<10)+`"}`), []string{"too_large:"}},
		{"event just under 32 KiB", with("data", `{"big": "`+strings.Repeat("x", 32<<10-200)+`"}`), nil},
		{"data at the depth limit", with("data", strings.Repeat(`{"a":[`, 16)+`"]]}}"`+strings.Repeat("]}", 16)), nil},
		{"no timestamp", with("timestamp", ""), []string{"missing_field:timestamp"}},
		{"timestamp garbage", with("timestamp", `"yesterday"`), []string{"invalid_timestamp:timestamp"}},
		{"timestamp number", with("timestamp", `1609492527`), []string{"invalid_timestamp:timestamp"}},
		{"timestamp bad date", with("timestamp", `"2021-02-30 10:00:00"`), []string{"invalid_timestamp:timestamp"}},
		{"future", with("timestamp", `"2021-01-01T09:16:31Z"`), []string{"future_timestamp:timestamp"}},
		{"within tolerance", with("timestamp", `"2021-01-01T09:16:30Z"`), nil},
		{"future, fast clock forgiven", with("timestamp", `"2021-01-01T10:15:30Z"`, "sent_at", `"2021-01-01T10:15:30Z"`), nil},
		{"future, slow clock not forgiven", with("timestamp", `"2021-01-01T09:16:31Z"`, "sent_at", `"2021-01-01T09:15:30Z"`), []string{"future_timestamp:timestamp"}},
		{"bad sent_at", with("sent_at", `"soon"`), []string{"invalid_timestamp:sent_at"}},
		{"event_id number", with("event_id", `7`), []string{"invalid_type:event_id"}},
		{"event_id too long", with("event_id", `"`+strings.Repeat("k", 201)+`"`), []string{"too_long:event_id"}},
		{"everything wrong", `{"session_id": 1, "category": "", "name": [], "data": {}, "timestamp": "x"}`,
			[]string{"invalid_session_id:session_id", "missing_field:category", "invalid_type:name", "empty_data:data", "invalid_timestamp:timestamp"}},
		{"everything missing", `{}`,
			[]string{"missing_field:session_id", "missing_field:category", "missing_field:name", "missing_field:data", "missing_field:timestamp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reasons := parse(tt.payload)
			if got := codes(reasons); !slices.Equal(got, tt.want) {
				t.Errorf("reasons %v, want %v", got, tt.want)
			}
			for _, r := range reasons {
				if r.Message == "" {
					t.Errorf("reason %+v has no message", r)
				}
			}
		})
	}
}

func TestErrorRecordKeepsWhatItCould(t *testing.T) {
	payload := `{"session_id": "` + session + `", "category": "c", "name": "n", "event_id": "k", "data": {}, "timestamp": "2021-01-01 09:15:27"}`
	ev, reasons := parse(payload)
	m := eye.Message{ID: "id", ApplicationID: "app", ReceivedAt: received, Payload: []byte(payload), Seq: 9}
	rec := eye.NewErrorRecord(m, ev, reasons)
	if rec.SessionID != session || rec.Category != "c" || rec.Name != "n" || rec.EventID != "k" ||
		string(rec.Payload) != payload || rec.Seq != 9 || rec.Message() != "data is an empty object" {
		t.Errorf("error record %+v (message %q)", rec, rec.Message())
	}
}

func TestCorrect(t *testing.T) {
	cur, reasons := parse(`{"session_id": "` + session + `", "category": "c", "name": "n", "data": {"a": 1},
		"timestamp": "2021-01-01 09:15:27", "sent_at": "2021-01-01T09:15:28Z"}`)
	if len(reasons) > 0 {
		t.Fatal(reasons)
	}
	rules := eye.Rules{FutureTolerance: time.Minute}
	fields := func(s string) map[string]json.RawMessage {
		m, err := eye.DecodeObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	next, reasons := rules.Correct(cur, fields(`{"session_id": "`+session+`", "category": "c2", "name": "n2", "data": {"b": 2}, "timestamp": "2021-01-01T09:00:00Z"}`))
	if len(reasons) > 0 || next.Category != "c2" || string(next.Data) != `{"b":2}` || next.SentAt != cur.SentAt || next.ID != cur.ID {
		t.Errorf("Correct = %+v, %v", next, reasons)
	}
	_, reasons = rules.Correct(cur, fields(`{"id": "x", "received_at": "y", "color": "red", "category": "c"}`))
	want := []string{"unknown_field:color", "read_only:id", "read_only:received_at",
		"missing_field:session_id", "missing_field:name", "missing_field:data", "missing_field:timestamp"}
	if got := codes(reasons); !slices.Equal(got, want) {
		t.Errorf("reasons %v, want %v", got, want)
	}
	// The timestamp is judged against the event's own arrival.
	_, reasons = rules.Correct(cur, fields(`{"session_id": "`+session+`", "category": "c", "name": "n", "data": {"a": 1}, "timestamp": "2021-01-01T09:20:00Z"}`))
	if got := codes(reasons); !slices.Equal(got, []string{"future_timestamp:timestamp"}) {
		t.Errorf("reasons %v", got)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2021-01-01 09:15:27.243860", time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC), true},
		{"2021-01-01T09:15:27.243860", time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC), true},
		{"2021-01-01T09:15:27Z", time.Date(2021, 1, 1, 9, 15, 27, 0, time.UTC), true},
		{"2021-01-01T09:15:27.1+05:30", time.Date(2021, 1, 1, 3, 45, 27, 100000000, time.UTC), true},
		{"2021-01-01 09:15:27-08:00", time.Date(2021, 1, 1, 17, 15, 27, 0, time.UTC), true},
		{"2021-01-01T09:15:27.123456789Z", time.Date(2021, 1, 1, 9, 15, 27, 123456000, time.UTC), true},
		{"2021-01-01", time.Time{}, false},
		{"2021-01-01T09:15:27+0100", time.Time{}, false},
		{"09:15:27", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := eye.ParseTime(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err == nil && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) not in UTC", tt.in)
		}
	}
	if got := eye.FormatTime(time.Date(2021, 1, 1, 9, 15, 27, 0, time.FixedZone("x", 3600))); got != "2021-01-01T08:15:27.000000Z" {
		t.Errorf("FormatTime = %s", got)
	}
}

// TestAppendTime compares the hand-written formatting with time.Format's
// over the range of years and the edges of each field.
func TestAppendTime(t *testing.T) {
	const layout = "2006-01-02T15:04:05.000000Z07:00"
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2024, 2, 29, 12, 30, 45, 123456789, time.FixedZone("x", -5*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(rnd.Int64N(400*365*86400)-100*365*86400, rnd.Int64N(1e9)))
	}
	for _, tm := range times {
		want := tm.UTC().Format(layout)
		if got := string(eye.AppendTime([]byte("x"), tm)); got != "x"+want {
			t.Fatalf("AppendTime(%v) = %q, want %q", tm, got, "x"+want)
		}
		if got := eye.FormatTime(tm); got != want {
			t.Fatalf("FormatTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	a, b := eye.NewID(), eye.NewID()
	if a == b {
		t.Error("NewID repeats")
	}
	for _, id := range []string{a, eye.DerivedID("app", "k")} {
		if got, ok := eye.ParseUUID(id); !ok || got != id {
			t.Errorf("ParseUUID(%s) = %s, %v", id, got, ok)
		}
	}
	if a[14] != '7' {
		t.Errorf("NewID %s is not version 7", a)
	}
	once, again := eye.DerivedID("app", "k"), eye.DerivedID("app", "k")
	if once != again || once == eye.DerivedID("app2", "k") || eye.DerivedID("a", "pp\x00k") == once {
		t.Error("DerivedID is not a function of (application, event_id)")
	}
	for _, bad := range []string{"", "e2085be5-9137-4e4e-80b5-f1ffddc2542", "e2085be5x9137-4e4e-80b5-f1ffddc25423", "g2085be5-9137-4e4e-80b5-f1ffddc25423"} {
		if _, ok := eye.ParseUUID(bad); ok {
			t.Errorf("ParseUUID(%q) ok", bad)
		}
	}
}

// checker is a stand-in schema registry: types named "strict" have a
// schema (version 2) that refuses data without "ok".
type checker struct{}

func (checker) Check(category, name string, data json.RawMessage) (int, []eye.Reason) {
	if name != "strict" {
		return 0, nil
	}
	if !strings.Contains(string(data), `"ok"`) {
		return 2, []eye.Reason{{Code: eye.CodeSchemaViolation, Field: "/ok", Keyword: "required", Message: "missing property \"ok\""}}
	}
	return 2, nil
}

func TestSchemaRules(t *testing.T) {
	event := func(name, data string) string {
		return `{"session_id": "` + session + `", "category": "c", "name": "` + name + `", "data": ` + data + `, "timestamp": "2021-01-01 09:15:27"}`
	}
	tests := []struct {
		name        string
		reject      bool
		payload     string
		wantVersion int
		want        []string
	}{
		{"passes", false, event("strict", `{"ok": 1}`), 2, nil},
		{"violates", false, event("strict", `{"no": 1}`), 0, []string{"schema_violation:/ok"}},
		{"unknown accepted", false, event("free", `{"no": 1}`), 0, nil},
		{"unknown rejected", true, event("free", `{"no": 1}`), 0, []string{"unknown_event_type:name"}},
		{"known, rejecting", true, event("strict", `{"ok": 1}`), 2, nil},
		{"with other reasons", false, strings.Replace(event("strict", `{"no": 1}`), "2021-01-01 09:15:27", "never", 1), 0,
			[]string{"schema_violation:/ok", "invalid_timestamp:timestamp"}},
		{"data invalid: no schema check", false, event("strict", `[]`), 0, []string{"data_not_object:data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := eye.Rules{FutureTolerance: time.Minute, Schemas: checker{}, RejectUnknownTypes: tt.reject}
			ev, reasons := rules.ParseEvent(eye.Message{ID: "id", ReceivedAt: received, Payload: []byte(tt.payload)})
			if got := codes(reasons); !slices.Equal(got, tt.want) {
				t.Errorf("reasons %v, want %v", got, tt.want)
			}
			if ev.SchemaVersion != tt.wantVersion {
				t.Errorf("SchemaVersion %d, want %d", ev.SchemaVersion, tt.wantVersion)
			}
		})
	}
}
