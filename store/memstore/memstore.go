package memstore

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamkit/iamkit/store"
)

var _ store.Backend = (*Store)(nil)

// Store is a store.Backend held in process memory. It is safe for concurrent use: any number
// of Views run in parallel with each other and with one Update at a time. New wraps it into a
// store.Store; NewBackend returns it bare, for tests that reach into it.
type Store struct {
	cur       atomic.Pointer[version] // the committed state; never modified
	clock     store.Clock
	retention int

	writeMu sync.Mutex // serialises Update, so revisions follow commit order
	// Guarded by writeMu: single-use keys, outside transactions.
	once    map[string]singleUse
	sweepAt time.Time // next time PutSingleUse sweeps expired keys

	usedMu sync.Mutex       // guards used; taken inside writeMu, never the reverse
	used   map[string]usage // credential ID -> last use, outside transactions

	mu     sync.Mutex // guards the fields below
	feed   []store.Commit
	head   uint64        // revision of the newest commit
	notify chan struct{} // closed and replaced on every commit and on Close
	closed bool
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock the store reads to expire single-use keys, to date commits
// (store.Commit.Committed) and, through New, to date tombstones (store.WithClock). The default
// is the system clock.
func WithClock(c store.Clock) Option { return func(s *Store) { s.clock = c } }

// WithFeedRetention sets how many commits the change feed keeps at least for subscribers
// that fall behind (default 4096; it may keep up to twice as many). A subscriber further
// behind gets Batch.Gap.
func WithFeedRetention(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.retention = n
		}
	}
}

// New returns an empty store held in memory.
func New(opts ...Option) (store.Store, error) {
	b, err := NewBackend(opts...)
	if err != nil {
		return nil, err
	}
	return store.New(b, store.WithClock(b.clock)), nil
}

// NewBackend returns an empty Store, the Backend that New wraps.
func NewBackend(opts ...Option) (*Store, error) {
	v := &version{tables: map[store.Kind]*table{}}
	for _, t := range store.Schema() {
		v.tables[t.Kind] = newTable(&t)
	}
	s := &Store{clock: systemClock{}, retention: 4096, notify: make(chan struct{}),
		used: map[string]usage{}, once: map[string]singleUse{}}
	s.cur.Store(v)
	for _, o := range opts {
		o(s)
	}
	if s.clock == nil {
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	}
	return s, nil
}

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// View implements store.Backend: fn reads the version committed when View began.
func (s *Store) View(ctx context.Context, fn func(store.Ops) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return store.ErrClosed
	}
	return fn(&ops{s: s, v: s.cur.Load()})
}

// Update implements store.Backend. Updates never conflict here (they are serialised), so fn
// runs exactly once.
func (s *Store) Update(ctx context.Context, fn func(store.WriteOps) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.isClosed() {
		return store.ErrClosed
	}
	o := newWriter(s, s.cur.Load())
	if err := fn(o); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.cur.Store(o.v)
	if len(o.deleted) > 0 {
		s.usedMu.Lock()
		for _, id := range o.deleted {
			delete(s.used, id)
		}
		s.usedMu.Unlock()
	}
	if len(o.changes) > 0 {
		s.publish(o.changes)
	}
	return nil
}

// publish appends a commit to the feed. The caller holds writeMu.
func (s *Store) publish(changes []store.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head++
	s.feed = append(s.feed, store.Commit{Revision: s.head, Committed: s.clock.Now().UTC(), Changes: changes})
	// Trim to the retention once the feed holds twice as much, into a new array: what a
	// commit costs stays constant, where trimming one commit on every commit moved the whole
	// retention each time.
	if len(s.feed) >= 2*s.retention {
		s.feed = slices.Clone(s.feed[len(s.feed)-s.retention:])
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

// Head implements store.Backend.
func (s *Store) Head(ctx context.Context) (store.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", store.ErrClosed
	}
	return cursor(s.head), nil
}

func cursor(rev uint64) store.Cursor { return store.Cursor(strconv.FormatUint(rev, 10)) }

// maxBatch bounds the commits one Changes call returns.
const maxBatch = 1024

// Changes implements store.Backend.
func (s *Store) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	var rev uint64
	if after != "" {
		var err error
		if rev, err = strconv.ParseUint(string(after), 10, 64); err != nil {
			return store.Batch{}, store.Invalid("cursor", store.CodeInvalidValue, 0, "not a cursor of this store")
		}
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return store.Batch{}, store.ErrClosed
		}
		if rev > s.head {
			s.mu.Unlock()
			return store.Batch{}, store.Invalid("cursor", store.CodeInvalidValue, 0, "ahead of the store")
		}
		if rev < s.head {
			oldest := s.head - uint64(len(s.feed)) + 1
			if rev+1 < oldest {
				s.mu.Unlock()
				return store.Batch{Gap: true, Next: cursor(oldest - 1)}, nil
			}
			from := int(rev + 1 - oldest)
			to := min(len(s.feed), from+maxBatch)
			commits := make([]store.Commit, to-from)
			for i, c := range s.feed[from:to] {
				commits[i] = store.Commit{Revision: c.Revision, Committed: c.Committed, Changes: slices.Clone(c.Changes)}
			}
			atHead := to == len(s.feed)
			s.mu.Unlock()
			return store.Batch{Commits: commits, Next: cursor(commits[len(commits)-1].Revision), AtHead: atHead}, nil
		}
		wait := s.notify
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return store.Batch{}, ctx.Err()
		}
	}
}

// LastUsed implements store.Backend.
func (s *Store) LastUsed(ctx context.Context, ids []string) ([]store.Use, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.usedMu.Lock()
	defer s.usedMu.Unlock()
	out := make([]store.Use, len(ids))
	for i, id := range ids {
		u := s.used[id]
		out[i] = store.Use{CredentialID: id, At: u.At, IP: u.IP}
	}
	return out, nil
}

// RecordUse implements store.Backend.
func (s *Store) RecordUse(ctx context.Context, uses []store.Use) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(uses) == 0 {
		return nil
	}
	s.writeMu.Lock() // no Update deletes a credential meanwhile
	defer s.writeMu.Unlock()
	s.usedMu.Lock()
	defer s.usedMu.Unlock()
	creds := s.cur.Load().tables[store.KindCredential]
	for _, u := range uses {
		if _, ok := creds.record(u.CredentialID); !ok {
			continue
		}
		if prev, ok := s.used[u.CredentialID]; ok && !u.At.After(prev.At) {
			continue
		}
		s.used[u.CredentialID] = usage{At: u.At, IP: u.IP}
	}
	return nil
}

// sweepEvery is how often PutSingleUse deletes expired single-use keys.
const sweepEvery = time.Minute

// PutSingleUse implements store.Backend.
func (s *Store) PutSingleUse(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.clock.Now()
	if prev, ok := s.once[key]; ok && now.Before(prev.ExpiresAt) {
		return store.NewError(store.ErrConflict, store.CodeAlreadyExists, "the single-use key is already stored")
	}
	s.once[key] = singleUse{Value: slices.Clone(value), ExpiresAt: expiresAt}
	if !now.Before(s.sweepAt) {
		s.sweepExpired(now)
		s.sweepAt = now.Add(sweepEvery)
	}
	return nil
}

// sweepExpired deletes single-use keys that expired at or before now. The caller holds
// writeMu.
func (s *Store) sweepExpired(now time.Time) {
	for k, su := range s.once {
		if !now.Before(su.ExpiresAt) {
			delete(s.once, k)
		}
	}
}

// TakeSingleUse implements store.Backend.
func (s *Store) TakeSingleUse(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	su, ok := s.once[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	delete(s.once, key)
	if !s.clock.Now().Before(su.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return slices.Clone(su.Value), nil
}

// Close implements store.Backend. Later calls fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.notify)
	}
	return nil
}
