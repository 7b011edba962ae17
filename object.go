package eye

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// TrimJSONSpace trims JSON's white space (space, tab, line feed, carriage
// return) from both ends of b; unlike bytes.TrimSpace, nothing else.
func TrimJSONSpace(b []byte) []byte {
	start, end := skipSpace(b, 0), trailingSpace(b)
	if start >= end {
		return b[:0]
	}
	return b[start:end]
}

func trailingSpace(b []byte) int {
	end := len(b)
	for end > 0 && (b[end-1] == ' ' || b[end-1] == '\t' || b[end-1] == '\n' || b[end-1] == '\r') {
		end--
	}
	return end
}

// DecodeObject decodes a JSON object into its members, each value the
// bytes sent (a slice of b: nothing is copied). For a member given twice,
// the last one counts, as with encoding/json.
func DecodeObject(b []byte) (map[string]json.RawMessage, error) {
	b = TrimJSONSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("the body is empty")
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("the body is not valid JSON")
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("the body must be a JSON object, not %s", jsonType(b))
	}
	m := make(map[string]json.RawMessage, 8)
	for k, v := range members(b) {
		m[k] = v
	}
	return m, nil
}

// Member returns the value of a top-level member of a JSON object, which
// must be valid JSON (checked by the caller, e.g. with json.Valid), or
// nil when the object lacks it. When the member is given twice, the last
// one counts.
func Member(object []byte, key string) json.RawMessage {
	var found json.RawMessage
	for k, v := range members(TrimJSONSpace(object)) {
		if k == key {
			found = v
		}
	}
	return found
}

// members yields the top-level members of a valid JSON object, without
// decoding their values. It walks the bytes once and allocates only for
// keys.
func members(b []byte) func(yield func(string, json.RawMessage) bool) {
	return func(yield func(string, json.RawMessage) bool) {
		if len(b) == 0 || b[0] != '{' {
			return
		}
		i := skipSpace(b, 1)
		for i < len(b) && b[i] == '"' {
			end := skipString(b, i)
			key := unquote(b[i:end])
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return
			}
			start := skipSpace(b, i+1)
			end = skipValue(b, start)
			if !yield(key, b[start:end]) {
				return
			}
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

// unquote decodes a JSON string's bytes, quotes included.
func unquote(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s[1 : len(s)-1])
	}
	var out string
	_ = json.Unmarshal(s, &out) // valid JSON, checked before
	return out
}

// Elements returns the elements of a JSON array, each the bytes sent (a
// slice of b), or an error when b is not valid JSON or not an array.
func Elements(b []byte) ([]json.RawMessage, error) {
	b = TrimJSONSpace(b)
	if !json.Valid(b) {
		return nil, fmt.Errorf("the body is not valid JSON")
	}
	if len(b) == 0 || b[0] != '[' {
		return nil, fmt.Errorf("the body must be a JSON array, not %s", jsonType(b))
	}
	var out []json.RawMessage
	i := skipSpace(b, 1)
	for i < len(b) && b[i] != ']' {
		end := skipValue(b, i)
		out = append(out, b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return out, nil
}
