package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

const (
	maxBatchBytes  = 1 << 20                // the largest batch body the API takes
	maxAnswerBytes = 1 << 20                // the most of an answer read
	minBackoff     = 100 * time.Millisecond // the first wait before a retry
	userAgent      = "theeye-go-client/1"
)

// deliver sends one batch, again while it fails for a reason that may
// pass, and returns the error of the events not delivered.
func (c *Client) deliver(items []item) error {
	ans, err := c.post(c.ctx, "/events/batch/", len(items), func() []byte {
		return batchBody(items, time.Now())
	})
	switch {
	case err != nil:
		return c.fail(items, err)
	case ans.status == http.StatusRequestEntityTooLarge && len(items) > 1:
		// The server takes smaller batches than this client thought.
		half := len(items) / 2
		return errors.Join(c.deliver(items[:half]), c.deliver(items[half:]))
	case ans.status < 200 || ans.status > 299:
		return c.fail(items, ans.apiError())
	}

	// Accepted: every event is acknowledged, but those the answer lists
	// as refused (an element that is not a JSON object; the client sends
	// none, but trusts the answer).
	var res struct {
		Errors []struct {
			Index   int    `json:"index"`
			ErrorID string `json:"error_id"`
			Code    string `json:"code"`
			Detail  string `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(ans.body, &res); err != nil {
		c.log.Warn("eye: unreadable batch answer", "status", ans.status, "request_id", ans.requestID(), "error", err)
	}
	var errs []error
	refused := make(map[int]bool)
	for _, e := range res.Errors {
		if e.Index < 0 || e.Index >= len(items) || refused[e.Index] {
			continue
		}
		refused[e.Index] = true
		errs = append(errs, c.fail(items[e.Index:e.Index+1], &APIError{StatusCode: ans.status, Code: e.Code,
			Detail: e.Detail, ErrorID: e.ErrorID, RequestID: ans.requestID()}))
	}
	c.stats.delivered.Add(int64(len(items) - len(refused)))
	c.log.Debug("eye: batch delivered", "events", len(items), "refused", len(refused), "request_id", ans.requestID())
	return errors.Join(errs...)
}

// An answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) requestID() string { return a.header.Get("X-Request-Id") }

// apiError reads an answer's problem document.
func (a *answer) apiError() *APIError {
	e := &APIError{StatusCode: a.status, RequestID: a.requestID()}
	var p struct {
		Code    string `json:"code"`
		Detail  string `json:"detail"`
		ErrorID string `json:"error_id"`
	}
	if json.Unmarshal(a.body, &p) == nil {
		e.Code, e.Detail, e.ErrorID = p.Code, p.Detail, p.ErrorID
	}
	return e
}

// retryAfter returns the wait the answer's Retry-After asks for: a number
// of seconds or an HTTP date; 0 when there is none.
func (a *answer) retryAfter(now time.Time) time.Duration {
	v := a.header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// post sends a POST request to path, again after a network error or a
// 408, 429 or 5xx answer, waiting between attempts, until another answer
// comes, the retries run out (the last failure is returned), or ctx is
// done. body makes each attempt's body; events is for the log.
func (c *Client) post(ctx context.Context, path string, events int, body func() []byte) (*answer, error) {
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if attempt > 0 {
			c.stats.retries.Add(1)
		}
		ans, err := c.do(ctx, path, body())
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		var wait time.Duration
		if err == nil {
			if !retryable(ans.status) {
				return ans, nil
			}
			err = ans.apiError()
			wait = ans.retryAfter(time.Now())
		}
		if c.opts.maxRetries >= 0 && attempt >= c.opts.maxRetries {
			return nil, err
		}
		wait = max(wait, backoff(attempt, c.opts.maxBackoff))
		c.log.Warn("eye: retrying", "path", path, "events", events, "attempt", attempt+1, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
}

// backoff returns the wait before retry number attempt+1: doubling from
// minBackoff up to ceiling, then a random part of it (from a half to the
// whole), so that clients that failed together do not retry together.
func backoff(attempt int, ceiling time.Duration) time.Duration {
	d := ceiling
	if attempt < 32 && minBackoff<<attempt < ceiling {
		d = minBackoff << attempt
	}
	return d/2 + rand.N(d/2+1)
}

// do sends one request and reads its answer.
func (c *Client) do(ctx context.Context, path string, body []byte) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("eye: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	c.stats.requests.Add(1)
	res, err := c.opts.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("eye: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("eye: reading the answer: %w", err)
	}
	return &answer{status: res.StatusCode, header: res.Header, body: b}, nil
}

// CreateSession asks the API to mint a session, and returns its id. A
// session need not be created first: the first event of a new session id
// creates it, and NewSessionID makes an id without a round trip.
// CreateSession retries like the batches do; a retry after a lost answer
// may leave an unused session behind, which is harmless.
func (c *Client) CreateSession(ctx context.Context) (string, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return "", ErrClosed
	}
	ans, err := c.post(ctx, "/sessions/", 0, func() []byte { return []byte("{}") })
	if err != nil {
		return "", err
	}
	if ans.status < 200 || ans.status > 299 {
		return "", ans.apiError()
	}
	var s struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(ans.body, &s); err != nil || s.ID == "" {
		return "", fmt.Errorf("eye: unreadable session answer (%d): %q", ans.status, ans.body)
	}
	return s.ID, nil
}
