package eye_test

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
)

// The fuzz targets of the parsers events go through. Their seeds run with
// go test; .ci/run fuzzes each briefly, and docs/reliability.md gives the
// command of a longer run.

// FuzzParseEvent: any payload gives an event or reasons, never a panic;
// an event given without reasons is whole.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "pageview", "data": {"host": "www.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27.243860"}`,
		`{"session": {"id": "e2085be5-9137-4e4e-80b5-f1ffddc25423"}, "category": "c", "name": "n", "data": {"a": [1, {"b": null}]}, "timestamp": "2021-01-01T09:15:27+01:00", "sent_at": "2021-01-01T09:15:28Z", "event_id": "k"}`,
		`{"data": {}, "timestamp": 5}`, `[]`, `{"a": "\u0000"}`, "{\"\xff\": 1}", `{`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	rules := eye.Rules{FutureTolerance: time.Minute}
	received := time.Date(2021, 1, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, reasons := rules.ParseEvent(eye.Message{ID: "id", ReceivedAt: received, Payload: payload})
		if len(reasons) > 0 {
			for _, r := range reasons {
				if r.Code == "" || r.Message == "" {
					t.Fatalf("reason without code or message: %+v", r)
				}
			}
			return
		}
		if _, ok := eye.ParseUUID(ev.SessionID); !ok || ev.Category == "" || ev.Name == "" || ev.Timestamp.IsZero() ||
			!json.Valid(ev.Data) || ev.Data[0] != '{' || len(ev.Data) <= 2 {
			t.Fatalf("an event passed the rules but is not whole: %+v", ev)
		}
	})
}

// FuzzDecodeObject: the one-pass member walk agrees with encoding/json.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": 1, "b": [1, "]"], "c": {"d": "}"}}`, `{"a\"b": "\\", "a": 2, "a": 3}`, `[1]`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := eye.DecodeObject(b)
		var want map[string]json.RawMessage
		werr := json.Unmarshal(b, &want)
		if err != nil {
			if werr == nil && want != nil && len(b) > 0 {
				t.Fatalf("DecodeObject refused %q, which encoding/json reads as an object: %v", b, err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("DecodeObject read %q, which encoding/json refuses: %v", b, werr)
		}
		if !utf8.Valid(b) {
			return // encoding/json replaces invalid UTF-8 in keys: they may differ
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, encoding/json %d", b, len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Fatalf("%q: member %q = %s, encoding/json %s", b, k, got[k], v)
			}
		}
	})
}

// FuzzElements: the batch split agrees with encoding/json.
func FuzzElements(f *testing.F) {
	for _, s := range []string{`[]`, `[1, "x", {"a": [2]}, null]`, `[[], {}, "]"]`, `{}`, `[1,`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := eye.Elements(b)
		var want []json.RawMessage
		werr := json.Unmarshal(b, &want)
		if (err == nil) != (werr == nil && want != nil) {
			if err == nil || werr != nil || want != nil {
				t.Fatalf("%q: Elements error %v, encoding/json error %v", b, err, werr)
			}
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d elements, encoding/json %d", b, len(got), len(want))
		}
		for i := range want {
			if string(got[i]) != string(want[i]) {
				t.Fatalf("%q: element %d = %s, encoding/json %s", b, i, got[i], want[i])
			}
		}
	})
}

// FuzzParseTime: a time is parsed or refused, never a panic; a parsed
// time is UTC, whole microseconds, and formats back to itself.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2021-01-01 09:15:27.243860", "2021-01-01T09:15:27+05:30", "2021-01-01t09:15:27z", "9999-12-31T23:59:59.999999999Z", "", "2021-13-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := eye.ParseTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
			t.Fatalf("ParseTime(%q) = %v", s, tm)
		}
		back, err := eye.ParseTime(eye.FormatTime(tm))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q: %v formats to %q, which reads back as %v, %v", s, tm, eye.FormatTime(tm), back, err)
		}
	})
}
