package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestDownload reads a streamed answer of Go's own server, chunked with a
// trailer, and one with a Content-Length, counting bytes and lines.
func TestDownload(t *testing.T) {
	const lines = 50_000
	line := strings.Repeat("x", 99) + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "fixed" {
			w.Header().Set("Content-Length", "12")
			fmt.Fprint(w, "a\nb\nc\nhello!")
			return
		}
		w.Header().Set("Trailer", exportRowsTrailer)
		bw := bufio.NewWriter(w)
		for i := range lines {
			bw.WriteString(line)
			if i%1000 == 0 {
				bw.Flush()
				w.(http.Flusher).Flush()
			}
		}
		bw.Flush()
		w.Header().Set(exportRowsTrailer, fmt.Sprint(lines))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	var progressed int64
	dl, err := download(context.Background(), host, request("GET", host, exportTarget+"ndjson", "k", nil),
		func(n, _ int64) { progressed = n })
	if err != nil {
		t.Fatal(err)
	}
	if dl.status != 200 || dl.bytes != lines*100 || dl.lines != lines || progressed != dl.bytes {
		t.Errorf("got status %d, %d bytes, %d lines (progress %d); want 200, %d bytes, %d lines", dl.status, dl.bytes, dl.lines, progressed, lines*100, lines)
	}
	if got := dl.trailers[strings.ToLower(exportRowsTrailer)]; got != fmt.Sprint(lines) {
		t.Errorf("trailer %q, want %d (trailers %v)", got, lines, dl.trailers)
	}

	dl, err = download(context.Background(), host, request("GET", host, exportTarget+"fixed", "k", nil), nil)
	if err != nil || dl.bytes != 12 || dl.lines != 3 || len(dl.trailers) != 0 {
		t.Errorf("fixed length: %+v, %v; want 12 bytes, 3 lines, no trailer", dl, err)
	}
}

func TestExportConstant(t *testing.T) {
	for _, tc := range []struct {
		first, second int64
		want          bool
	}{{100, 100, true}, {100, 110, true}, {100, 111, false}, {100, 50, true}} {
		if got := (exportResult{rssFirst: tc.first, rssSecond: tc.second}).constant(); got != tc.want {
			t.Errorf("constant(%d, %d) = %v, want %v", tc.first, tc.second, got, tc.want)
		}
	}
}

func TestReadVm(t *testing.T) {
	pid := os.Getpid()
	rss, hwm := readVm(pid, "VmRSS:"), readVm(pid, "VmHWM:")
	if rss <= 0 || hwm < rss {
		t.Errorf("VmRSS %d, VmHWM %d: want 0 < VmRSS ≤ VmHWM", rss, hwm)
	}
	if got := readVm(pid, "NoSuchField:"); got != 0 {
		t.Errorf("a missing field read as %d", got)
	}
}
