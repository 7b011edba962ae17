package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection of the load generator: it
// writes pre-built request bytes and parses just enough of the answer (the
// status line, Content-Length or chunked encoding, Connection: close).
type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	body []byte // the last answer's body, when kept
	n    int    // requests sent on this connection
}

// dial opens a connection to addr.
func dial(addr string) (*conn, error) {
	c := &conn{addr: addr}
	if err := c.redial(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *conn) redial() error {
	if c.c != nil {
		c.c.Close()
	}
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.addr, err)
	}
	c.c, c.n = nc, 0
	if c.r == nil {
		c.r = bufio.NewReaderSize(nc, 64<<10)
	} else {
		c.r.Reset(nc)
	}
	return nil
}

// Close closes the connection.
func (c *conn) Close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}

// do sends one request and reads its answer, keeping the body in c.body
// when keep is set. After an error the connection is dialled again, so
// that the next request starts on a clean connection.
func (c *conn) do(req []byte, keep bool) (int, error) {
	status, closeConn, err := c.roundTrip(req, keep)
	if err != nil || closeConn {
		if rerr := c.redial(); rerr != nil && err == nil {
			err = rerr
		}
	}
	return status, err
}

func (c *conn) roundTrip(req []byte, keep bool) (status int, closeConn bool, err error) {
	// A deadline, moved now and then rather than at every request: the
	// generator must stay lean.
	if c.n%256 == 0 {
		if err := c.c.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
			return 0, false, fmt.Errorf("deadline: %w", err)
		}
	}
	c.n++
	if _, err := c.c.Write(req); err != nil {
		return 0, false, fmt.Errorf("write: %w", err)
	}
	resp, err := readResponse(c.r, c.body[:0], keep)
	if err != nil {
		return 0, false, err
	}
	c.body = resp.body
	return resp.status, resp.close, nil
}

// response is what the load generator reads of an answer.
type response struct {
	status int
	close  bool   // the server closes the connection after it
	body   []byte // when kept
}

// readResponse reads one HTTP/1.1 answer from r. The body is appended to
// buf when keep is set, and skipped otherwise.
func readResponse(r *bufio.Reader, buf []byte, keep bool) (response, error) {
	var resp response
	line, err := r.ReadSlice('\n')
	if err != nil {
		return resp, fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return resp, fmt.Errorf("malformed status line %q", line)
	}
	if resp.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return resp, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, err := readHeaders(r, &resp)
	if err != nil {
		return resp, err
	}
	switch {
	case chunked:
		resp.body, err = readChunked(r, buf, keep)
	case length > 0:
		resp.body, err = readN(r, buf, length, keep)
	case length < 0 && resp.status >= 200 && resp.status != 204 && resp.status != 304:
		return resp, errors.New("an answer without Content-Length nor chunked encoding")
	}
	return resp, err
}

// readHeaders reads the header lines up to the blank line and returns the
// Content-Length (-1 when absent) and whether the body is chunked.
func readHeaders(r *bufio.Reader, resp *response) (length int, chunked bool, err error) {
	length = -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return length, chunked, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			resp.close = bytes.EqualFold(value, []byte("close"))
		}
	}
}

// readN reads n bytes of body.
func readN(r *bufio.Reader, buf []byte, n int, keep bool) ([]byte, error) {
	if !keep {
		if _, err := r.Discard(n); err != nil {
			return buf, fmt.Errorf("read body: %w", err)
		}
		return buf, nil
	}
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		return buf, fmt.Errorf("read body: %w", err)
	}
	return buf, nil
}

// readChunked reads a chunked body and its trailers.
func readChunked(r *bufio.Reader, buf []byte, keep bool) ([]byte, error) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return buf, fmt.Errorf("read chunk size: %w", err)
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
		if err != nil || n < 0 {
			return buf, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			return buf, skipTrailers(r)
		}
		if buf, err = readN(r, buf, int(n), keep); err != nil {
			return buf, err
		}
		if _, err := r.Discard(2); err != nil { // the CRLF after the chunk
			return buf, fmt.Errorf("read chunk end: %w", err)
		}
	}
}

func skipTrailers(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read trailer: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

// request builds the bytes of one HTTP/1.1 request with a bearer key; a
// body is sent as application/json.
func request(method, host, target, key string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(body) + 256)
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	if key != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", key)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
