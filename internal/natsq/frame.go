package natsq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"

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

// appendFrame appends one message to a batch body: its kind, id and
// detail, then its payload, each prefixed with its length.
func appendFrame(b []byte, m eye.Message) []byte {
	b = binary.AppendUvarint(b, uint64(len(m.Kind)))
	b = append(b, m.Kind...)
	b = binary.AppendUvarint(b, uint64(len(m.ID)))
	b = append(b, m.ID...)
	b = binary.AppendUvarint(b, uint64(len(m.Detail)))
	b = append(b, m.Detail...)
	b = binary.AppendUvarint(b, uint64(len(m.Payload)))
	return append(b, m.Payload...)
}

// frameSize is the size appendFrame adds, near enough.
func frameSize(m eye.Message) int {
	return 4*binary.MaxVarintLen32 + len(m.Kind) + len(m.ID) + len(m.Detail) + len(m.Payload)
}

// readFrames splits a batch body into its messages. The messages share
// the queue message's application and arrival time, given in base.
func readFrames(body []byte, base eye.Message) ([]eye.Message, error) {
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
		kind, ok1 := next()
		id, ok2 := next()
		detail, ok3 := next()
		payload, ok4 := next()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return out, errors.New("a batch message is cut short")
		}
		m := base
		m.Kind, m.ID, m.Detail, m.Payload = eye.Kind(kind), string(id), string(detail), payload
		out = append(out, m)
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
