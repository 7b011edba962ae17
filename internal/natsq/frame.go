package natsq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/theeye/eye"
)

// kindBatch marks a queue message carrying several messages published
// together (the elements of a batch), framed one after the other.
const kindBatch = "batch"

// maxPerFrame bounds the messages of one queue message. Each gets the
// arrival sequence seq<<seqShift | index.
const (
	maxPerFrame = 1 << seqShift
	seqShift    = 10
)

// appendFrame appends one message to a batch body: its arrival time,
// then its kind, id, application, detail and payload, each prefixed with
// its length.
func appendFrame(b []byte, m eye.Message) []byte {
	b = binary.AppendVarint(b, m.ReceivedAt.UnixMicro())
	for _, field := range [...]string{string(m.Kind), m.ID, m.ApplicationID, m.Detail} {
		b = binary.AppendUvarint(b, uint64(len(field)))
		b = append(b, field...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Payload)))
	return append(b, m.Payload...)
}

// frameSize is the size appendFrame adds, near enough.
func frameSize(m eye.Message) int {
	return 6*binary.MaxVarintLen64 + len(m.Kind) + len(m.ID) + len(m.ApplicationID) + len(m.Detail) + len(m.Payload)
}

// readFrames splits a batch body into its messages.
func readFrames(body []byte) ([]eye.Message, error) {
	var out []eye.Message
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(body)
		if k <= 0 || n > uint64(len(body)-k) {
			return nil, false
		}
		field := body[k : k+int(n)]
		body = body[k+int(n):]
		return field, true
	}
	for len(body) > 0 {
		us, k := binary.Varint(body)
		if k <= 0 {
			return out, errors.New("a batch message is cut short")
		}
		body = body[k:]
		kind, ok1 := next()
		id, ok2 := next()
		app, ok3 := next()
		detail, ok4 := next()
		payload, ok5 := next()
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return out, errors.New("a batch message is cut short")
		}
		out = append(out, eye.Message{Kind: eye.Kind(kind), ID: string(id), ApplicationID: string(app),
			ReceivedAt: time.UnixMicro(us).UTC(), Detail: string(detail), Payload: payload})
	}
	return out, nil
}

// chunkID is the deduplication id of a queue message carrying several
// messages: the same messages (same ids, as when a batch of events with
// event_ids is sent again) give the same id.
func chunkID(msgs []eye.Message) string {
	h := sha256.New()
	for _, m := range msgs {
		h.Write([]byte(m.ID))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
