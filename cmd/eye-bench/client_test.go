package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		status     int
		body       string
		close      bool
		next       string // what must be left for the next answer
		wantErrSub string
	}{
		{name: "content-length", in: "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1",
			status: 202, body: "hello", next: "HTTP/1.1"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\nnext",
			status: 200, body: "hello, world", next: "next"},
		{name: "no body", in: "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", status: 204, close: true},
		{name: "bad status line", in: "HTTP/1.1 2x2 Huh\r\n\r\n", wantErrSub: "malformed status line"},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", wantErrSub: "read body"},
		{name: "no length", in: "HTTP/1.1 200 OK\r\n\r\nbody", wantErrSub: "without Content-Length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in))
			resp, err := readResponse(r, nil, true)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.status != tc.status || string(resp.body) != tc.body || resp.close != tc.close {
				t.Errorf("got %d %q close=%v, want %d %q close=%v", resp.status, resp.body, resp.close, tc.status, tc.body, tc.close)
			}
			rest := make([]byte, 64)
			n, _ := r.Read(rest)
			if string(rest[:n]) != tc.next {
				t.Errorf("left %q, want %q", rest[:n], tc.next)
			}
		})
	}
}

func TestReadResponseSkipsBody(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"))
	for _, want := range []int{200, 202} {
		resp, err := readResponse(r, nil, false)
		if err != nil || resp.status != want || len(resp.body) != 0 {
			t.Fatalf("got %d %q %v, want %d without a body", resp.status, resp.body, err, want)
		}
	}
}

// TestConnAgainstNetHTTP runs the client against Go's own server: small
// answers (Content-Length) and large ones (chunked), on one connection.
func TestConnAgainstNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, strings.Repeat("x", 100_000))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"status":"accepted"}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := dial(host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if status, err := c.do(request("POST", host, "/events/", "k", []byte(`{}`)), true); err != nil || status != 202 || string(c.body) != `{"status":"accepted"}` {
			t.Fatalf("small: %d %q %v", status, c.body, err)
		}
		if status, err := c.do(request("GET", host, "/large", "k", nil), true); err != nil || status != 200 || len(c.body) != 100_000 {
			t.Fatalf("large: %d, %d bytes, %v", status, len(c.body), err)
		}
	}
}

func TestRunLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	reqs := [][]byte{request("POST", host, "/events/", "k", []byte(`{"a":1}`))}
	r, err := runLoad(context.Background(), loadSpec{addr: host, conns: 4, warmup: 50 * time.Millisecond, duration: 200 * time.Millisecond, requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	if r.ok == 0 || r.failures() != 0 || r.errors != 0 || len(r.latencies) != r.ok || r.statuses[202] != r.ok {
		t.Fatalf("result %+v", r)
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 200; i++ {
		s = append(s, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 100}, {99, 198}, {100, 200}, {0, 1}, {0.1, 1}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("percentile(1..200, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(s[:1], 99); got != 1 {
		t.Errorf("percentile of one sample = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of none = %v", got)
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:1234/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.50ms    2.00ms  50.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%    1.20ms
     90%    2.50ms
     99%   12.34ms
  476020 requests in 10.00s, 80.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 20
Requests/sec:  47602.00
Transfer/sec:      8.00MB
`
	r, err := parseWrk(out, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.ok != 476000 || r.failures() != 20 || r.errors != 3 || r.p50 != 850*time.Microsecond || r.p99 != 12340*time.Microsecond {
		t.Fatalf("parsed %+v", r)
	}
}

func TestLuaQuote(t *testing.T) {
	if got, want := luaQuote([]byte("POST / HTTP/1.1\r\n\"a\\b\"")), `"POST / HTTP/1.1\013\010\"a\\b\""`; got != want {
		t.Errorf("luaQuote = %s, want %s", got, want)
	}
}

func TestCount(t *testing.T) {
	for f, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568"} {
		if got := count(f); got != want {
			t.Errorf("count(%v) = %q, want %q", f, got, want)
		}
	}
}
