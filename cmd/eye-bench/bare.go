package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/theeye/eye"
)

// runBare serves the bare handlers that The Eye's ingest is compared
// with, until SIGTERM: the least an HTTP service must do with the same
// requests. POST /events/ reads the body, decodes the JSON object and
// answers 202 with an id; POST /events/batch/ decodes the array and answers
// 202 with one id per element, as The Eye's answers are shaped.
func runBare(args []string) error {
	fs := flag.NewFlagSet("eye-bench bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8001", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events/{$}", bareEvent)
	mux.HandleFunc("POST /events/batch/{$}", bareBatch)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		bareJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	// The timeouts of The Eye's server.
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("bare: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bare shutdown: %w", err)
	}
	return nil
}

func bareEvent(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	bareJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "id": eye.NewID()})
}

// bareBatchJSON is shaped as The Eye's answer to a batch.
type bareBatchJSON struct {
	Accepted int      `json:"accepted"`
	IDs      []string `json:"ids"`
	Errors   []any    `json:"errors"`
}

func bareBatch(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var evs []map[string]any
	if err := json.Unmarshal(body, &evs); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := bareBatchJSON{Accepted: len(evs), IDs: make([]string, len(evs)), Errors: []any{}}
	for i := range out.IDs {
		out.IDs[i] = eye.NewID()
	}
	bareJSON(w, http.StatusAccepted, out)
}

func bareJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
