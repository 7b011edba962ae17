package eye

import (
	"errors"
	"strings"
	"time"
)

// ParseTime parses a timestamp as applications send it and returns it in
// UTC, truncated to whole microseconds (the precision The Eye stores).
//
// Accepted: RFC 3339 with any offset (a "T" or a space between date and
// time), and the same without an offset, read as UTC. Fractions may have
// any number of digits.
func ParseTime(s string) (time.Time, error) {
	layouts := [...]string{
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	}
	// RFC 3339 allows a lower-case "t" and "z"; Go's layouts do not.
	if len(s) > 10 && s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, errors.New(`not a timestamp: want RFC 3339 (2021-01-01T09:15:27.243860Z) or "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC`)
}

// FormatTime formats t as RFC 3339 in UTC with exactly six fractional
// digits, so that formatted times sort as text in time order.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
