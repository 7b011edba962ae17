// Track sends a few events of one session to The Eye with the Go client:
// a pageview, a click on a call to action, a form submit.
//
//	go run ./examples/track -url http://127.0.0.1:8000 -key eye_…
//
// The URL and the key may also come from EYE_URL and EYE_KEY; the key
// needs the ingest scope.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/theeye/eye/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "track:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", envOr("EYE_URL", "http://127.0.0.1:8000"), "The Eye's URL (EYE_URL)")
	key := flag.String("key", os.Getenv("EYE_KEY"), "an API key with the ingest scope (EYE_KEY)")
	host := flag.String("host", "www.example.com", "the host the events happened on")
	mint := flag.Bool("create-session", false, "ask the API for the session id instead of making one")
	flag.Parse()
	if *key == "" {
		return fmt.Errorf("no key: pass -key or set EYE_KEY")
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := client.New(*url, *key,
		client.WithLogger(logger),
		client.WithErrorHandler(func(err error) {
			logger.Error("not delivered", "error", err)
		}))
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session := client.NewSessionID()
	if *mint {
		if session, err = c.CreateSession(ctx); err != nil {
			c.Close(ctx)
			return err
		}
	}
	events := []client.Event{
		client.Pageview(session, *host, "/"),
		client.CTAClick(session, *host, "/", "chat bubble"),
		client.FormSubmit(session, *host, "/contact", map[string]any{"first_name": "John", "last_name": "Doe"}),
	}
	for _, ev := range events {
		if err := c.Track(ctx, ev); err != nil {
			c.Close(ctx)
			return err
		}
	}
	if err := c.Close(ctx); err != nil {
		return err
	}
	st := c.Stats()
	fmt.Printf("session %s: %d events delivered, %d not\n", session, st.Delivered, st.Failed)
	if st.Failed > 0 {
		return fmt.Errorf("%d events not delivered", st.Failed)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
