package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/theeye/eye"
)

// Shape of the generated store.
const (
	genSpan          = 7 * 24 * time.Hour // timestamps spread over a week
	genActive        = 200                // sessions active at once
	genMeanSession   = 100                // events of a session on average (~100,000 sessions for 10 million)
	genTimelineLen   = 1000               // events of the session whose timeline is queried
	genTimelineEvery = 10                 // one event in ten, from the middle of the stream, is the timeline session's
	genBatch         = 1000               // events per Store.Write
)

// genStart is the first generated timestamp.
func genStart() time.Time { return time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC) }

// eventType is a generated type of event, with its share of the events.
type eventType struct {
	category, name string
	weight         int
	data           func(r *rand.Rand) string
}

// eventTypes are a handful of categories and names.
func eventTypes() []eventType {
	path := func(r *rand.Rand) string { return fmt.Sprintf("/p/%d", r.IntN(50)) }
	return []eventType{
		{"page interaction", "pageview", 45, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q}`, path(r))
		}},
		{"page interaction", "cta click", 20, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q,"element":"chat bubble"}`, path(r))
		}},
		{"form interaction", "submit", 10, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q,"form":{"first_name":"John","last_name":"Doe"}}`, path(r))
		}},
		{"form interaction", "focus", 5, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q,"field":"email"}`, path(r))
		}},
		{"navigation", "link click", 10, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q,"href":"/p/%d"}`, path(r), r.IntN(50))
		}},
		{"media", "play", 5, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q,"video":"intro","position_s":%d}`, path(r), r.IntN(300))
		}},
		{"media", "pause", 5, func(r *rand.Rand) string {
			return fmt.Sprintf(`{"host":"www.example.com","path":%q,"video":"intro","position_s":%d}`, path(r), r.IntN(300))
		}},
	}
}

// generator makes the stream of generated events: timestamps in order
// over genSpan, each event in one of genActive sessions active at once (a
// session ends after its share of events and a new one takes its place),
// and one session of exactly genTimelineLen events.
type generator struct {
	r        *rand.Rand
	ids      *uuids
	types    []eventType
	weights  int
	n, i     int
	step     time.Duration
	active   []activeSession
	sessions int            // sessions with an event
	counts   map[string]int // events by category

	timeline      string
	timelineFirst int
	timelineLeft  int
}

type activeSession struct {
	id   string
	left int
	used bool // it has an event already
}

func newGenerator(n int) *generator {
	g := &generator{r: rand.New(rand.NewPCG(5, 6)), ids: newUUIDs(7), types: eventTypes(), n: n, counts: map[string]int{},
		step: genSpan / time.Duration(n), timelineFirst: n / 2, timelineLeft: genTimelineLen}
	for _, t := range g.types {
		g.weights += t.weight
	}
	g.timeline = g.ids.next()
	g.active = make([]activeSession, genActive)
	for k := range g.active {
		g.active[k] = g.newSession()
	}
	return g
}

func (g *generator) newSession() activeSession {
	return activeSession{id: g.ids.next(), left: 1 + g.r.IntN(2*genMeanSession-1)}
}

// session picks the session of the next event.
func (g *generator) session() string {
	if g.timelineLeft > 0 && g.i >= g.timelineFirst && (g.i-g.timelineFirst)%genTimelineEvery == 0 {
		if g.timelineLeft == genTimelineLen {
			g.sessions++
		}
		g.timelineLeft--
		return g.timeline
	}
	k := g.r.IntN(len(g.active))
	s := &g.active[k]
	id := s.id
	if !s.used {
		s.used = true
		g.sessions++
	}
	if s.left--; s.left == 0 {
		*s = g.newSession()
	}
	return id
}

func (g *generator) eventType() eventType {
	w := g.r.IntN(g.weights)
	for _, t := range g.types {
		if w < t.weight {
			return t
		}
		w -= t.weight
	}
	return g.types[0]
}

// event makes the next event.
func (g *generator) event() eye.Event {
	t := g.eventType()
	g.counts[t.category]++
	ts := genStart().Add(time.Duration(g.i)*g.step + time.Duration(g.r.Int64N(int64(g.step)))).Truncate(time.Microsecond)
	g.i++
	return eye.Event{ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID, SessionID: g.session(),
		Category: t.category, Name: t.name, Data: []byte(t.data(g.r)), Timestamp: ts,
		ReceivedAt: ts.Add(500 * time.Millisecond), Seq: uint64(g.i)}
}

// batch makes the next batch, empty at the end.
func (g *generator) batch() eye.Batch {
	evs := make([]eye.Event, 0, min(genBatch, g.n-g.i))
	for len(evs) < cap(evs) {
		evs = append(evs, g.event())
	}
	return eye.Batch{Events: evs}
}

// genResult describes the generated store.
type genResult struct {
	events   int
	sessions int
	timeline string         // the session of exactly genTimelineLen events
	counts   map[string]int // events by category
	elapsed  time.Duration
}

// generate writes n events into the store of a new data directory (the
// SQLite file dir/eye.db, or its PostgreSQL database) through
// Store.Write, batches of 1,000, the generation of the next batch
// overlapping the write of this one.
func (b *bench) generate(ctx context.Context, dir dataDir, n int) (genResult, error) {
	s, err := b.store.open(ctx, dir)
	if err != nil {
		return genResult{}, fmt.Errorf("generate: %w", err)
	}
	defer s.Close()
	g := newGenerator(n)
	batches := make(chan eye.Batch, 4)
	go func() {
		defer close(batches)
		for bt := g.batch(); len(bt.Events) > 0 && ctx.Err() == nil; bt = g.batch() {
			batches <- bt
		}
	}()
	start, lastLog, written := time.Now(), time.Now(), 0
	for bt := range batches {
		if _, err := s.Write(ctx, bt); err != nil {
			for range batches {
			}
			return genResult{}, fmt.Errorf("generate: %w", err)
		}
		written += len(bt.Events)
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			rate := float64(written) / time.Since(start).Seconds()
			b.logf("generate: %s of %s events (%s events/s, about %s left)", count(float64(written)), count(float64(n)),
				count(rate), (time.Duration(float64(n-written)/rate) * time.Second).Round(time.Second))
		}
	}
	if err := ctx.Err(); err != nil {
		return genResult{}, err
	}
	res := genResult{events: written, sessions: g.sessions, timeline: g.timeline, counts: g.counts, elapsed: time.Since(start)}
	b.logf("generate: %s events in %d sessions in %s (%s events/s)", count(float64(written)), res.sessions,
		res.elapsed.Round(time.Second), count(float64(written)/res.elapsed.Seconds()))
	return res, nil
}
