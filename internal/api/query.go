package api

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
			known = known || a == name
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
