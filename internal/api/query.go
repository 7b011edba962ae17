package api

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
)

// Page sizes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// paramError is a query parameter that is unknown or malformed.
type paramError struct {
	param, detail string
}

func (e *paramError) Error() string { return e.detail }

// params reads a request's query parameters, refusing unknown and
// repeated ones, so that a misspelt filter is an error instead of a
// silently unfiltered answer.
type params struct {
	v   url.Values
	err *paramError
}

func parseParams(r *http.Request, allowed ...string) *params {
	p := &params{}
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		p.err = &paramError{"", "The query string is malformed: " + err.Error()}
		return p
	}
	p.v = v
	for name, values := range v {
		known := false
		for _, a := range allowed {
			prefix, isPrefix := strings.CutSuffix(a, "*") // "data.*": every name starting with "data."
			known = known || a == name || isPrefix && strings.HasPrefix(name, prefix)
		}
		if !known {
			p.err = &paramError{name, fmt.Sprintf("Unknown query parameter %q; known here: %s.", name, strings.Join(allowed, ", "))}
			return p
		}
		if len(values) > 1 {
			p.err = &paramError{name, fmt.Sprintf("The query parameter %q is given %d times.", name, len(values))}
			return p
		}
	}
	return p
}

func (p *params) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = &paramError{name, fmt.Sprintf(format, args...)}
	}
}

func (p *params) str(name string) string { return p.v.Get(name) }

// uuid reads a parameter that must be a UUID.
func (p *params) uuid(name string) string {
	s := p.v.Get(name)
	if s == "" {
		return ""
	}
	id, ok := eye.ParseUUID(s)
	if !ok {
		p.fail(name, "The query parameter %q must be a UUID, not %q.", name, s)
	}
	return id
}

// time reads a timestamp parameter, in any form events may use. A "+" of a
// time zone offset that the query string turned into a space is read back.
func (p *params) time(name string) time.Time {
	s := p.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := eye.ParseTime(s)
	if err != nil {
		if i := strings.LastIndexByte(s, ' '); i > 10 {
			t, err = eye.ParseTime(s[:i] + "+" + s[i+1:])
		}
	}
	if err != nil {
		p.fail(name, "The query parameter %q is not a timestamp: %q (use RFC 3339, e.g. 2021-01-01T09:15:27Z).", name, s)
	}
	return t
}

// limit reads the page size.
func (p *params) limit() int {
	s := p.v.Get("limit")
	if s == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		p.fail("limit", "The query parameter \"limit\" must be a whole number from 1 to %d, not %q.", maxLimit, s)
		return defaultLimit
	}
	return n
}

// ascending reads the order parameter.
func (p *params) ascending(def bool) bool {
	switch s := p.v.Get("order"); s {
	case "":
		return def
	case "asc":
		return true
	case "desc":
		return false
	default:
		p.fail("order", "The query parameter \"order\" must be asc or desc, not %q.", s)
		return def
	}
}

// Cursor kinds: a cursor works only for the list that made it.
const (
	cursorEvents   = 'e'
	cursorSessions = 's'
	cursorErrors   = 'x'
)

// cursor reads an opaque cursor made by encodeCursor for a list of kind,
// in the given order.
func (p *params) cursor(kind byte, ascending bool) *eye.Position {
	s := p.v.Get("cursor")
	if s == "" {
		return nil
	}
	pos, asc, ok := decodeCursor(kind, s)
	if !ok {
		p.fail("cursor", "The cursor is not valid: use the \"next\" URL of a page as it is.")
		return nil
	}
	if asc != ascending {
		p.fail("cursor", "The cursor was made for the other order.")
		return nil
	}
	return &pos
}

// encodeCursor encodes a position: a version byte, the list's kind, the
// order, then the sort key as varints; base64url without padding.
func encodeCursor(kind byte, ascending bool, pos eye.Position) string {
	b := make([]byte, 0, 3+3*binary.MaxVarintLen64)
	dir := byte(0)
	if ascending {
		dir = 1
	}
	b = append(b, 1, kind, dir)
	b = binary.AppendVarint(b, pos.Time.UnixMicro())
	b = binary.AppendUvarint(b, pos.Seq)
	b = binary.AppendVarint(b, pos.Row)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(kind byte, s string) (pos eye.Position, ascending, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 6 || b[0] != 1 || b[1] != kind || b[2] > 1 {
		return pos, false, false
	}
	ascending = b[2] == 1
	b = b[3:]
	us, n := binary.Varint(b)
	if n <= 0 {
		return pos, false, false
	}
	b = b[n:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return pos, false, false
	}
	b = b[n:]
	row, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return pos, false, false
	}
	return eye.Position{Time: time.UnixMicro(us).UTC(), Seq: seq, Row: row}, ascending, true
}

// nextURL returns the URL of the page after this one: the request's own
// URL with the cursor replaced.
func nextURL(r *http.Request, kind byte, ascending bool, pos *eye.Position) *string {
	if pos == nil {
		return nil
	}
	q := r.URL.Query()
	q.Set("cursor", encodeCursor(kind, ascending, *pos))
	scheme := "http"
	if Secure(r) {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path + "/", RawQuery: q.Encode()}
	s := u.String()
	return &s
}

// Limits of the filters on members of data.
const (
	MaxDataFilters = 10 // filters on members of data in one query
	maxDataDepth   = 32 // as deep as data may nest
)

// data reads the filters on members of data: every parameter
// data.<path>=<value>, in the order of their names.
func (p *params) data() []eye.DataFilter {
	var names []string
	for name := range p.v {
		if strings.HasPrefix(name, "data.") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) > MaxDataFilters {
		p.fail(names[MaxDataFilters], "At most %d data filters may be given, not %d.", MaxDataFilters, len(names))
		return nil
	}
	var out []eye.DataFilter
	for _, name := range names {
		path, err := dataPath(strings.TrimPrefix(name, "data."))
		if err != nil {
			p.fail(name, "The query parameter %q does not name a member of data: %v.", name, err)
			return nil
		}
		value, err := dataValue(p.v.Get(name))
		if err != nil {
			p.fail(name, "The query parameter %q has a value that cannot match: %v.", name, err)
			return nil
		}
		out = append(out, eye.DataFilter{Path: path, Value: value})
	}
	return out
}

// ParseDataFilter reads a filter on a member of data as GET /events/ takes
// it in data.<path>=<value>: path is what follows "data.", value the text
// of the value.
func ParseDataFilter(path, value string) (eye.DataFilter, error) {
	p, err := dataPath(path)
	if err != nil {
		return eye.DataFilter{}, fmt.Errorf("the path names no member of data: %w", err)
	}
	v, err := dataValue(value)
	if err != nil {
		return eye.DataFilter{}, fmt.Errorf("the value cannot match: %w", err)
	}
	return eye.DataFilter{Path: p, Value: v}, nil
}

// dataPath reads the path of a data filter: object keys separated by
// dots. A key holding a dot writes it \. and a backslash \\.
func dataPath(s string) ([]string, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("it is not UTF-8")
	}
	var path []string
	var key strings.Builder
	for i := 0; i <= len(s); i++ {
		switch {
		case i == len(s) || s[i] == '.':
			if key.Len() == 0 {
				return nil, errors.New("a key is empty (two dots in a row, or a dot at an end)")
			}
			path = append(path, key.String())
			key.Reset()
		case s[i] == '\\':
			if i+1 == len(s) || s[i+1] != '.' && s[i+1] != '\\' {
				return nil, errors.New(`a backslash must be followed by a dot or a backslash (\. or \\)`)
			}
			i++
			key.WriteByte(s[i])
		default:
			key.WriteByte(s[i])
		}
	}
	if len(path) > maxDataDepth {
		return nil, fmt.Errorf("it is %d keys deep, more than %d", len(path), maxDataDepth)
	}
	return path, nil
}

// dataValue reads the value of a data filter as the JSON value its text
// is: true, false, null, a number, or a string in double quotes; any
// other text is a string as it is. A JSON object or array is refused:
// filters match single values.
func dataValue(s string) (any, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("it is not UTF-8")
	}
	if s == "" || strings.TrimSpace(s) != s || !json.Valid([]byte(s)) {
		if strings.HasPrefix(s, `"`) {
			return nil, errors.New(`a value in double quotes must be a JSON string, such as "3"`)
		}
		return s, nil
	}
	switch c := s[0]; {
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	case s == "null":
		return nil, nil
	case c == '"':
		var str string
		err := json.Unmarshal([]byte(s), &str)
		return str, err
	case c == '-' || '0' <= c && c <= '9':
		if !numberInRange(s) {
			return nil, fmt.Errorf("the number %.20s… has digits beyond %d places from the decimal point, which the store cannot compare",
				s, maxNumberPlaces)
		}
		return json.Number(s), nil
	default:
		return nil, errors.New("it is a JSON object or array; name a member inside it by its path instead")
	}
}

// maxNumberPlaces bounds how far from the decimal point a number's digits
// may be in a data filter: PostgreSQL's numeric takes 16,383 places after
// it (and more before), and refuses the filter otherwise.
const maxNumberPlaces = 16383

// numberInRange reports whether every nonzero digit of a JSON number is
// within maxNumberPlaces places of the decimal point.
func numberInRange(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil {
			return false // an exponent beyond an int
		}
		mant, exp = s[:i], e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return true // zero, whatever its exponent
	}
	// The places of the first and last nonzero digits: 0 is the units.
	first := len(whole) - 1 - (len(whole+frac) - len(digits)) + exp
	last := first - (len(strings.TrimRight(digits, "0")) - 1)
	return first <= maxNumberPlaces && last >= -maxNumberPlaces
}
