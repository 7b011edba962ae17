package client_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/theeye/eye/client"
)

// A web shop tracks what its visitors do. The client sends the events in
// the background; Close sends what is left before the program exits.
func Example() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:8000", os.Getenv("EYE_KEY"),
		client.WithErrorHandler(func(err error) {
			var de *client.DeliveryError
			if errors.As(err, &de) {
				log.Printf("%d events lost: %v", len(de.Events), de.Err)
			}
		}))
	if err != nil {
		log.Fatal(err)
	}

	session := client.NewSessionID()
	events := []client.Event{
		client.Pageview(session, "www.example.com", "/"),
		client.CTAClick(session, "www.example.com", "/", "chat bubble"),
		client.FormSubmit(session, "www.example.com", "/contact", map[string]any{
			"first_name": "John", "last_name": "Doe",
		}),
	}
	for _, ev := range events {
		if err := c.Track(ctx, ev); err != nil {
			log.Print(err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		log.Print(err)
	}
}

// Events of any type: the category and name identify it, data is its
// payload. An event_id of the application's own makes a resent event
// stored once, even by another process.
func ExampleClient_Track() {
	c, err := client.New("http://127.0.0.1:8000", os.Getenv("EYE_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	err = c.Track(context.Background(), client.Event{
		SessionID: client.NewSessionID(),
		Category:  "checkout",
		Name:      "payment accepted",
		Data:      map[string]any{"order": "A-1042", "amount": "19.90", "currency": "EUR"},
		Timestamp: time.Now(),
		EventID:   "order-A-1042-paid",
	})
	if err != nil {
		log.Print(err)
	}
}

// A program that must not slow down when The Eye is unreachable drops
// events once the buffer is full, and is told of each.
func ExampleWithBufferPolicy() {
	logger := slog.Default()
	c, err := client.New("http://127.0.0.1:8000", os.Getenv("EYE_KEY"),
		client.WithBufferSize(50_000),
		client.WithBufferPolicy(client.Drop),
		client.WithErrorHandler(func(err error) {
			logger.Warn("event not delivered", "error", err)
		}),
		client.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())
}
