package main

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
)

// The three example events of the API documentation; %s is the session id.
const (
	pageviewEvent = `{"session_id": "%s", "category": "page interaction", "name": "pageview", ` +
		`"data": {"host": "www.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27.243860"}`
	ctaClickEvent = `{"session_id": "%s", "category": "page interaction", "name": "cta click", ` +
		`"data": {"host": "www.example.com", "path": "/", "element": "chat bubble"}, "timestamp": "2021-01-01 09:15:27.243860"}`
	formSubmitEvent = `{"session_id": "%s", "category": "form interaction", "name": "submit", ` +
		`"data": {"host": "www.example.com", "path": "/", "form": {"first_name": "John", "last_name": "Doe"}}, "timestamp": "2021-01-01 09:15:27.243860"}`
)

// exampleEvent returns example event i%3 in a session.
func exampleEvent(i int, session string) string {
	tmpl := [...]string{pageviewEvent, ctaClickEvent, formSubmitEvent}[i%3]
	return strings.Replace(tmpl, "%s", session, 1)
}

// uuids makes random version-4 UUIDs from a seeded generator, so that a
// run's sessions are the same every time.
type uuids struct{ r *rand.Rand }

func newUUIDs(seed uint64) *uuids {
	return &uuids{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *uuids) next() string {
	var u [16]byte
	for i := range 2 {
		v := g.r.Uint64()
		for j := range 8 {
			u[i*8+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
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

// singleRequests builds n requests POST /events/ of the pageview example,
// each in a session of its own.
func singleRequests(g *uuids, n int, host, key string) [][]byte {
	reqs := make([][]byte, n)
	for i := range reqs {
		reqs[i] = request("POST", host, "/events/", key, []byte(exampleEvent(0, g.next())))
	}
	return reqs
}

// batchBody is a JSON array of n example events (the three in turn),
// spread over sessions new sessions.
func batchBody(g *uuids, n, sessions int) []byte {
	ids := make([]string, max(1, sessions))
	for i := range ids {
		ids[i] = g.next()
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(exampleEvent(i, ids[i%len(ids)]))
	}
	b.WriteByte(']')
	return b.Bytes()
}

// batchBodies builds count batch bodies of n events in n/10 sessions each.
func batchBodies(g *uuids, count, n int) [][]byte {
	bodies := make([][]byte, count)
	for i := range bodies {
		bodies[i] = batchBody(g, n, max(1, n/10))
	}
	return bodies
}

// batchRequests wraps bodies in requests POST /events/batch/.
func batchRequests(bodies [][]byte, host, key string) [][]byte {
	reqs := make([][]byte, len(bodies))
	for i, b := range bodies {
		reqs[i] = request("POST", host, "/events/batch/", key, b)
	}
	return reqs
}
