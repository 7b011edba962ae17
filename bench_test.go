package eye_test

import (
	"testing"
	"time"

	"github.com/theeye/eye"
)

// namedInput is one input of a sub-benchmark.
type namedInput struct{ name, in string }

// benchEvents are the three example events of the API documentation.
func benchEvents() []namedInput {
	return []namedInput{
		{"pageview", `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "pageview", ` +
			`"data": {"host": "www.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27.243860"}`},
		{"cta_click", `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "cta click", ` +
			`"data": {"host": "www.example.com", "path": "/", "element": "chat bubble"}, "timestamp": "2021-01-01 09:15:27.243860"}`},
		{"form_submit", `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "form interaction", "name": "submit", ` +
			`"data": {"host": "www.example.com", "path": "/", "form": {"first_name": "John", "last_name": "Doe"}}, "timestamp": "2021-01-01 09:15:27.243860"}`},
	}
}

// BenchmarkParseEvent measures the worker's validation of each example
// event (no JSON Schema).
//
//	go test -run '^$' -bench ParseEvent -count 10 . | benchstat -
func BenchmarkParseEvent(b *testing.B) {
	rules := eye.Rules{FutureTolerance: time.Minute}
	recv := time.Date(2021, 1, 1, 9, 15, 30, 0, time.UTC)
	for _, ev := range benchEvents() {
		payload := ev.in
		m := eye.Message{Kind: eye.KindEvent, ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID,
			ReceivedAt: recv, Payload: []byte(payload)}
		b.Run(ev.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, reasons := rules.ParseEvent(m); len(reasons) > 0 {
					b.Fatal(reasons)
				}
			}
		})
	}
}

// BenchmarkParseTime measures the forms of timestamp applications send.
func BenchmarkParseTime(b *testing.B) {
	for _, ts := range []namedInput{
		{"space_micros", "2021-01-01 09:15:27.243860"},
		{"space", "2021-01-01 09:15:27"},
		{"rfc3339_z", "2021-01-01T09:15:27.243860Z"},
		{"rfc3339_offset", "2021-01-01T10:15:27.243860+01:00"},
	} {
		s := ts.in
		b.Run(ts.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eye.ParseTime(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeObject measures splitting an event into its members.
func BenchmarkDecodeObject(b *testing.B) {
	for _, ev := range benchEvents() {
		body := []byte(ev.in)
		b.Run(ev.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eye.DecodeObject(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC)
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = eye.AppendTime(buf[:0], tm)
	}
}
