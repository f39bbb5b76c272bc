package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// FeedHandler receives what a Follower reads: a cache kept coherent with the store. Its
// methods are called from the Follower's Run goroutine, one at a time, and should return
// quickly.
type FeedHandler interface {
	// Apply is called with each commit, oldest first.
	Apply(Commit)
	// Flush is called when commits may have been missed (when Run starts, on a gap in the
	// feed, when the store no longer accepts the cursor): everything derived from the store
	// must be dropped.
	Flush()
}

// CodeNotRunning is the code of Follower.Sync's error when Run is not running.
const CodeNotRunning = "not_running"

// Follower follows a Store's change feed on behalf of any number of caches (the credential
// Verifier's, the Authorizer's): one reader of the feed hands every commit, in order, to each
// FeedHandler, tells them all to flush when commits may have been missed, and keeps the time
// it last knew itself in sync, which caches use to bound their staleness.
//
// Subscribe the handlers, then call Run once in a goroutine. Synced, SyncedNano and Sync are
// safe for concurrent use.
type Follower struct {
	st     Store
	clock  Clock
	poll   time.Duration
	logger *slog.Logger
	onLag  func(context.Context, time.Duration) // WithLagObserver

	synced  atomic.Int64 // UnixNano of the last moment the follower was known in sync; 0: never
	running atomic.Bool
	begun   chan struct{} // closed when Run starts

	mu       sync.Mutex
	handlers []FeedHandler
	started  bool
	waiters  []chan error       // Sync calls waiting for the next confirmed round
	wake     context.CancelFunc // cuts short the current wait on the feed
}

// FollowerOption configures NewFollower.
type FollowerOption func(*Follower)

// WithFollowerClock sets the clock that stamps Synced (default: the system clock).
func WithFollowerClock(c Clock) FollowerOption {
	return func(f *Follower) {
		if c != nil {
			f.clock = c
		}
	}
}

// WithPollInterval bounds one wait on the feed before the follower asks the store whether it
// is still in sync (default 1s): the resolution of Synced while the feed is quiet. Each wait
// is a Changes call with this deadline, which the store answers within (see Store.Changes),
// so a gap is seen within one interval even when no commit follows it.
func WithPollInterval(d time.Duration) FollowerOption {
	return func(f *Follower) {
		if d > 0 {
			f.poll = d
		}
	}
}

// WithFollowerLogger logs feed errors to l (default: no logging).
func WithFollowerLogger(l *slog.Logger) FollowerOption {
	return func(f *Follower) { f.logger = l }
}

// WithLagObserver has the follower call observe, for each commit whose time the store
// reports (Commit.Committed), with how long after that commit the follower handed it to its
// handlers: the feed's lag, by the follower's clock against the store's. observe runs on the
// follower's goroutine, with Run's context, and must return quickly.
func WithLagObserver(observe func(context.Context, time.Duration)) FollowerOption {
	return func(f *Follower) { f.onLag = observe }
}

// NewFollower returns a Follower of st's change feed.
func NewFollower(st Store, opts ...FollowerOption) (*Follower, error) {
	if st == nil {
		return nil, Invalid("store", CodeRequired, 0, "required")
	}
	f := &Follower{st: st, clock: systemClock{}, poll: time.Second, begun: make(chan struct{})}
	for _, o := range opts {
		o(f)
	}
	return f, nil
}

// Subscribe adds a handler. It must be called before Run.
func (f *Follower) Subscribe(h FeedHandler) error {
	if h == nil {
		return Invalid("handler", CodeRequired, 0, "required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return NewError(ErrConflict, "already_running", "subscribe every handler before Run")
	}
	f.handlers = append(f.handlers, h)
	return nil
}

// Synced returns the last time as of which the follower had handed on every commit the store
// had made (the start of the last read whose batch reached the head, Batch.AtHead, or of the
// last confirmation by Head), or the zero time if it never has. A cache trusts its entries only while Synced is recent enough.
func (f *Follower) Synced() time.Time {
	n := f.synced.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SyncedNano is Synced as Unix nanoseconds (0: never), without building a time.Time.
func (f *Follower) SyncedNano() int64 { return f.synced.Load() }

// Running reports whether Run is following the feed.
func (f *Follower) Running() bool { return f.running.Load() }

func (f *Follower) markSynced(at time.Time) { f.synced.Store(at.UnixNano()) }

// startGrace is how long Sync waits for a Run that has not begun yet: long enough for
// "go f.Run(ctx); f.Sync(ctx)", short enough that a forgotten Run fails fast.
const startGrace = time.Second

// Sync returns once every commit made before it was called has been handed to the handlers:
// read-your-writes, after an Update, for the caches the follower feeds. It fails with
// ErrUnavailable (code CodeNotRunning) when nothing follows the feed: at once when Run has
// stopped, and after a second when Run was never called (a Run started in a goroutine just
// before Sync gets that second to begin). It fails with ctx's error when ctx is done first.
func (f *Follower) Sync(ctx context.Context) error {
	select {
	case <-f.begun:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(startGrace):
		return NewError(ErrUnavailable, CodeNotRunning, "the change feed follower is not running: call Run")
	}
	ch := make(chan error, 1)
	f.mu.Lock()
	if !f.running.Load() {
		f.mu.Unlock()
		return NewError(ErrUnavailable, CodeNotRunning, "the change feed follower stopped: nothing follows the feed")
	}
	f.waiters = append(f.waiters, ch)
	if f.wake != nil {
		f.wake()
	}
	f.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Follower) apply(ctx context.Context, c Commit) {
	for _, h := range f.handlers {
		h.Apply(c)
	}
	if f.onLag != nil && !c.Committed.IsZero() {
		f.onLag(ctx, f.clock.Now().Sub(c.Committed))
	}
}

func (f *Follower) flush() {
	for _, h := range f.handlers {
		h.Flush()
	}
}

// Run follows the feed from its current head until ctx is done or the store is closed, and
// returns why it stopped. Store errors are retried with backoff; while they last, Synced
// stops advancing. Call it once.
func (f *Follower) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return NewError(ErrConflict, "already_running", "Run is already running")
	}
	f.started = true
	f.running.Store(true)
	close(f.begun)
	f.mu.Unlock()
	defer f.stopped()

	var cur Cursor
	b := &backoff{}
	for {
		start := f.clock.Now()
		head, err := f.st.Head(ctx)
		if err == nil {
			// Whatever the handlers cached before now may predate commits that lie before
			// head, which the feed will never deliver: start clean.
			f.flush()
			cur = head
			f.markSynced(start)
			break
		}
		if stop := f.failed(ctx, err, b); stop != nil {
			return stop
		}
	}
	b.reset()
	behind := false // the last confirmation found commits past cur: fetch before confirming again
	for {
		start := f.clock.Now()
		if f.hasWaiters() && !behind {
			// Someone waits in Sync: don't wait on the feed, ask for its head now.
			atHead, err := f.confirm(ctx, cur)
			if err != nil {
				if stop := f.failed(ctx, err, b); stop != nil {
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
		batch, err := f.st.Changes(wctx, cur)
		f.mu.Lock()
		f.wake = nil
		f.mu.Unlock()
		cancel()
		switch {
		case err == nil:
			if batch.Gap {
				f.flush()
			}
			for _, c := range batch.Commits {
				f.apply(ctx, c)
			}
			cur = batch.Next
			b.reset()
			// A batch at the head holds every commit made before this read began: in sync
			// as of then, even under steady writes that never leave the feed quiet enough
			// for Head to confirm. A batch cut short is not: read on.
			if batch.AtHead {
				f.markSynced(start)
			}
		case (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) && ctx.Err() == nil:
			// A quiet feed, a Sync call, or a store that hung: ask the store directly.
			atHead, err := f.confirm(ctx, cur)
			if err != nil {
				if stop := f.failed(ctx, err, b); stop != nil {
					return stop
				}
			}
			behind = !atHead
		case errors.Is(err, ErrInvalid):
			// The store no longer knows our cursor (it was reset): start over from its head.
			f.log("change feed cursor rejected; flushing", err)
			f.flush()
			head, herr := f.st.Head(ctx)
			if herr != nil {
				if stop := f.failed(ctx, herr, b); stop != nil {
					return stop
				}
				continue
			}
			cur = head
		default:
			if stop := f.failed(ctx, err, b); stop != nil {
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

// stopped marks Run stopped and fails the Sync calls still waiting (their ctx would otherwise
// be their only way out).
func (f *Follower) stopped() {
	f.mu.Lock()
	f.running.Store(false)
	waiters := f.waiters
	f.waiters = nil
	f.mu.Unlock()
	for _, w := range waiters {
		w <- NewError(ErrUnavailable, CodeNotRunning, "the change feed follower stopped before the store was confirmed in sync")
	}
}

// confirm asks the store for its head. If it is still cur, every commit made before it asked
// has been handed on: it marks the follower synced as of then and releases the Sync calls
// made before it asked.
func (f *Follower) confirm(ctx context.Context, cur Cursor) (atHead bool, err error) {
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
			w <- nil
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
	if errors.Is(err, ErrClosed) {
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
