package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/theeye/eye"
)

// storeCommand runs "eye store copy".
func storeCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "Usage: eye store copy -from SQLITE_PATH -to postgres://… [-state FILE] [-batch N]"
	if len(args) == 0 || args[0] != "copy" {
		return usageError(stderr, usage)
	}
	fs := flag.NewFlagSet("eye store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the store to copy: a SQLite file (or sqlite:PATH), or postgres://…")
	to := fs.String("to", "", "the store to copy into: postgres://… (or a SQLite file)")
	statePath := fs.String("state", "", "where the copy records how far it got, to resume (default: FROM.copy.json)")
	batch := fs.Int("batch", 1000, "records per transaction")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr, "\nCopies applications, keys, users, schemas, sessions, events and error records, then compares the counts.\nRun it with the source stopped. Run it again to resume.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *from == "" || *to == "" || fs.NArg() > 0 || *batch < 1 || *batch > 10000 {
		fs.Usage()
		return errors.New("eye store copy: -from and -to are required, -batch from 1 to 10000")
	}
	if *statePath == "" {
		*statePath = strings.TrimPrefix(*from, "sqlite:") + ".copy.json"
		if isPostgres(*from) {
			return errors.New("eye store copy: -state is required when copying from PostgreSQL")
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := openStoreAt(ctx, *from, log)
	if err != nil {
		return fmt.Errorf("open -from: %w", err)
	}
	defer src.Close()
	dst, err := openStoreAt(ctx, *to, log)
	if err != nil {
		return fmt.Errorf("open -to: %w", err)
	}
	defer dst.Close()
	c := &copier{from: src, to: dst, batch: *batch, statePath: *statePath, out: stdout}
	if err := c.load(); err != nil {
		return err
	}
	return c.run(ctx)
}

// openStoreAt opens and migrates the store at spec: postgres://…, or a
// SQLite file (sqlite:PATH or the bare path).
func openStoreAt(ctx context.Context, spec string, log *slog.Logger) (store, error) {
	c := config{DatabaseURL: spec}
	if !isPostgres(spec) && !strings.HasPrefix(spec, "sqlite:") {
		c.DatabaseURL = "sqlite:" + spec
	}
	return openStore(ctx, c, log, true)
}

func isPostgres(spec string) bool {
	c := config{DatabaseURL: spec}
	return c.postgres()
}

// copier copies one store into another. Every step is idempotent: records
// already in the destination are skipped (the store's writes are by id), so
// a copy that stopped is run again; the state file only saves it from
// reading again the events and error records it copied already.
type copier struct {
	from, to  eye.Store
	batch     int
	statePath string
	out       io.Writer
	state     copyState
}

// copyState is how far a copy got, saved after each batch.
type copyState struct {
	Events     *eye.Position `json:"events_after,omitempty"`
	EventsDone bool          `json:"events_done"`
	Errors     *eye.Position `json:"errors_after,omitempty"`
	ErrorsDone bool          `json:"errors_done"`
	Rejected   []string      `json:"rejected,omitempty"` // events the destination refused, kept as error records
}

func (c *copier) load() error {
	b, err := os.ReadFile(c.statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read copy state: %w", err)
	}
	if err := json.Unmarshal(b, &c.state); err != nil {
		return fmt.Errorf("read copy state %s: %w", c.statePath, err)
	}
	fmt.Fprintf(c.out, "Resuming from %s.\n", c.statePath)
	return nil
}

func (c *copier) save() error {
	b, err := json.MarshalIndent(c.state, "", "  ")
	if err != nil {
		return fmt.Errorf("copy state: %w", err)
	}
	tmp := c.statePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write copy state: %w", err)
	}
	if err := os.Rename(tmp, c.statePath); err != nil {
		return fmt.Errorf("write copy state: %w", err)
	}
	return nil
}

func (c *copier) run(ctx context.Context) error {
	steps := []struct {
		what string
		run  func(context.Context) error
	}{
		{"applications", c.applications},
		{"keys", c.keys},
		{"users", c.users},
		{"schemas", c.schemas},
		{"sessions", c.sessions},
		{"events", c.events},
		{"error records", c.errors},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("copy %s: %w", s.what, err)
		}
	}
	return c.verify(ctx)
}

func (c *copier) applications(ctx context.Context) error {
	apps, err := c.from.Applications(ctx)
	if err != nil {
		return err
	}
	made := 0
	for _, a := range apps {
		got, err := c.to.Application(ctx, a.ID)
		switch {
		case eye.ErrorCode(err) == eye.ENOTFOUND:
			if err := c.to.CreateApplication(ctx, a); err != nil {
				return err
			}
			made++
		case err != nil:
			return err
		case got.Name != a.Name || got.Active != a.Active:
			if err := c.to.UpdateApplication(ctx, a); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(c.out, "applications: %d, %d copied now\n", len(apps), made)
	return nil
}

func (c *copier) keys(ctx context.Context) error {
	apps, err := c.from.Applications(ctx)
	if err != nil {
		return err
	}
	var keys []eye.Key
	for _, a := range apps {
		ks, err := c.from.ApplicationKeys(ctx, a.ID)
		if err != nil {
			return err
		}
		keys = append(keys, ks...)
	}
	working, err := c.from.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range working {
		if k.ApplicationID == "" {
			keys = append(keys, k) // the admin key; revoked ones of no application matter no more
		}
	}
	have := map[string]eye.Key{}
	if err := c.destinationKeys(ctx, apps, have); err != nil {
		return err
	}
	made := 0
	for _, k := range keys {
		got, ok := have[k.ID]
		if !ok {
			if err := c.to.CreateKey(ctx, k); err != nil {
				return err
			}
			made++
		}
		if !k.RevokedAt.IsZero() && got.RevokedAt.IsZero() {
			if err := c.to.RevokeKey(ctx, k.ApplicationID, k.ID); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(c.out, "keys: %d, %d copied now\n", len(keys), made)
	return nil
}

// destinationKeys fills have with the destination's keys, by id.
func (c *copier) destinationKeys(ctx context.Context, apps []eye.Application, have map[string]eye.Key) error {
	for _, a := range apps {
		ks, err := c.to.ApplicationKeys(ctx, a.ID)
		if err != nil {
			return err
		}
		for _, k := range ks {
			have[k.ID] = k
		}
	}
	ks, err := c.to.Keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range ks {
		have[k.ID] = k
	}
	return nil
}

func (c *copier) users(ctx context.Context) error {
	users, err := c.from.Users(ctx)
	if err != nil {
		return err
	}
	have, err := c.to.Users(ctx)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, u := range have {
		ids[u.ID] = true
	}
	made := 0
	for _, u := range users {
		if ids[u.ID] {
			continue
		}
		if err := c.to.CreateUser(ctx, u); err != nil {
			return err
		}
		made++
	}
	fmt.Fprintf(c.out, "users: %d, %d copied now\n", len(users), made)
	return nil
}

func (c *copier) schemas(ctx context.Context) error {
	latest, err := c.from.Schemas(ctx)
	if err != nil {
		return err
	}
	made := 0
	for _, l := range latest {
		versions, err := c.from.SchemaVersions(ctx, l.Category, l.Name)
		if err != nil {
			return err
		}
		have, err := c.to.SchemaVersions(ctx, l.Category, l.Name)
		if err != nil && eye.ErrorCode(err) != eye.ENOTFOUND {
			return err
		}
		for _, v := range versions[min(len(have), len(versions)):] {
			sc, err := c.from.Schema(ctx, l.Category, l.Name, v.Version)
			if err != nil {
				return err
			}
			put, err := c.to.PutSchema(ctx, sc)
			if err != nil {
				return err
			}
			if put.Version != sc.Version {
				return fmt.Errorf("schema of %s/%s: version %d became %d in the destination", sc.Category, sc.Name, sc.Version, put.Version)
			}
			made++
		}
		if !l.Active {
			err := c.to.DeleteSchema(ctx, l.Category, l.Name)
			if err != nil && eye.ErrorCode(err) != eye.ENOTFOUND {
				return err
			}
		}
	}
	fmt.Fprintf(c.out, "schemas: %d types, %d versions copied now\n", len(latest), made)
	return nil
}

// sessions copies every session as a minted one, so that sessions with no
// events and the creation time of each are kept; the events copied next
// fill their counters.
func (c *copier) sessions(ctx context.Context) error {
	n, made := 0, 0
	f := eye.SessionFilter{Limit: c.batch}
	for {
		page, err := c.from.Sessions(ctx, f)
		if err != nil {
			return err
		}
		b := eye.Batch{}
		for _, s := range page.Items {
			b.Sessions = append(b.Sessions, eye.Session{ID: s.ID, CreatedAt: s.CreatedAt})
		}
		res, err := c.to.Write(ctx, b)
		if err != nil {
			return err
		}
		n, made = n+len(page.Items), made+res.Sessions
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	fmt.Fprintf(c.out, "sessions: %d, %d copied now\n", n, made)
	return nil
}

func (c *copier) events(ctx context.Context) error {
	if c.state.EventsDone {
		fmt.Fprintln(c.out, "events: copied already")
		return nil
	}
	p := newProgress(c.out, "events")
	f := eye.EventFilter{Ascending: true, Limit: c.batch, After: c.state.Events}
	for {
		page, err := c.from.Events(ctx, f)
		if err != nil {
			return err
		}
		res, err := c.writeEvents(ctx, page.Items)
		if err != nil {
			return err
		}
		p.add(len(page.Items), res.Events)
		c.state.Events, c.state.EventsDone = page.Next, page.Next == nil
		if err := c.save(); err != nil {
			return err
		}
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	p.done()
	return nil
}

// writeEvents writes a page of events. When the destination refuses the
// batch for what one of its events holds (PostgreSQL refuses \u0000 in
// JSON), the events are written one by one, and each one refused is kept as
// an error record (store_rejected) with the event as its payload: nothing
// is left behind silently.
func (c *copier) writeEvents(ctx context.Context, events []eye.Event) (eye.WriteResult, error) {
	res, err := c.to.Write(ctx, eye.Batch{Events: events})
	if eye.ErrorCode(err) != eye.EINVALID {
		return res, err
	}
	var total eye.WriteResult
	for _, ev := range events {
		res, err := c.to.Write(ctx, eye.Batch{Events: []eye.Event{ev}})
		if eye.ErrorCode(err) == eye.EINVALID {
			rec := eye.ErrorRecord{
				ID: ev.ID, ReceivedAt: ev.ReceivedAt, EventID: ev.EventID, ApplicationID: ev.ApplicationID,
				Category: ev.Category, Name: ev.Name, SessionID: ev.SessionID, Seq: ev.Seq, Payload: eventPayload(ev),
				Reasons: []eye.Reason{{Code: eye.CodeStoreRejected, Message: "the store refused the event when it was copied: " + err.Error()}},
			}
			res, err = c.to.Write(ctx, eye.Batch{Errors: []eye.ErrorRecord{rec}})
			if err != nil {
				return total, err
			}
			c.state.Rejected = append(c.state.Rejected, ev.ID)
			fmt.Fprintf(c.out, "event %s refused by the destination; kept as an error record (store_rejected)\n", ev.ID)
		} else if err != nil {
			return total, err
		}
		total.Events += res.Events
		total.Errors += res.Errors
		total.Duplicates += res.Duplicates
	}
	return total, nil
}

// eventPayload is an event as an application would send it.
func eventPayload(ev eye.Event) []byte {
	m := map[string]any{"session_id": ev.SessionID, "category": ev.Category, "name": ev.Name,
		"data": ev.Data, "timestamp": ev.Timestamp.Format(time.RFC3339Nano)}
	if ev.EventID != "" {
		m["event_id"] = ev.EventID
	}
	b, _ := json.Marshal(m) // strings and a json.RawMessage already valid
	return b
}

func (c *copier) errors(ctx context.Context) error {
	if c.state.ErrorsDone {
		fmt.Fprintln(c.out, "error records: copied already")
		return nil
	}
	p := newProgress(c.out, "error records")
	f := eye.ErrorFilter{Limit: c.batch, After: c.state.Errors}
	for {
		page, err := c.from.Errors(ctx, f)
		if err != nil {
			return err
		}
		res, err := c.to.Write(ctx, eye.Batch{Errors: page.Items})
		if err != nil {
			return err
		}
		p.add(len(page.Items), res.Errors)
		c.state.Errors, c.state.ErrorsDone = page.Next, page.Next == nil
		if err := c.save(); err != nil {
			return err
		}
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	p.done()
	return nil
}

// verify compares what each store holds: it fails unless every count is
// equal (events refused by the destination count as its error records).
func (c *copier) verify(ctx context.Context) error {
	a, err := countStore(ctx, c.from)
	if err != nil {
		return fmt.Errorf("count -from: %w", err)
	}
	b, err := countStore(ctx, c.to)
	if err != nil {
		return fmt.Errorf("count -to: %w", err)
	}
	rejected := int64(len(c.state.Rejected))
	want := a
	want.events -= rejected
	want.errors += rejected
	fmt.Fprintf(c.out, "\n%-16s %12s %12s\n", "", "from", "to")
	var bad []string
	for _, row := range []struct {
		what       string
		from, want int64
		to         int64
	}{
		{"applications", a.applications, want.applications, b.applications},
		{"keys", a.keys, want.keys, b.keys},
		{"users", a.users, want.users, b.users},
		{"schema versions", a.schemas, want.schemas, b.schemas},
		{"sessions", a.sessions, want.sessions, b.sessions},
		{"events", a.events, want.events, b.events},
		{"error records", a.errors, want.errors, b.errors},
	} {
		fmt.Fprintf(c.out, "%-16s %12d %12d\n", row.what, row.from, row.to)
		if row.to != row.want {
			bad = append(bad, fmt.Sprintf("%s: %d, want %d", row.what, row.to, row.want))
		}
	}
	if rejected > 0 {
		fmt.Fprintf(c.out, "%d event(s) refused by the destination are among its error records (store_rejected).\n", rejected)
	}
	if len(bad) > 0 {
		return fmt.Errorf("the stores differ (was the source in use?): %s", strings.Join(bad, "; "))
	}
	fmt.Fprintln(c.out, "Copied; every count matches.")
	return nil
}

type storeCounts struct {
	applications, keys, users, schemas, sessions, events, errors int64
}

// countStore counts what a store holds. Events are counted by the per-type
// counters the store keeps in the same transactions as the events; the
// rest by reading them.
func countStore(ctx context.Context, s eye.Store) (storeCounts, error) {
	var n storeCounts
	apps, err := s.Applications(ctx)
	if err != nil {
		return n, err
	}
	n.applications = int64(len(apps))
	for _, a := range apps {
		ks, err := s.ApplicationKeys(ctx, a.ID)
		if err != nil {
			return n, err
		}
		n.keys += int64(len(ks))
	}
	ks, err := s.Keys(ctx)
	if err != nil {
		return n, err
	}
	for _, k := range ks {
		if k.ApplicationID == "" {
			n.keys++
		}
	}
	users, err := s.Users(ctx)
	if err != nil {
		return n, err
	}
	n.users = int64(len(users))
	latest, err := s.Schemas(ctx)
	if err != nil {
		return n, err
	}
	for _, l := range latest {
		n.schemas += int64(l.Version)
	}
	types, err := s.EventTypes(ctx)
	if err != nil {
		return n, err
	}
	for _, t := range types {
		n.events += t.Events
	}
	sf := eye.SessionFilter{Limit: 1000}
	for {
		page, err := s.Sessions(ctx, sf)
		if err != nil {
			return n, err
		}
		n.sessions += int64(len(page.Items))
		if page.Next == nil {
			break
		}
		sf.After = page.Next
	}
	ef := eye.ErrorFilter{Limit: 1000}
	for {
		page, err := s.Errors(ctx, ef)
		if err != nil {
			return n, err
		}
		n.errors += int64(len(page.Items))
		if page.Next == nil {
			break
		}
		ef.After = page.Next
	}
	return n, nil
}

// progress prints how a long step goes, every few seconds.
type progress struct {
	out         io.Writer
	what        string
	start, last time.Time
	read, made  int
}

func newProgress(out io.Writer, what string) *progress {
	now := time.Now()
	return &progress{out: out, what: what, start: now, last: now}
}

func (p *progress) add(read, made int) {
	p.read += read
	p.made += made
	if now := time.Now(); now.Sub(p.last) >= 5*time.Second {
		p.last = now
		fmt.Fprintf(p.out, "%s: %d read, %d copied (%.0f/s)\n", p.what, p.read, p.made, float64(p.read)/now.Sub(p.start).Seconds())
	}
}

func (p *progress) done() {
	d := time.Since(p.start)
	fmt.Fprintf(p.out, "%s: %d read, %d copied now, in %s\n", p.what, p.read, p.made, d.Round(time.Millisecond))
}
