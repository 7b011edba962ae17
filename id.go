package eye

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// idNamespace is the UUID namespace of event ids derived from a client's
// event_id (RFC 9562 name-based, version 5).
const idNamespace = "\x6b\x1d\x3e\x52\x0c\x39\x4f\x0e\x9a\x57\x2e\x83\x41\x7d\x05\xc9"

// NewID returns a new random UUID of version 7 (time-ordered, RFC 9562):
// ids made close in time sit close in an index.
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint16(u[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(u[2:6], uint32(ms))
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// DerivedID returns the event id for a client's event_id sent by an
// application: a name-based UUID (version 5), the same every time, so that
// a retried event keeps its id and is stored once.
func DerivedID(applicationID, eventID string) string {
	h := sha1.New()
	h.Write([]byte(idNamespace))
	h.Write([]byte(applicationID))
	h.Write([]byte{0})
	h.Write([]byte(eventID))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// ParseUUID reports whether s is a UUID in its canonical textual form
// (8-4-4-4-12 hexadecimal digits, any case) and returns it in lower case.
func ParseUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	var b [36]byte
	for i := range 36 {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			switch {
			case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
			case 'A' <= c && c <= 'F':
				c += 'a' - 'A'
			default:
				return "", false
			}
		}
		b[i] = c
	}
	return string(b[:]), true
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
