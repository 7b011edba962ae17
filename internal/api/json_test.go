package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// TestAppendEventAgreesWithEncodingJSON checks the hand-written event
// encoder against encoding/json on awkward strings.
func TestAppendEventAgreesWithEncodingJSON(t *testing.T) {
	base := time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC)
	events := []eye.Event{
		{ID: "a", SessionID: "s", ApplicationID: "default", Category: "page interaction", Name: "pageview",
			Data: json.RawMessage(`{"host":"www.example.com"}`), Timestamp: base, ReceivedAt: base},
		{ID: "b", EventID: "k\"1\\\n\t\x00\x1f<>&", SessionID: "s", ApplicationID: "a", Category: "é\u2028\u2029\xff",
			Name: "\xc3", Data: json.RawMessage(`{"n":1e400}`), Timestamp: base, SentAt: base.Add(time.Second),
			ReceivedAt: base.Add(2 * time.Second), ClockOffset: time.Second, SchemaVersion: 3},
	}
	for _, ev := range events {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(eventToJSON(ev)); err != nil {
			t.Fatal(err)
		}
		got := append(appendEvent(nil, ev), '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendEvent:\n got  %s\n want %s", got, want.Bytes())
		}
	}
}
