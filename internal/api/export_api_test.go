package api_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/sqlite"
)

var eventColumns = []string{"id", "event_id", "session_id", "application_id", "category", "name", "data",
	"timestamp", "sent_at", "received_at", "clock_offset_us", "schema_version"}

// parquetEvent is an event as an export's Parquet file holds it.
type parquetEvent struct {
	ID            string  `parquet:"id"`
	EventID       *string `parquet:"event_id,optional"`
	SessionID     string  `parquet:"session_id"`
	ApplicationID string  `parquet:"application_id"`
	Category      string  `parquet:"category"`
	Name          string  `parquet:"name"`
	Data          string  `parquet:"data"`
	Timestamp     int64   `parquet:"timestamp"`
	SentAt        *int64  `parquet:"sent_at,optional"`
	ReceivedAt    int64   `parquet:"received_at"`
	ClockOffsetUS *int64  `parquet:"clock_offset_us,optional"`
	SchemaVersion *int32  `parquet:"schema_version,optional"`
}

// readNDJSON reads one JSON object per line.
func readNDJSON(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// readCSV reads a CSV file strictly: RFC 4180 quoting, one field count.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Errorf("the CSV does not end with CRLF: %q", b[max(0, len(b)-20):])
	}
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, b)
	}
	return records
}

// readParquet reads an export's Parquet file.
func readParquet[T any](t *testing.T, b []byte) (*parquet.File, []T) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Parquet: %v", err)
	}
	rows, err := parquet.Read[T](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Parquet rows: %v", err)
	}
	return f, rows
}

// jsonText returns v's JSON, for comparisons.
func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameJSON reports whether two JSON texts are one value.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// field returns a JSON member as a CSV field: "" for null, strings as
// they are, numbers in their JSON form, objects as their JSON text.
func field(t *testing.T, v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return jsonText(t, v)
	}
}

var attachment = regexp.MustCompile(`^attachment; filename="(events|errors)-\d{4}-\d{2}-\d{2}\.(ndjson|csv|parquet)"$`)

// TestExportEvents exports the same events in each format and compares
// each file with what GET /events/ answers.
func TestExportEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	sent := []map[string]any{
		pageview(session),
		{"session_id": session, "category": `forms, "quoted"`, "name": "submit", "event_id": "order-42",
			"data":      map[string]any{"form": map[string]any{"first_name": "John", "note": "a, \"b\"\nc"}, "n": 1.50},
			"timestamp": "2021-01-01T09:15:28Z", "sent_at": "2021-01-01T09:15:29Z"},
		{"session_id": session, "category": "page interaction", "name": "cta click",
			"data": map[string]any{"host": "shop.example.com", "element": "<chat bubble> & more"}, "timestamp": "2021-01-01T09:15:29Z"},
	}
	for _, ev := range sent {
		e.accepted(ev)
	}
	list := e.waitEvents("/events/?limit=1000", len(sent))

	// NDJSON: each line is the event as the API shows it.
	res := e.admin("GET", "/events/export/", nil)
	if res.status != 200 || res.header.Get("Content-Type") != "application/x-ndjson" || !attachment.MatchString(res.header.Get("Content-Disposition")) {
		t.Fatalf("GET /events/export/: %d %v\n%s", res.status, res.header, res.body)
	}
	if lines := readNDJSON(t, res.body); !reflect.DeepEqual(lines, list) {
		t.Errorf("NDJSON export:\n%s\nwant the events of GET /events/:\n%v", res.body, list)
	}

	// CSV: a header, then the same members, data as its JSON text.
	res = e.admin("GET", "/events/export/?format=csv", nil)
	if res.status != 200 || res.header.Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
		t.Fatalf("CSV export: %d %v", res.status, res.header)
	}
	if !strings.HasSuffix(res.header.Get("Content-Disposition"), `.csv"`) {
		t.Errorf("Content-Disposition: %q", res.header.Get("Content-Disposition"))
	}
	records := readCSV(t, res.body)
	if len(records) != len(list)+1 || !slices.Equal(records[0], eventColumns) {
		t.Fatalf("CSV export: %d records, header %v", len(records), records[0])
	}
	for i, ev := range list {
		for j, col := range eventColumns {
			got, want := records[i+1][j], field(t, ev[col])
			if col == "data" && !sameJSON(t, got, want) || col != "data" && got != want {
				t.Errorf("CSV row %d, %s = %q, want %q", i+1, col, got, want)
			}
		}
	}

	// Parquet: the same, times as microseconds in UTC.
	res = e.admin("GET", "/events/export/?format=parquet", nil)
	if res.status != 200 || res.header.Get("Content-Type") != "application/vnd.apache.parquet" {
		t.Fatalf("Parquet export: %d %v", res.status, res.header)
	}
	file, rows := readParquet[parquetEvent](t, res.body)
	var names []string
	for _, f := range file.Schema().Fields() {
		names = append(names, f.Name())
	}
	if !slices.Equal(names, eventColumns) {
		t.Errorf("Parquet columns %v, want %v", names, eventColumns)
	}
	for _, name := range []string{"timestamp", "sent_at", "received_at", "data"} {
		want := "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"
		if name == "data" {
			want = "STRING"
		}
		if col, _ := file.Schema().Lookup(name); col.Node.Type().LogicalType().String() != want {
			t.Errorf("Parquet column %s: %v, want %s", name, col.Node.Type().LogicalType(), want)
		}
	}
	if len(rows) != len(list) {
		t.Fatalf("Parquet export: %d rows, want %d", len(rows), len(list))
	}
	for i, ev := range list {
		r := rows[i]
		got := map[string]any{"id": r.ID, "event_id": r.EventID, "session_id": r.SessionID, "application_id": r.ApplicationID,
			"category": r.Category, "name": r.Name, "timestamp": micros(r.Timestamp), "sent_at": optionalMicros(r.SentAt),
			"received_at": micros(r.ReceivedAt), "clock_offset_us": r.ClockOffsetUS, "schema_version": r.SchemaVersion}
		for k, v := range got {
			if jsonText(t, v) != jsonText(t, ev[k]) {
				t.Errorf("Parquet row %d, %s = %s, want %s", i, k, jsonText(t, v), jsonText(t, ev[k]))
			}
		}
		if !sameJSON(t, r.Data, jsonText(t, ev["data"])) {
			t.Errorf("Parquet row %d, data = %s", i, r.Data)
		}
	}

	// The filters of GET /events/, data filters too, and the order.
	for _, q := range []string{"order=asc", "category=page%20interaction", "name=submit", "data.host=www.example.com",
		"data.form.first_name=John&data.n=1.5", "timestamp__gte=2021-01-01T09:15:28Z&timestamp__lte=2021-01-01T09:15:28Z",
		"session=" + session, "application=default&data.host=nowhere"} {
		want := e.admin("GET", "/events/?limit=1000&"+q, nil)
		got := e.admin("GET", "/events/export/?"+q, nil)
		lines := readNDJSON(t, got.body)
		if lines == nil {
			lines = []map[string]any{}
		}
		if got.status != 200 || jsonText(t, lines) != jsonText(t, want.json(t)["results"]) {
			t.Errorf("export ?%s: %d\n%s\nwant\n%s", q, got.status, got.body, want.body)
		}
	}

	// gzip when asked, never for Parquet.
	plain := e.admin("GET", "/events/export/?format=csv", nil, "Accept-Encoding", "identity")
	zipped := e.admin("GET", "/events/export/?format=csv", nil, "Accept-Encoding", "br;q=1.0, gzip;q=0.5")
	if plain.header.Get("Content-Encoding") != "" || zipped.header.Get("Content-Encoding") != "gzip" ||
		zipped.header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Content-Encoding %q and %q", plain.header.Get("Content-Encoding"), zipped.header.Get("Content-Encoding"))
	}
	if got := gunzip(t, zipped.body); !bytes.Equal(got, plain.body) {
		t.Errorf("gzip export:\n%s\nwant\n%s", got, plain.body)
	}
	refused := e.admin("GET", "/events/export/", nil, "Accept-Encoding", "gzip;q=0")
	if refused.header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0: Content-Encoding %q", refused.header.Get("Content-Encoding"))
	}
	pq := e.admin("GET", "/events/export/?format=parquet", nil, "Accept-Encoding", "gzip")
	if pq.header.Get("Content-Encoding") != "" || !bytes.HasPrefix(pq.body, []byte("PAR1")) {
		t.Errorf("Parquet with gzip accepted: Content-Encoding %q, %.4q", pq.header.Get("Content-Encoding"), pq.body)
	}
}

func micros(us int64) string { return eye.FormatTime(time.UnixMicro(us)) }

func optionalMicros(us *int64) *string {
	if us == nil {
		return nil
	}
	s := micros(*us)
	return &s
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportErrors exports error records in each format.
func TestExportErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := pageview(eye.NewID())
	bad["data"] = map[string]any{}
	e.accepted(bad)
	if res := e.admin("POST", "/events/", `{"session_id": `); res.status != 400 {
		t.Fatalf("malformed body: %d", res.status)
	}
	list := e.wait("/errors/?limit=1000", func(r response) bool {
		return r.status == 200 && len(r.json(t)["results"].([]any)) == 2
	}).json(t)["results"].([]any)

	res := e.admin("GET", "/errors/export/", nil)
	if res.status != 200 || !attachment.MatchString(res.header.Get("Content-Disposition")) ||
		!strings.Contains(res.header.Get("Content-Disposition"), `"errors-`) {
		t.Fatalf("GET /errors/export/: %d %v", res.status, res.header)
	}
	lines := readNDJSON(t, res.body)
	if jsonText(t, lines) != jsonText(t, list) {
		t.Errorf("NDJSON export:\n%s\nwant\n%v", res.body, list)
	}

	columns := []string{"id", "received_at", "event_id", "application_id", "category", "name", "session_id",
		"reasons", "message", "payload", "payload_encoding", "status", "replayed_as"}
	records := readCSV(t, e.admin("GET", "/errors/export/?format=csv", nil).body)
	if len(records) != 3 || !slices.Equal(records[0], columns) {
		t.Fatalf("CSV export: %v", records)
	}
	for i, rec := range list {
		m := rec.(map[string]any)
		for j, col := range columns {
			got, want := records[i+1][j], field(t, m[col])
			if col == "reasons" || col == "payload" {
				want = jsonText(t, m[col]) // as JSON text, a string payload too
			}
			if got != want && !sameJSON(t, got, want) {
				t.Errorf("CSV row %d, %s = %q, want %q", i+1, col, got, want)
			}
		}
	}

	type parquetError struct {
		ID         string `parquet:"id"`
		ReceivedAt int64  `parquet:"received_at"`
		Reasons    string `parquet:"reasons"`
		Payload    string `parquet:"payload"`
		Status     string `parquet:"status"`
	}
	_, rows := readParquet[parquetError](t, e.admin("GET", "/errors/export/?format=parquet", nil).body)
	if len(rows) != 2 {
		t.Fatalf("Parquet export: %d rows", len(rows))
	}
	for i, r := range rows {
		m := list[i].(map[string]any)
		if r.ID != m["id"] || micros(r.ReceivedAt) != m["received_at"] || r.Status != m["status"] ||
			!sameJSON(t, r.Reasons, jsonText(t, m["reasons"])) || !sameJSON(t, r.Payload, jsonText(t, m["payload"])) {
			t.Errorf("Parquet row %d: %+v, want %v", i, r, m)
		}
	}

	// The filters of GET /errors/.
	only := readNDJSON(t, e.admin("GET", "/errors/export/?code=empty_data&status=open", nil).body)
	if len(only) != 1 || only[0]["category"] != "page interaction" {
		t.Errorf("export ?code=empty_data: %v", only)
	}
}

// TestExportBadRequests checks the problems an export answers before
// its first byte.
func TestExportBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct{ path, param string }{
		{"/events/export/?format=xml", "format"},
		{"/events/export/?format=CSV", "format"},
		{"/events/export/?limit=10", "limit"},
		{"/events/export/?cursor=AWUB", "cursor"},
		{"/events/export/?order=up", "order"},
		{"/events/export/?session=nope", "session"},
		{"/events/export/?timestamp__gte=yesterday", "timestamp__gte"},
		{"/events/export/?data.a..b=1", "data.a..b"},
		{"/events/export/?data.=1", "data."},
		{"/events/export/?data.x={}", "data.x"},
		{"/errors/export/?format=json", "format"},
		{"/errors/export/?data.host=x", "data.host"},
		{"/errors/export/?status=lost", "status"},
	} {
		p := wantProblem(t, e.admin("GET", tt.path, nil), 400, "invalid_parameter")
		if p["param"] != tt.param {
			t.Errorf("GET %s: param %v, want %s", tt.path, p["param"], tt.param)
		}
	}
	key, _ := e.createKey(e.createApp("ingest only"), eye.ScopeIngest)
	wantProblem(t, e.do("GET", "/events/export/", key, nil), 403, "forbidden")
	wantProblem(t, e.do("GET", "/errors/export/", "", nil), 401, "unauthorized")
}

// exportEnv is the API alone, over an SQLite store of its own, with no
// conformance check in front: its tests read trailers and cut answers
// off.
type exportEnv struct {
	srv   *httptest.Server
	store *sqlite.Store
	logs  *lockedBuffer
}

func newExportEnv(t testing.TB) *exportEnv {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	srv := api.New(api.Config{Store: store, Keys: api.NewKeyring(nil, nil, api.StaticKey(adminKey, "test", eye.ScopeAdmin)),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		store.Close()
	})
	return &exportEnv{srv: ts, store: store, logs: logs}
}

// fill writes n more events, with about dataBytes bytes of random data
// each, in batches of 1,000, a millisecond apart.
func (x *exportEnv) fill(t testing.TB, n, dataBytes int) {
	t.Helper()
	start := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	session := eye.NewID()
	seq, err := x.store.Events(context.Background(), eye.EventFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	if len(seq.Items) > 0 {
		first = int(seq.Items[0].Seq)
	}
	random := make([]byte, dataBytes/2)
	for i := first; i < first+n; i += 1000 {
		var b eye.Batch
		for j := i; j < min(first+n, i+1000); j++ {
			_, _ = rand.Read(random)
			pad := hex.EncodeToString(random)
			ts := start.Add(time.Duration(j) * time.Millisecond)
			b.Events = append(b.Events, eye.Event{ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID, SessionID: session,
				Category: "page interaction", Name: "pageview", Data: fmt.Appendf(nil, `{"i":%d,"pad":"%s"}`, j, pad),
				Timestamp: ts, ReceivedAt: ts, Seq: uint64(j + 1)})
		}
		if _, err := x.store.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// count returns the number of events stored.
func (x *exportEnv) count(t testing.TB) int {
	t.Helper()
	n := 0
	f := eye.EventFilter{Limit: 1000}
	for {
		page, err := x.store.Events(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Items)
		if page.Next == nil {
			return n
		}
		f.After = page.Next
	}
}

// get starts an export; the caller reads and closes the body.
func (x *exportEnv) get(t testing.TB, ctx context.Context, method, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, x.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Accept-Encoding", "identity")
	res, err := x.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %s", method, path, res.Status)
	}
	return res
}

// TestExportComplete checks that an export of several pages holds every
// event once, in order, and ends with the trailer that counts them.
func TestExportComplete(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t)
	const n = 2500 // pages of 1,000
	x.fill(t, n, 10)
	for _, format := range []string{"ndjson", "csv", "parquet"} {
		res := x.get(t, context.Background(), "GET", "/events/export/?order=asc&format="+format)
		if _, ok := res.Trailer[api.ExportCountTrailer]; !ok {
			t.Errorf("%s: no trailer announced: %v", format, res.Trailer)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Trailer.Get(api.ExportCountTrailer); got != strconv.Itoa(n) {
			t.Errorf("%s: trailer %s = %q, want %d", format, api.ExportCountTrailer, got, n)
		}
		var is []int
		switch format {
		case "ndjson":
			for _, ev := range readNDJSON(t, body) {
				is = append(is, int(ev["data"].(map[string]any)["i"].(float64)))
			}
		case "csv":
			for _, rec := range readCSV(t, body)[1:] {
				var data struct{ I int }
				if err := json.Unmarshal([]byte(rec[6]), &data); err != nil {
					t.Fatal(err)
				}
				is = append(is, data.I)
			}
		case "parquet":
			file, rows := readParquet[parquetEvent](t, body)
			if groups := len(file.RowGroups()); groups != 1 {
				t.Errorf("%d row groups, want 1", groups)
			}
			for _, r := range rows {
				var data struct{ I int }
				if err := json.Unmarshal([]byte(r.Data), &data); err != nil {
					t.Fatal(err)
				}
				is = append(is, data.I)
			}
		}
		for i, v := range is {
			if v != i {
				t.Fatalf("%s: row %d is event %d", format, i, v)
			}
		}
		if len(is) != n {
			t.Errorf("%s: %d rows, want %d", format, len(is), n)
		}
	}

	// No events: a header alone, an empty file, a file of no rows.
	for format, want := range map[string]int{"ndjson": 0, "csv": 1} {
		res := x.get(t, context.Background(), "GET", "/events/export/?format="+format+"&category=none")
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if lines := bytes.Count(body, []byte("\n")); lines != want || res.Trailer.Get(api.ExportCountTrailer) != "0" {
			t.Errorf("%s of nothing: %q, trailer %q", format, body, res.Trailer.Get(api.ExportCountTrailer))
		}
	}
	res := x.get(t, context.Background(), "GET", "/events/export/?format=parquet&category=none")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if _, rows := readParquet[parquetEvent](t, body); len(rows) != 0 {
		t.Errorf("Parquet of nothing: %d rows", len(rows))
	}

	// HEAD: the headers alone.
	res = x.get(t, context.Background(), "HEAD", "/events/export/?format=csv")
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if len(body) != 0 || !attachment.MatchString(res.Header.Get("Content-Disposition")) {
		t.Errorf("HEAD: %d bytes, %v", len(body), res.Header)
	}
}

// TestExportCutOff checks that an export whose store fails once it has
// begun ends without the end of its answer: the client sees an error,
// not a short file, and no trailer.
func TestExportCutOff(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"ndjson", "csv"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			x := newExportEnv(t)
			x.fill(t, 4000, 10_000) // 40 MB: far more than the connection's buffers
			res := x.get(t, context.Background(), "GET", "/events/export/?format="+format)
			defer res.Body.Close()
			if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
			x.store.Close() // the next page fails
			n, err := io.Copy(io.Discard, res.Body)
			if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("read %d bytes more, then %v; want an unexpected EOF", n, err)
			}
			if got := res.Trailer.Get(api.ExportCountTrailer); got != "" {
				t.Errorf("trailer %q on an export cut off", got)
			}
			waitLog(t, x.logs, "export cut off")
		})
	}
}

// TestExportClientGone checks that an export stops when its client goes
// away.
func TestExportClientGone(t *testing.T) {
	t.Parallel()
	x := newExportEnv(t)
	x.fill(t, 4000, 10_000)
	ctx, cancel := context.WithCancel(context.Background())
	res := x.get(t, ctx, "GET", "/events/export/?format=csv")
	if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	res.Body.Close()
	waitLog(t, x.logs, "the client went away")
	if strings.Contains(x.logs.String(), "msg=export ") {
		t.Errorf("the export went on to its end:\n%s", x.logs)
	}
}

func waitLog(t *testing.T, logs *lockedBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", text, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExportMemory checks that an export's memory does not grow with
// the events it writes: the live heap at its peak, exporting 200,000
// events, is about that of exporting 20,000 as NDJSON or CSV, and of
// exporting 100,000 as Parquet, which holds a row group (at most 100,000
// rows) before it writes it.
func TestExportMemory(t *testing.T) {
	if testing.Short() || raceDetector() {
		t.Skip("writes 200,000 events: too slow with -short or -race (which also changes the heap)")
	}
	x := newExportEnv(t)
	peaks := map[int]map[string]uint64{}
	for _, n := range []int{20_000, 100_000, 200_000} {
		x.fill(t, n-x.count(t), 200)
		peaks[n] = exportPeaks(t, x)
	}
	for _, format := range []string{"ndjson", "csv", "parquet"} {
		t.Logf("%s: peak live heap %.1f MiB exporting 20,000 events, %.1f MiB exporting 100,000, %.1f MiB exporting 200,000",
			format, mib(peaks[20_000][format]), mib(peaks[100_000][format]), mib(peaks[200_000][format]))
		base := 20_000
		if format == "parquet" {
			base = 100_000
		}
		// Holding the events would take 200,000 × ~400 bytes: 76 MiB.
		if s, l := peaks[base][format], peaks[200_000][format]; l > s+4<<20 {
			t.Errorf("%s: the peak live heap grew from %.1f MiB exporting %d events to %.1f MiB exporting 200,000",
				format, mib(s), base, mib(l))
		}
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// raceDetector reports whether the test runs with the race detector.
func raceDetector() bool {
	bi, _ := debug.ReadBuildInfo()
	return bi != nil && slices.Contains(bi.Settings, debug.BuildSetting{Key: "-race", Value: "true"})
}

// exportPeaks exports every event in each format, reading the answer as
// it comes, and returns the peak live heap during each, as sampled.
func exportPeaks(t *testing.T, x *exportEnv) map[string]uint64 {
	t.Helper()
	peaks := map[string]uint64{}
	for _, format := range []string{"ndjson", "csv", "parquet"} {
		runtime.GC()
		var peak uint64
		var mu sync.Mutex
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}} // as the last GC found it
			for {
				metrics.Read(live)
				mu.Lock()
				peak = max(peak, live[0].Value.Uint64())
				mu.Unlock()
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		res := x.get(t, context.Background(), "GET", "/events/export/?format="+format)
		_, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		close(done)
		<-sampled
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		peaks[format] = peak
		mu.Unlock()
	}
	return peaks
}
