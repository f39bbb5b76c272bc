package feedwatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
)

// Handler receives what a Follower reads. Its methods are called from Run's goroutine, one
// at a time.
type Handler interface {
	// Apply is called with each commit, oldest first.
	Apply(store.Commit)
	// Flush is called when commits may have been missed (at the start of Run, on a gap in
	// the feed, or when the store no longer accepts the cursor): everything derived from the
	// store must be dropped.
	Flush()
}

// Follower follows one store's change feed. Synced is safe for concurrent use; Run must be
// called at most once at a time.
type Follower struct {
	st     store.Store
	h      Handler
	clock  store.Clock
	poll   time.Duration
	logger *slog.Logger

	synced atomic.Int64 // UnixNano of the last moment the follower was known to be in sync; 0: never

	mu      sync.Mutex
	waiters []chan struct{}    // Sync calls waiting for the next confirmed round
	wake    context.CancelFunc // cuts short the current wait on the feed
}

// Option configures a Follower.
type Option func(*Follower)

// WithClock sets the clock used to stamp Synced (default: the system clock).
func WithClock(c store.Clock) Option { return func(f *Follower) { f.clock = c } }

// WithPollInterval bounds how long one wait on the feed lasts before the follower confirms
// with the store that it is still in sync (default 1s). It is the resolution of Synced while
// the feed is quiet. Each wait is a Changes call whose context has this deadline; the store
// answers within it when it finds commits or a gap (store.Store.Changes), so a gap is seen
// within one interval even when no commit follows it.
func WithPollInterval(d time.Duration) Option {
	return func(f *Follower) {
		if d > 0 {
			f.poll = d
		}
	}
}

// WithLogger logs feed errors to l (default: no logging).
func WithLogger(l *slog.Logger) Option { return func(f *Follower) { f.logger = l } }

// New returns a Follower that feeds h from st's change feed once Run is called.
func New(st store.Store, h Handler, opts ...Option) *Follower {
	f := &Follower{st: st, h: h, clock: clock.System{}, poll: time.Second}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Synced returns the last time the follower knew the feed to be live and had applied all it
// delivered (the start of the last successful read or confirmation), or the zero time if it
// never has. A cache trusts its entries only while Synced is recent enough.
func (f *Follower) Synced() time.Time {
	n := f.synced.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SyncedNano is Synced as Unix nanoseconds (0: never), without building a time.Time.
func (f *Follower) SyncedNano() int64 { return f.synced.Load() }

func (f *Follower) markSynced(at time.Time) { f.synced.Store(at.UnixNano()) }

// Sync returns once every commit made before it was called has been handed to the Handler,
// or when ctx is done. It needs Run to be running. It gives read-your-writes: after an Update
// returns, Sync makes the cache reflect it.
func (f *Follower) Sync(ctx context.Context) error {
	ch := make(chan struct{})
	f.mu.Lock()
	f.waiters = append(f.waiters, ch)
	if f.wake != nil {
		f.wake()
	}
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run follows the feed from its current head until ctx is done or the store is closed, and
// returns why it stopped. Store errors are retried with backoff; while they last, Synced
// stops advancing.
func (f *Follower) Run(ctx context.Context) error {
	var cur store.Cursor
	backoff := newBackoff()
	for {
		start := f.clock.Now()
		head, err := f.st.Head(ctx)
		if err == nil {
			// Whatever the handler cached before now may predate commits that lie before
			// head, which the feed will never deliver: start clean.
			f.h.Flush()
			cur = head
			f.markSynced(start)
			break
		}
		if stop := f.failed(ctx, err, backoff); stop != nil {
			return stop
		}
	}
	backoff.reset()
	behind := false // the last confirm found commits past cur: fetch before confirming again
	for {
		start := f.clock.Now()
		if f.hasWaiters() && !behind {
			// Someone waits in Sync: don't wait on the feed, ask for its head now.
			atHead, err := f.confirm(ctx, cur)
			if err != nil {
				if stop := f.failed(ctx, err, backoff); stop != nil {
					return stop
				}
			}
			behind = !atHead
			continue
		}
		mustFetch := behind
		behind = false
		wctx, cancel := context.WithTimeout(ctx, f.poll)
		f.mu.Lock()
		f.wake = cancel
		// A Sync that registered after the check above found no wake to call: answer it now,
		// unless this read must fetch the commits the last confirmation found missing.
		if len(f.waiters) > 0 && !mustFetch {
			cancel()
		}
		f.mu.Unlock()
		b, err := f.st.Changes(wctx, cur)
		f.mu.Lock()
		f.wake = nil
		f.mu.Unlock()
		cancel()
		switch {
		case err == nil:
			if b.Gap {
				f.h.Flush()
			}
			for _, c := range b.Commits {
				f.h.Apply(c)
			}
			cur = b.Next
			backoff.reset()
			// The feed is live and delivering: under steady writes it may never be quiet
			// enough to confirm, and must not look stale for that.
			f.markSynced(start)
		case (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) && ctx.Err() == nil:
			// A quiet feed, a Sync call, or a store that hung: ask the store directly.
			atHead, err := f.confirm(ctx, cur)
			if err != nil {
				if stop := f.failed(ctx, err, backoff); stop != nil {
					return stop
				}
			}
			behind = !atHead
		case errors.Is(err, store.ErrInvalid):
			// The store no longer knows our cursor (it was reset): start over from its head.
			f.log("change feed cursor rejected; flushing", err)
			f.h.Flush()
			head, herr := f.st.Head(ctx)
			if herr != nil {
				if stop := f.failed(ctx, herr, backoff); stop != nil {
					return stop
				}
				continue
			}
			cur = head
		default:
			if stop := f.failed(ctx, err, backoff); stop != nil {
				return stop
			}
		}
	}
}

func (f *Follower) hasWaiters() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters) > 0
}

// confirm asks the store for its head. If it is still cur, every commit made before it asked
// has been applied: it marks the follower synced as of then and releases the Sync calls made
// before it asked.
func (f *Follower) confirm(ctx context.Context, cur store.Cursor) (atHead bool, err error) {
	start := f.clock.Now()
	f.mu.Lock()
	waiters := f.waiters
	f.waiters = nil
	f.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, f.poll)
	defer cancel()
	head, err := f.st.Head(hctx)
	if err == nil && head == cur {
		f.markSynced(start)
		for _, w := range waiters {
			close(w)
		}
		return true, nil
	}
	f.mu.Lock()
	f.waiters = append(waiters, f.waiters...)
	f.mu.Unlock()
	return false, err
}

// failed decides what a store error means: a reason to stop (returned), or to wait and retry.
func (f *Follower) failed(ctx context.Context, err error, b *backoff) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, store.ErrClosed) {
		return err
	}
	f.log("change feed unavailable; retrying", err)
	t := time.NewTimer(b.next())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Follower) log(msg string, err error) {
	if f.logger != nil {
		f.logger.Warn(msg, "err", err)
	}
}

// backoff doubles a wait from 50ms up to 2s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) reset() { b.d = 0 }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 50 * time.Millisecond
	case b.d < 2*time.Second:
		b.d *= 2
	}
	return b.d
}
