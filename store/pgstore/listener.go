package pgstore

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// feedChannel is the channel every commit NOTIFYs.
const feedChannel = "iamkit_feed"

// listener holds one connection, taken from the pool, that LISTENs for commits, and wakes
// the blocked Changes calls of its store on every notification. It starts with the first
// blocked call. When its connection fails it wakes them all (they read the feed again, and
// poll until it listens again) and reconnects with a growing pause, up to a second.
type listener struct {
	pool   *pgxpool.Pool
	ctx    context.Context // the store's lifetime: cancelled by close
	cancel context.CancelFunc
	exited chan struct{} // closed when run returns

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced on every notification and change of state
	live    bool          // LISTEN is in effect
	started bool
}

// Pauses between attempts to listen again.
const (
	minRelisten = 50 * time.Millisecond
	maxRelisten = time.Second
)

func newListener(ctx context.Context, pool *pgxpool.Pool) *listener {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &listener{pool: pool, ctx: lctx, cancel: cancel, exited: make(chan struct{}), wake: make(chan struct{})}
}

// wait returns the channel the next notification closes and whether LISTEN is in effect,
// starting the listener on first use.
func (l *listener) wait() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.started = true
		go l.run()
	}
	return l.wake, l.live
}

// signal wakes the waiters and records whether LISTEN is in effect.
func (l *listener) signal(live bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live = live
	close(l.wake)
	l.wake = make(chan struct{})
}

// run listens until close, reconnecting after failures.
func (l *listener) run() {
	defer close(l.exited)
	pause := minRelisten
	for {
		listened := l.listen()
		l.signal(false)
		if listened {
			pause = minRelisten
		}
		if sleep(l.ctx, pause) != nil {
			return
		}
		pause = min(2*pause, maxRelisten)
	}
}

// listen takes a connection out of the pool, LISTENs on it and relays notifications until
// it fails or the listener is closed. It reports whether LISTEN took effect.
func (l *listener) listen() bool {
	c, err := l.pool.Acquire(l.ctx)
	if err != nil {
		return false
	}
	conn := c.Hijack()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if _, err := conn.Exec(l.ctx, "LISTEN "+feedChannel); err != nil {
		return false
	}
	l.signal(true) // a commit made before LISTEN took effect was not notified: read again
	for {
		if _, err := conn.WaitForNotification(l.ctx); err != nil {
			return true
		}
		l.signal(true)
	}
}

// close stops the listener and waits for its connection to be closed.
func (l *listener) close() {
	l.cancel()
	l.mu.Lock()
	started := l.started
	l.started = true // no start after close
	l.mu.Unlock()
	if started {
		<-l.exited
	}
}
