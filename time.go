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
	// One layout, RFC 3339 (which time.Parse reads fastest): a space or "t"
	// after the date becomes "T", a lower-case "z" upper-case, and a time
	// without an offset is in UTC.
	if len(s) > 10 && (s[10] == ' ' || s[10] == 't') {
		s = s[:10] + "T" + s[11:]
	}
	if n := len(s); n >= 19 {
		switch {
		case s[n-1] == 'z':
			s = s[:n-1] + "Z"
		case s[n-1] != 'Z' && !strings.ContainsAny(s[19:], "+-"):
			s += "Z"
		}
	}
	layout := time.RFC3339Nano
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, errors.New(`not a timestamp: want RFC 3339 (2021-01-01T09:15:27.243860Z) or "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC`)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// timeLayout is the layout of FormatTime.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime formats t as RFC 3339 in UTC with exactly six fractional
// digits, so that formatted times sort as text in time order.
func FormatTime(t time.Time) string {
	return string(AppendTime(make([]byte, 0, len(timeLayout)), t))
}

// AppendTime appends t formatted as FormatTime does, without allocating:
// lists of events format three times per event.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, second := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends n, zero-padded to width digits (width ≤ 6,
// 0 ≤ n < 10^width).
func appendDigits(b []byte, n, width int) []byte {
	start := len(b)
	b = append(b, "000000"[:width]...)
	for i := len(b) - 1; i >= start; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
}
