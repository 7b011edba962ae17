package eye_test

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/theeye/eye"
)

// TestDecodeObjectAgreesWithEncodingJSON checks the single-pass member
// walk against encoding/json on tricky objects.
func TestDecodeObjectAgreesWithEncodingJSON(t *testing.T) {
	objects := []string{
		`{}`,
		` { "a" : 1 , "b":[1,{"c":"}]"}], "d":"x\"y\\", "e":null,"f":true,"g":-1.5e10 } `,
		`{"esc\u00e9aped": {"x": [[], {}]}, "a\"b": "q"}`,
		`{"dup": 1, "dup": 2}`,
		`{"s": "{[\"", "n": {"deep": {"er": [1, 2, {"x": "]"}]}}}`,
		"{\n\t\"tab\":\t\"v\"\r\n}",
	}
	for _, o := range objects {
		got, err := eye.DecodeObject([]byte(o))
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(o), &want); err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
			t.Errorf("%s:\n got  %q\n want %q", o, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `"s"`, `{"a":`, `{"a" 1}`, `{} {}`} {
		if _, err := eye.DecodeObject([]byte(bad)); err == nil {
			t.Errorf("DecodeObject(%q) succeeded", bad)
		}
	}
	if v := eye.Member([]byte(`{"a": {"event_id": 1}, "event_id": "k", "z": 2}`), "event_id"); string(v) != `"k"` {
		t.Errorf("Member = %s", v)
	}
	if v := eye.Member([]byte(`{"a": 1}`), "event_id"); v != nil {
		t.Errorf("Member of a missing key = %s", v)
	}
}

func TestElements(t *testing.T) {
	got, err := eye.Elements([]byte(` [ {"a": [1, "]"]}, 2 ,"x",null, [ ] ] `))
	want := []string{`{"a": [1, "]"]}`, `2`, `"x"`, `null`, `[ ]`}
	if err != nil || len(got) != len(want) {
		t.Fatalf("Elements = %q, %v", got, err)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("element %d = %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := eye.Elements([]byte(`[]`)); err != nil || len(got) != 0 {
		t.Errorf("empty array: %q, %v", got, err)
	}
	for _, bad := range []string{`{}`, `[1,`, ``, `[1] [2]`} {
		if _, err := eye.Elements([]byte(bad)); err == nil {
			t.Errorf("Elements(%q) succeeded", bad)
		}
	}
}
