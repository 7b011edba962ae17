package natsq_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/natsq"
)

// opener opens the test's queue: the same stream each time it is called.
type opener func(t *testing.T, maxBytes int64) *natsq.Queue

// each runs a test against the embedded server and, when
// EYE_TEST_NATS_URL names one, against an external server, with a stream
// of its own (a prefix of its own) deleted at the end.
func each(t *testing.T, test func(t *testing.T, open opener)) {
	targets := map[string]string{"embedded": ""}
	switch url := os.Getenv("EYE_TEST_NATS_URL"); {
	case url != "":
		targets["external"] = url
	case os.Getenv("EYE_TEST_REQUIRE_SERVICES") == "1":
		t.Fatal("EYE_TEST_NATS_URL is unset, and EYE_TEST_REQUIRE_SERVICES=1 requires the external NATS tests")
	default:
		t.Log("EYE_TEST_NATS_URL is unset: the tests against an external NATS server are skipped")
	}
	for name, url := range targets {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			prefix := "eyetest" + strings.ReplaceAll(eye.NewID(), "-", "")[:16]
			if url != "" {
				t.Cleanup(func() { deleteStream(t, url, strings.ToUpper(prefix)) })
			}
			test(t, func(t *testing.T, maxBytes int64) *natsq.Queue {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				q, err := natsq.Open(ctx, natsq.Options{URL: url, Dir: dir, Prefix: prefix, MaxBytes: maxBytes, Logger: slog.Default()})
				if err != nil {
					t.Fatal(err)
				}
				return q
			})
		})
	}
}

func deleteStream(t *testing.T, url, name string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("delete stream %s: %v", name, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		err = js.DeleteStream(context.Background(), name)
	}
	if err != nil {
		t.Errorf("delete stream %s: %v", name, err)
	}
}

func message(i int) eye.Message {
	return eye.Message{
		Kind:          eye.KindEvent,
		ID:            eye.NewID(),
		ApplicationID: "default",
		ReceivedAt:    time.Date(2021, 1, 1, 9, 15, 27, 243860000, time.UTC),
		Payload:       fmt.Appendf(nil, `{"n": %d, "big": 1.00000000000000000000001}`, i),
		Detail:        "",
	}
}

// receive returns the messages of deliveries until it has n messages,
// acknowledging each delivery when ack is set.
func receive(t *testing.T, q *natsq.Queue, n int, ack bool) []eye.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []eye.Message
	for len(out) < n {
		ds, err := q.Receive(ctx, n-len(out))
		if err != nil {
			t.Fatalf("Receive after %d of %d: %v", len(out), n, err)
		}
		for _, d := range ds {
			out = append(out, d.Messages...)
			if ack {
				if err := d.Ack(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return out
}

func TestPublishReceive(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		q := open(t, 0)
		defer q.Close()
		ctx := context.Background()
		var sent []eye.Message
		for i := range 50 {
			sent = append(sent, message(i))
		}
		sent[3].Kind, sent[3].Detail = eye.KindMalformed, "not JSON"
		// Alone, then together (a batch: one queue message), then alone.
		for _, part := range [][]eye.Message{sent[:1], sent[1:49], sent[49:]} {
			if dups, err := q.Publish(ctx, part...); err != nil || dups != 0 {
				t.Fatalf("Publish = %d, %v", dups, err)
			}
		}
		got := receive(t, q, len(sent), true)
		var last uint64
		for i, m := range got {
			want := sent[i]
			if m.Kind != want.Kind || m.ID != want.ID || m.ApplicationID != want.ApplicationID ||
				!m.ReceivedAt.Equal(want.ReceivedAt) || string(m.Payload) != string(want.Payload) || m.Detail != want.Detail {
				t.Errorf("message %d = %+v, want %+v", i, m, want)
			}
			if m.Seq <= last {
				t.Errorf("message %d: seq %d after %d", i, m.Seq, last)
			}
			last = m.Seq
		}
	})
}

// TestLargeBatchSplits publishes more than one queue message may hold:
// it travels in several, every message delivered once, in order.
func TestLargeBatchSplits(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		q := open(t, 0)
		defer q.Close()
		var sent []eye.Message
		for i := range 2500 {
			m := message(i)
			m.Payload = fmt.Appendf(nil, `{"i": %d, "pad": "%s"}`, i, strings.Repeat("x", 3000))
			sent = append(sent, m)
		}
		if _, err := q.Publish(context.Background(), sent...); err != nil {
			t.Fatal(err)
		}
		got := receive(t, q, len(sent), true)
		for i, m := range got {
			if m.ID != sent[i].ID || string(m.Payload) != string(sent[i].Payload) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}

func TestDuplicateID(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		q := open(t, 0)
		defer q.Close()
		m := message(1)
		if dups, err := q.Publish(context.Background(), m); err != nil || dups != 0 {
			t.Fatalf("first Publish = %d, %v", dups, err)
		}
		if dups, err := q.Publish(context.Background(), m); err != nil || dups != 1 {
			t.Fatalf("second Publish = %d, %v; want 1 duplicate", dups, err)
		}
		// A batch sent again whole is recognized whole.
		batch := []eye.Message{message(3), message(4), message(5)}
		if dups, err := q.Publish(context.Background(), batch...); err != nil || dups != 0 {
			t.Fatalf("batch = %d, %v", dups, err)
		}
		if dups, err := q.Publish(context.Background(), batch...); err != nil || dups != 3 {
			t.Fatalf("batch again = %d, %v; want 3 duplicates", dups, err)
		}
	})
}

func TestFullQueueRefuses(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		q := open(t, 256<<10)
		defer q.Close()
		ctx := context.Background()
		if err := q.Ready(ctx); err != nil {
			t.Fatalf("Ready on an empty queue = %v", err)
		}
		big := message(0)
		big.Payload = make([]byte, 16<<10)
		var err error
		for i := 0; i < 40 && err == nil; i++ {
			m := big
			m.ID = eye.NewID()
			_, err = q.Publish(ctx, m)
		}
		if eye.ErrorCode(err) != eye.EUNAVAILABLE {
			t.Fatalf("publishing past the byte limit: %v, want unavailable", err)
		}
		if err := q.Ready(ctx); eye.ErrorCode(err) != eye.EUNAVAILABLE {
			t.Errorf("Ready on a full queue = %v", err)
		}
		// Once a worker takes messages out, publishes succeed again.
		receive(t, q, 2, true)
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := big
			m.ID = eye.NewID()
			if _, err = q.Publish(ctx, m); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("publish after acks: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// TestRestartKeepsUnacked checks that messages persisted but not
// acknowledged survive a restart of the embedded server, and that those a
// stopping worker had pulled come back at once.
func TestRestartKeepsUnacked(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		q := open(t, 0)
		var sent []eye.Message
		for i := range 10 {
			sent = append(sent, message(i))
			if _, err := q.Publish(context.Background(), sent[i]); err != nil {
				t.Fatal(err)
			}
		}
		receive(t, q, 3, true)
		q.Close()

		q = open(t, 0)
		defer q.Close()
		start := time.Now()
		rest := receive(t, q, 7, false)
		for i, m := range rest {
			if m.ID != sent[3+i].ID {
				t.Errorf("after restart, message %d = %s, want %s", i, m.ID, sent[3+i].ID)
			}
		}
		if waited := time.Since(start); waited > 10*time.Second {
			t.Errorf("redelivery took %v", waited)
		}
	})
}
