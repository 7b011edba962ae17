package natsq

import (
	"context"
	"fmt"
	"sync"

	"github.com/theeye/eye"
)

// groupCommit publishes the messages published one at a time by
// concurrent callers together: while one queue message is on its way, the
// messages that arrive meanwhile gather, and go in the next one. Under load
// a queue message carries many events for one acknowledgement; alone, a
// message goes at once, waiting for nobody.
type groupCommit struct {
	q    *Queue
	in   chan *groupRequest
	done chan struct{}

	mu      sync.Mutex // guards stopped, so that nothing is sent on a closed in
	stopped bool
}

type groupRequest struct {
	m      eye.Message
	result chan groupResult // buffered: the loop never waits for a caller
}

type groupResult struct {
	duplicate bool
	err       error
}

func startGroupCommit(q *Queue) *groupCommit {
	g := &groupCommit{q: q, in: make(chan *groupRequest, 4*maxPerFrame), done: make(chan struct{})}
	go g.loop()
	return g
}

// publish publishes one message with the others of the moment and waits
// for the queue's acknowledgement.
func (g *groupCommit) publish(ctx context.Context, m eye.Message) (int, error) {
	r := &groupRequest{m: m, result: make(chan groupResult, 1)}
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return 0, refused(fmt.Errorf("the queue is closed"))
	}
	select {
	case g.in <- r:
		g.mu.Unlock()
	case <-ctx.Done():
		g.mu.Unlock()
		return 0, fmt.Errorf("publish: %w", ctx.Err())
	}
	select {
	case res := <-r.result:
		if res.err != nil {
			return 0, res.err
		}
		if res.duplicate {
			return 1, nil
		}
		return 0, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("publish: %w", ctx.Err())
	}
}

// stop publishes what was handed in and stops the loop.
func (g *groupCommit) stop() {
	g.mu.Lock()
	if !g.stopped {
		g.stopped = true
		close(g.in)
	}
	g.mu.Unlock()
	<-g.done
}

// loop takes the waiting requests, as many as fit in one queue message,
// publishes them, and hands the acknowledgement to each when it comes,
// without waiting for it before the next group.
func (g *groupCommit) loop() {
	defer close(g.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	limit := g.q.frameLimit()
	var carry *groupRequest
	for {
		first := carry
		carry = nil
		if first == nil {
			var ok bool
			if first, ok = <-g.in; !ok {
				return
			}
		}
		group, size := []*groupRequest{first}, frameSize(first.m)
	gather:
		for len(group) < maxPerFrame {
			select {
			case r, ok := <-g.in:
				if !ok {
					break gather
				}
				if size+frameSize(r.m) > limit {
					carry = r
					break gather
				}
				group = append(group, r)
				size += frameSize(r.m)
			default:
				break gather
			}
		}
		msgs := make([]eye.Message, len(group))
		for i, r := range group {
			msgs[i] = r.m
		}
		p, err := g.q.publishFrames(msgs, size)
		if err != nil {
			for _, r := range group {
				r.result <- groupResult{err: err}
			}
			continue
		}
		wg.Go(func() {
			var res groupResult
			select {
			case ack := <-p.future.Ok():
				res.duplicate = ack.Duplicate
			case err := <-p.future.Err():
				res.err = refused(err)
			}
			for _, r := range group {
				r.result <- res
			}
		})
	}
}
