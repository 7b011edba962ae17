package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/theeye/eye"
)

// Exports stream every record a filter selects, in one answer: the store is
// read a page at a time (exportPage records), and each page is written out
// before the next is read, so that an export holds a page in memory
// however many records it writes. A Parquet export also holds the row
// group being written, compressed: parquetGroupRows rows, or fewer when
// they take parquetGroupBytes.
const (
	exportPage        = 1000
	parquetGroupRows  = 100_000
	parquetGroupBytes = 16 << 20
	exportStall       = time.Minute // the longest a page may take to write: a client that reads nothing is cut off
)

// ExportCountTrailer is the HTTP trailer that ends a complete export with
// the number of records it holds. An export that fails once it has begun
// is cut off instead: its connection is closed before the end of the
// answer, without the trailer.
const ExportCountTrailer = "X-Eye-Export-Count"

// exportType returns the media type of an export format, "" for none.
func exportType(format string) string {
	switch format {
	case "ndjson":
		return "application/x-ndjson"
	case "csv":
		return "text/csv; charset=utf-8; header=present"
	case "parquet":
		return "application/vnd.apache.parquet"
	}
	return ""
}

// format reads the format parameter of an export: ndjson unless told
// otherwise.
func (p *params) format() string {
	f := p.v.Get("format")
	if f == "" {
		return "ndjson"
	}
	if exportType(f) == "" {
		p.fail("format", "The query parameter \"format\" must be ndjson, csv or parquet, not %q.", f)
	}
	return f
}

// exportEvents answers GET /events/export/: every event the filters of
// GET /events/ select, in their order, in one file.
func (s *Server) exportEvents(w http.ResponseWriter, r *http.Request) {
	names := slices.DeleteFunc(eventParams(), func(n string) bool { return n == "limit" || n == "cursor" })
	p := parseParams(r, append(names, "format")...)
	format := p.format()
	f := eventFilter(p, "", false)
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	f.Limit = exportPage
	pages := func(ctx context.Context, after *eye.Position) (eye.Page[eye.Event], error) {
		f.After = after
		return s.cfg.Store.Events(ctx, f)
	}
	export(s, w, r, eventTable(), format, pages)
}

// exportErrors answers GET /errors/export/: every error record the filters
// of GET /errors/ select, newest first, in one file.
func (s *Server) exportErrors(w http.ResponseWriter, r *http.Request) {
	names := slices.DeleteFunc(errorParams(), func(n string) bool { return n == "limit" || n == "cursor" })
	p := parseParams(r, append(names, "format")...)
	format := p.format()
	f := errorFilter(p)
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	f.Limit = exportPage
	pages := func(ctx context.Context, after *eye.Position) (eye.Page[eye.ErrorRecord], error) {
		f.After = after
		return s.cfg.Store.Errors(ctx, f)
	}
	export(s, w, r, errorTable(), format, pages)
}

// table is how records of one kind are written in each format.
type table[T any] struct {
	name    string                           // of the file: events, errors
	columns []string                         // CSV's header, in the order of fields
	json    func(b []byte, rec T) []byte     // appends the record's JSON, as the API shows it
	fields  func(f []string, rec T) []string // appends its CSV fields
	parquet func(w io.Writer) encoder[T]     // writes its Parquet rows
}

// encoder writes records in one format.
type encoder[T any] interface {
	encode(rec T) error
	// flush writes what the encoder holds back, but for Parquet's row
	// group being written.
	flush() error
	// close writes the end of the file.
	close() error
}

// export writes every record pages returns, in format: headers first,
// once the first page is read (an error until then is a problem
// document), then a page at a time. An error after that, or the client
// going away, cuts the answer off.
func export[T any](s *Server, w http.ResponseWriter, r *http.Request, t table[T], format string,
	pages func(context.Context, *eye.Position) (eye.Page[T], error)) {
	ctx := r.Context()
	start := time.Now()
	page, err := pages(ctx, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}

	h := w.Header()
	h.Set("Content-Type", exportType(format))
	h.Set("Content-Disposition", `attachment; filename="`+t.name+"-"+start.UTC().Format("2006-01-02")+"."+format+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Trailer", ExportCountTrailer)
	var out io.Writer = w
	var zw *gzip.Writer
	if format != "parquet" { // Parquet compresses its columns already
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level
			out = zw
		}
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}

	rows, err := writeExport(ctx, w, out, zw, t, format, page, pages)
	if err != nil {
		if ctx.Err() != nil {
			s.log.Debug("export stopped: the client went away", "request_id", requestID(r), "path", r.URL.Path, "rows", rows)
		} else {
			s.log.Warn("export cut off", "request_id", requestID(r), "path", r.URL.Path, "format", format, "rows", rows, "error", err)
		}
		// Close the connection before the end of the answer, so that the
		// client cannot take what it got for the whole export.
		panic(http.ErrAbortHandler)
	}
	h.Set(ExportCountTrailer, strconv.FormatInt(rows, 10))
	s.log.Info("export", "request_id", requestID(r), "path", r.URL.Path, "format", format, "rows", rows,
		"duration_ms", time.Since(start).Milliseconds())
}

// writeExport writes the records of page and of the pages after it, and
// returns how many it wrote.
func writeExport[T any](ctx context.Context, w http.ResponseWriter, out io.Writer, zw *gzip.Writer, t table[T], format string,
	page eye.Page[T], pages func(context.Context, *eye.Position) (eye.Page[T], error)) (int64, error) {
	bw := bufio.NewWriterSize(out, 64<<10)
	var enc encoder[T]
	switch format {
	case "ndjson":
		enc = &ndjsonEncoder[T]{w: bw, json: t.json}
	case "csv":
		enc = newCSVEncoder(bw, t.columns, t.fields)
	default:
		enc = t.parquet(bw)
	}
	rc := http.NewResponseController(w)
	var rows int64
	for {
		// The server's write timeout bounds a whole answer: an export
		// instead gets exportStall to write each page.
		_ = rc.SetWriteDeadline(time.Now().Add(exportStall))
		for _, rec := range page.Items {
			if err := enc.encode(rec); err != nil {
				return rows, err
			}
			rows++
		}
		// Send each page on: the client sees the export advance.
		if err := enc.flush(); err != nil {
			return rows, err
		}
		if err := bw.Flush(); err != nil {
			return rows, err
		}
		if zw != nil {
			if err := zw.Flush(); err != nil {
				return rows, err
			}
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return rows, err
		}
		if page.Next == nil {
			break
		}
		var err error
		if page, err = pages(ctx, page.Next); err != nil {
			return rows, err
		}
	}
	if err := enc.close(); err != nil {
		return rows, err
	}
	if err := bw.Flush(); err != nil {
		return rows, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// acceptsGzip reports whether Accept-Encoding values accept gzip: named,
// or as *, with a quality above 0.
func acceptsGzip(values []string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			if name, value, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(name), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "*":
				anyQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// ndjsonEncoder writes one JSON object per line.
type ndjsonEncoder[T any] struct {
	w    *bufio.Writer
	json func([]byte, T) []byte
	buf  []byte
}

func (e *ndjsonEncoder[T]) encode(rec T) error {
	e.buf = append(e.json(e.buf[:0], rec), '\n')
	_, err := e.w.Write(e.buf)
	return err
}

func (e *ndjsonEncoder[T]) flush() error { return nil }
func (e *ndjsonEncoder[T]) close() error { return nil }

// csvEncoder writes RFC 4180 CSV: a header row, then a row per record,
// each line ended by CRLF. A field is quoted when it holds a comma, a
// double quote (doubled), a line break, or starts or ends with a space;
// line breaks inside fields are kept as they are.
type csvEncoder[T any] struct {
	w      *bufio.Writer
	fields func([]string, T) []string
	header []string
	row    []string
}

func newCSVEncoder[T any](w *bufio.Writer, columns []string, fields func([]string, T) []string) *csvEncoder[T] {
	return &csvEncoder[T]{w: w, fields: fields, header: columns}
}

func (e *csvEncoder[T]) encode(rec T) error {
	if e.header != nil {
		if err := e.writeRow(e.header); err != nil {
			return err
		}
		e.header = nil
	}
	e.row = e.fields(e.row[:0], rec)
	return e.writeRow(e.row)
}

// writeRow writes one CSV row.
func (e *csvEncoder[T]) writeRow(fields []string) error {
	for i, f := range fields {
		if i > 0 {
			e.w.WriteByte(',')
		}
		if f == "" || !strings.ContainsAny(f, ",\"\r\n") && f[0] != ' ' && f[len(f)-1] != ' ' {
			e.w.WriteString(f)
			continue
		}
		e.w.WriteByte('"')
		e.w.WriteString(strings.ReplaceAll(f, `"`, `""`))
		e.w.WriteByte('"')
	}
	_, err := e.w.WriteString("\r\n")
	return err
}

func (e *csvEncoder[T]) flush() error { return nil }

// close writes the header of an export without records.
func (e *csvEncoder[T]) close() error {
	if e.header != nil {
		return e.writeRow(e.header)
	}
	return nil
}

// parquetEncoder writes records as rows of a Parquet file, a row group at
// a time.
type parquetEncoder[T, R any] struct {
	w     *parquet.GenericWriter[R]
	row   func(T) R
	rows  []R   // handed to w at each flush
	group int   // rows in the row group being written
	start int64 // the file's size when it began
}

func newParquetEncoder[T, R any](w io.Writer, row func(T) R) *parquetEncoder[T, R] {
	return &parquetEncoder[T, R]{
		w: parquet.NewGenericWriter[R](w,
			parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
			parquet.PageBufferSize(64<<10)),
		row:  row,
		rows: make([]R, 0, exportPage),
	}
}

func (e *parquetEncoder[T, R]) encode(rec T) error {
	e.rows = append(e.rows, e.row(rec))
	if len(e.rows) == cap(e.rows) {
		return e.flush()
	}
	return nil
}

// flush hands the rows held to the Parquet writer, and ends the row
// group once it is large enough.
func (e *parquetEncoder[T, R]) flush() error {
	if len(e.rows) == 0 {
		return nil
	}
	n, err := e.w.Write(e.rows)
	clear(e.rows)
	e.rows = e.rows[:0]
	if err != nil {
		return err
	}
	e.group += n
	if e.group >= parquetGroupRows || e.w.Size()-e.start >= parquetGroupBytes {
		if err := e.w.Flush(); err != nil {
			return err
		}
		e.group, e.start = 0, e.w.Size()
	}
	return nil
}

func (e *parquetEncoder[T, R]) close() error {
	if err := e.flush(); err != nil {
		return err
	}
	return e.w.Close()
}

// Events in exports: the members of the API's event, in its order; data
// and other JSON values as their JSON text.
func eventTable() table[eye.Event] {
	return table[eye.Event]{
		name: "events",
		columns: []string{"id", "event_id", "session_id", "application_id", "category", "name", "data",
			"timestamp", "sent_at", "received_at", "clock_offset_us", "schema_version"},
		json: appendEvent,
		fields: func(f []string, ev eye.Event) []string {
			var sentAt, offset, version string
			if !ev.SentAt.IsZero() {
				sentAt = eye.FormatTime(ev.SentAt)
				offset = strconv.FormatInt(ev.ClockOffset.Microseconds(), 10)
			}
			if ev.SchemaVersion > 0 {
				version = strconv.Itoa(ev.SchemaVersion)
			}
			return append(f, ev.ID, ev.EventID, ev.SessionID, ev.ApplicationID, ev.Category, ev.Name, string(ev.Data),
				eye.FormatTime(ev.Timestamp), sentAt, eye.FormatTime(ev.ReceivedAt), offset, version)
		},
		parquet: func(w io.Writer) encoder[eye.Event] { return newParquetEncoder(w, eventRow) },
	}
}

// eventParquet is an event as a Parquet row. Times are TIMESTAMP(MICROS)
// in UTC; data is a string column of its JSON text.
type eventParquet struct {
	ID            string  `parquet:"id"`
	EventID       *string `parquet:"event_id,optional"`
	SessionID     string  `parquet:"session_id"`
	ApplicationID string  `parquet:"application_id,dict"`
	Category      string  `parquet:"category,dict"`
	Name          string  `parquet:"name,dict"`
	Data          string  `parquet:"data"`
	Timestamp     int64   `parquet:"timestamp,timestamp(microsecond:utc)"`
	SentAt        *int64  `parquet:"sent_at,optional,timestamp(microsecond:utc)"`
	ReceivedAt    int64   `parquet:"received_at,timestamp(microsecond:utc)"`
	ClockOffsetUS *int64  `parquet:"clock_offset_us,optional"`
	SchemaVersion *int32  `parquet:"schema_version,optional"`
}

func eventRow(ev eye.Event) eventParquet {
	row := eventParquet{
		ID:            ev.ID,
		EventID:       optional(ev.EventID),
		SessionID:     ev.SessionID,
		ApplicationID: ev.ApplicationID,
		Category:      ev.Category,
		Name:          ev.Name,
		Data:          string(ev.Data),
		Timestamp:     ev.Timestamp.UnixMicro(),
		ReceivedAt:    ev.ReceivedAt.UnixMicro(),
	}
	if !ev.SentAt.IsZero() {
		sent, offset := ev.SentAt.UnixMicro(), ev.ClockOffset.Microseconds()
		row.SentAt, row.ClockOffsetUS = &sent, &offset
	}
	if ev.SchemaVersion > 0 {
		v := int32(ev.SchemaVersion)
		row.SchemaVersion = &v
	}
	return row
}

// Error records in exports: the members of the API's error record, in its
// order; reasons and payload as their JSON text.
func errorTable() table[eye.ErrorRecord] {
	return table[eye.ErrorRecord]{
		name: "errors",
		columns: []string{"id", "received_at", "event_id", "application_id", "category", "name", "session_id",
			"reasons", "message", "payload", "payload_encoding", "status", "replayed_as"},
		json: func(b []byte, rec eye.ErrorRecord) []byte {
			return appendJSON(b, errorToJSON(rec))
		},
		fields: func(f []string, rec eye.ErrorRecord) []string {
			e := errorToJSON(rec)
			reasons := appendJSON(nil, e.Reasons)
			return append(f, e.ID, e.ReceivedAt, deref(e.EventID), e.ApplicationID, deref(e.Category), deref(e.Name),
				deref(e.SessionID), string(reasons), e.Message, string(e.Payload), e.PayloadEncoding, e.Status, deref(e.ReplayedAs))
		},
		parquet: func(w io.Writer) encoder[eye.ErrorRecord] { return newParquetEncoder(w, errorRow) },
	}
}

// errorParquet is an error record as a Parquet row.
type errorParquet struct {
	ID              string  `parquet:"id"`
	ReceivedAt      int64   `parquet:"received_at,timestamp(microsecond:utc)"`
	EventID         *string `parquet:"event_id,optional"`
	ApplicationID   string  `parquet:"application_id,dict"`
	Category        *string `parquet:"category,optional,dict"`
	Name            *string `parquet:"name,optional,dict"`
	SessionID       *string `parquet:"session_id,optional"`
	Reasons         string  `parquet:"reasons"`
	Message         string  `parquet:"message"`
	Payload         string  `parquet:"payload"`
	PayloadEncoding string  `parquet:"payload_encoding,dict"`
	Status          string  `parquet:"status,dict"`
	ReplayedAs      *string `parquet:"replayed_as,optional"`
}

func errorRow(rec eye.ErrorRecord) errorParquet {
	e := errorToJSON(rec)
	reasons := appendJSON(nil, e.Reasons)
	return errorParquet{
		ID:              e.ID,
		ReceivedAt:      rec.ReceivedAt.UnixMicro(),
		EventID:         e.EventID,
		ApplicationID:   e.ApplicationID,
		Category:        e.Category,
		Name:            e.Name,
		SessionID:       e.SessionID,
		Reasons:         string(reasons),
		Message:         e.Message,
		Payload:         string(e.Payload),
		PayloadEncoding: e.PayloadEncoding,
		Status:          e.Status,
		ReplayedAs:      e.ReplayedAs,
	}
}

// appendJSON appends v's JSON as the API writes it (no HTML escaping).
// v is one of the API's own types, which always marshal.
func appendJSON(b []byte, v any) []byte {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
