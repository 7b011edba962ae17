package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/theeye/eye/internal/api"
)

// dataFlags are the repeated -data key=value flags.
type dataFlags []string

func (d *dataFlags) String() string { return strings.Join(*d, " ") }

func (d *dataFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return errors.New("want key=value, such as host=www.example.com or form.first_name=John")
	}
	*d = append(*d, v)
	return nil
}

// exportCommand runs "eye export": the events (or error records) of a
// running service that the filters select, in one file, streamed.
func exportCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, fs := clientFlags("export", getenv, stderr)
	format := fs.String("format", "ndjson", "ndjson, csv or parquet")
	kind := fs.String("type", "events", "events or errors (error records)")
	output := fs.String("o", "", "write to this file, once complete (default: standard output)")
	params := map[string]*string{
		"session":     fs.String("session", "", "only this session's"),
		"category":    fs.String("category", "", "only this category"),
		"name":        fs.String("name", "", "only this name"),
		"application": fs.String("application", "", "only this application's (its id)"),
		"order":       fs.String("order", "", "events: desc (newest first, the default) or asc"),
		"code":        fs.String("code", "", "error records: with a reason of this code"),
		"status":      fs.String("status", "", "error records: open, replayed or discarded"),
	}
	from := fs.String("from", "", "events: timestamp at or after; error records: received at or after (RFC 3339)")
	to := fs.String("to", "", "events: timestamp at or before; error records: received at or before (RFC 3339)")
	var data dataFlags
	fs.Var(&data, "data", "events: key=value, a member of data and its value (repeatable; all must hold)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q (flags come before: eye export -format csv -o FILE)", fs.Arg(0))
	}
	q := url.Values{"format": {*format}}
	for name, v := range params {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	timeParam := "timestamp"
	switch *kind {
	case "events":
	case "errors":
		timeParam = "received"
	default:
		return fmt.Errorf("export: -type must be events or errors, not %q", *kind)
	}
	if *from != "" {
		q.Set(timeParam+"__gte", *from)
	}
	if *to != "" {
		q.Set(timeParam+"__lte", *to)
	}
	for _, d := range data {
		k, v, _ := strings.Cut(d, "=")
		q.Set("data."+k, v)
	}

	res, err := c.get(ctx, "/"+*kind+"/export/", q)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer res.Body.Close()

	var out io.Writer = stdout
	var file *os.File
	if *output != "" {
		// Into a file beside the one asked for, renamed once complete: a
		// file of that name is always a whole export.
		file, err = os.CreateTemp(filepath.Dir(*output), "."+filepath.Base(*output)+".*.partial")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(file.Name()) // fails once renamed
		defer file.Close()
		out = file
	}
	count := &exportCounter{format: *format, start: time.Now()}
	if isTerminal(stderr) {
		count.progress = stderr
	}
	_, err = io.Copy(io.MultiWriter(out, count), res.Body)
	if err != nil {
		count.done()
		if ctx.Err() != nil {
			return fmt.Errorf("export: stopped: %w", ctx.Err())
		}
		return fmt.Errorf("export: the service cut the export off (%w): what was written is incomplete", err)
	}
	// The trailer counts the rows of a complete export. A proxy may drop
	// trailers: then the body's clean end is the only sign.
	if n, err := strconv.ParseInt(res.Trailer.Get(api.ExportCountTrailer), 10, 64); err == nil {
		if *format == "parquet" {
			count.lines = n // not counted as it arrives
		} else if n != count.rows() {
			count.done()
			return fmt.Errorf("export: received %d rows, but the service sent %d", count.rows(), n)
		}
	}
	count.done()
	if file == nil {
		return nil
	}
	if err := file.Sync(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(file.Name(), *output); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// exportCounter counts the bytes and rows of an export as they arrive,
// and shows them on progress, when not nil, at most 4 times a second.
type exportCounter struct {
	format      string
	progress    io.Writer
	start, last time.Time
	bytes       int64
	lines       int64 // NDJSON lines, CSV records (the header included), or Parquet rows (from the trailer)
	inQuotes    bool  // inside a quoted CSV field, where a line break is data
}

func (c *exportCounter) Write(b []byte) (int, error) {
	c.bytes += int64(len(b))
	switch c.format {
	case "ndjson":
		c.lines += int64(bytes.Count(b, []byte{'\n'}))
	case "csv":
		for _, ch := range b {
			switch {
			case ch == '"':
				c.inQuotes = !c.inQuotes // a doubled quote toggles twice
			case ch == '\n' && !c.inQuotes:
				c.lines++
			}
		}
	}
	if now := time.Now(); c.progress != nil && now.Sub(c.last) >= 250*time.Millisecond {
		c.last = now
		fmt.Fprint(c.progress, "\r"+c.line(now)+"\x1b[K")
	}
	return len(b), nil
}

// rows returns the rows received: CSV's header is not one.
func (c *exportCounter) rows() int64 {
	if c.format == "csv" && c.lines > 0 {
		return c.lines - 1
	}
	return c.lines
}

// line describes the export so far: rows (for Parquet, once the
// trailer tells them), bytes, and their rates.
func (c *exportCounter) line(now time.Time) string {
	secs := max(now.Sub(c.start).Seconds(), 0.001)
	rows := c.format != "parquet" || c.lines > 0
	var b strings.Builder
	if rows {
		fmt.Fprintf(&b, "%d rows, ", c.rows())
	}
	fmt.Fprintf(&b, "%s in %s (", size(float64(c.bytes)), now.Sub(c.start).Round(time.Second))
	if rows {
		fmt.Fprintf(&b, "%.0f rows/s, ", float64(c.rows())/secs)
	}
	fmt.Fprintf(&b, "%s/s)", size(float64(c.bytes)/secs))
	return b.String()
}

// done ends the progress line.
func (c *exportCounter) done() {
	if c.progress != nil {
		fmt.Fprint(c.progress, "\r"+c.line(time.Now())+"\x1b[K\n")
	}
}

// size writes a number of bytes in B, kB, MB or GB (powers of 1,000).
func size(n float64) string {
	for _, unit := range []string{"B", "kB", "MB"} {
		if n < 1000 {
			return fmt.Sprintf("%.1f %s", n, unit)
		}
		n /= 1000
	}
	return fmt.Sprintf("%.1f GB", n)
}
