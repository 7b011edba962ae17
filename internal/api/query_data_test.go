package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDataValue checks how a data filter's value is read: as the JSON
// value its text is, else as a string.
func TestDataValue(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want any
	}{
		{"www.example.com", "www.example.com"},
		{"", ""},
		{"3", json.Number("3")},
		{"-1.50", json.Number("-1.50")},
		{"1e3", json.Number("1e3")},
		{"12345678901234567890123", json.Number("12345678901234567890123")},
		{"1e400", json.Number("1e400")},
		{"-1e-400", json.Number("-1e-400")},
		{"1e16383", json.Number("1e16383")},
		{"0.5e-16382", json.Number("0.5e-16382")},
		{"12.5e16382", json.Number("12.5e16382")},
		{"0e99999", json.Number("0e99999")},
		{"0.000e-99999", json.Number("0.000e-99999")},
		{`"3"`, "3"},
		{`"a \"b\" \u00e9"`, `a "b" é`},
		{`""`, ""},
		{"true", true},
		{"false", false},
		{"null", nil},
		{"True", "True"},
		{" 3", " 3"},
		{"3 ", "3 "},
		{"03", "03"},
		{"1.", "1."},
		{"+1", "+1"},
		{"0x10", "0x10"},
		{"NaN", "NaN"},
		{"{not json", "{not json"},
		{"[beta]", "[beta]"},
		{`say "hi"`, `say "hi"`},
	} {
		got, err := dataValue(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dataValue(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{`{"a": 1}`, `[1, 2]`, `{}`, `"unterminated`, `"a" "b"`, "\xff",
		"1e16384", "1e-16384", "0.5e-16383", "125e16382", "1e999999999999999999999", "0e999999999999999999999", "-1e999999"} {
		if got, err := dataValue(in); err == nil {
			t.Errorf("dataValue(%q) = %#v; want an error", in, got)
		}
	}
}

// TestDataPath checks how a data filter's path is read.
func TestDataPath(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"host", []string{"host"}},
		{"form.first_name", []string{"form", "first_name"}},
		{`utm\.source`, []string{"utm.source"}},
		{`a\\.b`, []string{`a\`, "b"}},
		{`a\\\.b`, []string{`a\.b`}},
		{"é t\"é", []string{"é t\"é"}},
		{"$[0].*", []string{"$[0]", "*"}},
	} {
		got, err := dataPath(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dataPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", ".", "a.", ".a", "a..b", `a\`, `a\b`, "\xff"} {
		if got, err := dataPath(in); err == nil {
			t.Errorf("dataPath(%q) = %q; want an error", in, got)
		}
	}
}
