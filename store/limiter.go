package store

import (
	lru "container/list"
	"context"
	"sync"
	"time"
)

// Rate is a limit on events: at most Limit of them in a burst, and on average Limit per
// Period after that. It is a generic cell rate (GCRA, a token bucket that holds Limit tokens
// and gains one every Period/Limit): a key that has used its burst is refused until a
// token has come back, so Limit events per Period is the most ever allowed in any window of
// that length, and a sustained attacker gets one more every Period/Limit.
type Rate struct {
	Limit  int
	Period time.Duration
}

// Validate checks a Rate: a positive Limit and Period.
func (r Rate) Validate() error {
	switch {
	case r.Limit < 1:
		return Invalid("rate.limit", CodeOutOfRange, 0, "must be positive, got %d", r.Limit)
	case r.Period <= 0:
		return Invalid("rate.period", CodeOutOfRange, 0, "must be positive")
	}
	return nil
}

// interval is the time one token takes to come back.
func (r Rate) interval() time.Duration { return max(r.Period/time.Duration(r.Limit), 1) }

// Limiter counts events under keys against rates: sign-in attempts per user and per source
// address, API calls per key. It knows nothing of what the keys mean. Implementations must be
// safe for concurrent use; one shared by several processes (an adapter's, on Redis) makes the
// limits hold across all of them, an in-process one (NewMemoryLimiter) per process.
type Limiter interface {
	// Allow records one event under key and reports whether it is within rate. When it is
	// not, nothing is recorded and retryAfter says how long until an event would be allowed.
	// A key must always be used with the same rate.
	Allow(ctx context.Context, key string, rate Rate) (allowed bool, retryAfter time.Duration, err error)
	// Reset forgets the events recorded under key (after a successful sign-in, say).
	Reset(ctx context.Context, key string) error
}

// BatchLimiter is a Limiter that records several events at once and takes back events it
// recorded that did not happen: what a caller needs that hands events out of a lease taken
// from a shared limiter (iamkit's API rate limit), so that a lease costs one round trip and
// its unspent part goes back to the other processes.
type BatchLimiter interface {
	Limiter
	// Take gives back unused events recorded under key earlier (the bucket never holds more
	// than rate.Limit: a refund beyond that is dropped), then records up to n events, as many
	// as rate allows now, and returns how many it recorded. When none, retryAfter says how
	// long until one would be allowed. n must be positive and unused not negative.
	Take(ctx context.Context, key string, rate Rate, unused, n int) (taken int, retryAfter time.Duration, err error)
}

// CheckTake validates BatchLimiter.Take's arguments, for implementations: a valid rate, a
// positive n and an unused count that is not negative.
func CheckTake(rate Rate, unused, n int) error {
	if err := rate.Validate(); err != nil {
		return err
	}
	switch {
	case n < 1:
		return Invalid("n", CodeOutOfRange, 0, "must be positive, got %d", n)
	case unused < 0:
		return Invalid("unused", CodeOutOfRange, 0, "must not be negative, got %d", unused)
	}
	return nil
}

// LimiterBackend is implemented by a Backend that offers a Limiter of its own, shared by
// every process on the same storage (a Redis adapter's, say).
type LimiterBackend interface {
	Limiter() Limiter
}

// LimiterOf returns the Limiter of st's Backend, and false when st was not made by New
// over a Backend that implements LimiterBackend.
func LimiterOf(st Store) (Limiter, bool) {
	r, ok := st.(*rules)
	if !ok {
		return nil, false
	}
	lb, ok := r.b.(LimiterBackend)
	if !ok {
		return nil, false
	}
	l := lb.Limiter()
	return l, l != nil
}

// DefaultLimiterKeys is how many keys NewMemoryLimiter keeps unless told otherwise.
const DefaultLimiterKeys = 100_000

// MemoryLimiter is an in-process Limiter that keeps at most a fixed number of keys: when a
// new key would exceed it, the key used least recently is forgotten (as if Reset). Memory
// stays bounded whatever the keys callers make up, at the price that a flood of new keys can
// make it forget an old one; size it well above the number of keys in use within a Period.
// It is safe for concurrent use.
type MemoryLimiter struct {
	clock Clock
	max   int

	mu    sync.Mutex
	keys  map[string]*lru.Element // -> *limiterEntry
	order *lru.List               // front: most recently used
}

type limiterEntry struct {
	key string
	tat time.Time // theoretical arrival time: when the bucket is full again
}

// NewMemoryLimiter returns a MemoryLimiter that keeps at most maxKeys keys (0 means
// DefaultLimiterKeys) and reads the time from c (nil: the system clock).
func NewMemoryLimiter(maxKeys int, c Clock) (*MemoryLimiter, error) {
	if maxKeys < 0 {
		return nil, Invalid("max_keys", CodeOutOfRange, 0, "must not be negative")
	}
	if maxKeys == 0 {
		maxKeys = DefaultLimiterKeys
	}
	if c == nil {
		c = systemClock{}
	}
	return &MemoryLimiter{clock: c, max: maxKeys, keys: map[string]*lru.Element{}, order: lru.New()}, nil
}

// Allow implements Limiter.
func (l *MemoryLimiter) Allow(ctx context.Context, key string, rate Rate) (bool, time.Duration, error) {
	if err := rate.Validate(); err != nil {
		return false, 0, err
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key)
	tat := e.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(rate.interval())
	if allowAt := next.Add(-rate.Period); allowAt.After(now) {
		return false, allowAt.Sub(now), nil
	}
	e.tat = next
	return true, 0, nil
}

var _ BatchLimiter = (*MemoryLimiter)(nil)

// Take implements BatchLimiter.
func (l *MemoryLimiter) Take(ctx context.Context, key string, rate Rate, unused, n int) (int, time.Duration, error) {
	if err := CheckTake(rate, unused, n); err != nil {
		return 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	now := l.clock.Now()
	iv := rate.interval()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key)
	tat := e.tat.Add(-time.Duration(unused) * iv)
	if tat.Before(now) {
		tat = now
	}
	// Events k fit while tat+k*iv-Period is not after now, as in Allow.
	avail := int((now.Add(rate.Period).Sub(tat)) / iv)
	taken := min(avail, n)
	if taken < 1 {
		e.tat = tat
		return 0, tat.Add(iv - rate.Period).Sub(now), nil
	}
	e.tat = tat.Add(time.Duration(taken) * iv)
	return taken, 0, nil
}

// Reset implements Limiter.
func (l *MemoryLimiter) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[key]; ok {
		l.order.Remove(el)
		delete(l.keys, key)
	}
	return nil
}

// Len returns how many keys the limiter holds.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// entry returns key's entry, made most recently used, adding it (and evicting the least
// recently used beyond the bound) if it is new. l.mu is held.
func (l *MemoryLimiter) entry(key string) *limiterEntry {
	if el, ok := l.keys[key]; ok {
		l.order.MoveToFront(el)
		return el.Value.(*limiterEntry)
	}
	for len(l.keys) >= l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.keys, oldest.Value.(*limiterEntry).key)
	}
	e := &limiterEntry{key: key}
	l.keys[key] = l.order.PushFront(e)
	return e
}
