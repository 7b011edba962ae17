package api

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// keyUses holds the last use of each key since the last flush, in memory:
// noting a use costs a map read and an atomic store, never a store write,
// so that authentication (ingest above all) is not slowed by it.
type keyUses struct {
	m sync.Map // key id → *atomic.Int64: Unix seconds of the last use not yet recorded; 0: none
}

// note records a use of a key at a time.
func (u *keyUses) note(id string, at time.Time) {
	sec := at.Unix()
	v, ok := u.m.Load(id)
	if !ok {
		v, _ = u.m.LoadOrStore(id, new(atomic.Int64))
	}
	raise(v.(*atomic.Int64), sec)
}

// raise sets a to sec unless it holds a later second.
func raise(a *atomic.Int64, sec int64) {
	for {
		old := a.Load()
		if old >= sec || a.CompareAndSwap(old, sec) {
			return
		}
	}
}

// take returns the uses noted since the last take, and forgets them.
func (u *keyUses) take() map[string]time.Time {
	out := map[string]time.Time{}
	u.m.Range(func(id, v any) bool {
		if sec := v.(*atomic.Int64).Swap(0); sec != 0 {
			out[id.(string)] = time.Unix(sec, 0).UTC()
		}
		return true
	})
	return out
}

// giveBack notes again uses that could not be recorded.
func (u *keyUses) giveBack(uses map[string]time.Time) {
	for id, at := range uses {
		u.note(id, at)
	}
}

// FlushUses records in the store, in one statement, the last use of each
// of the store's keys used since the last flush. When the store fails,
// the uses are kept for the next flush.
func (k *Keyring) FlushUses(ctx context.Context) error {
	uses := k.uses.take()
	if len(uses) == 0 || k.store == nil {
		return nil
	}
	if err := k.store.RecordKeyUses(ctx, uses); err != nil {
		k.uses.giveBack(uses)
		return err
	}
	return nil
}

// RecordUses flushes the keys' uses every interval until ctx ends, then
// once more (at shutdown), with a timeout of its own.
func (k *Keyring) RecordUses(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := k.FlushUses(ctx); err != nil && ctx.Err() == nil {
				k.log.Warn("record the keys' last uses; kept for the next try", "error", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := k.FlushUses(final); err != nil {
				k.log.Warn("record the keys' last uses at shutdown", "error", err)
			}
			return
		}
	}
}
