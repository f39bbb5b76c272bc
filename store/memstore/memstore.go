package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/iamkit/iamkit/store"
)

var _ store.Backend = (*Store)(nil)

// Store is a store.Backend held in process memory. It is safe for concurrent use: any number
// of Views run in parallel with each other and with one Update at a time. New wraps it into a
// store.Store; NewBackend returns it bare, for tests that reach into it.
type Store struct {
	db        *memdb.MemDB
	tables    map[store.Kind]store.Table
	clock     store.Clock
	retention int

	writeMu sync.Mutex // serialises Update, so revisions follow commit order

	mu      sync.Mutex // guards the fields below
	feed    []store.Commit
	head    uint64        // revision of the newest commit
	notify  chan struct{} // closed and replaced on every commit and on Close
	closed  bool
	sweepAt time.Time // next time PutSingleUse sweeps expired keys
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock the store reads to expire single-use keys, to date commits
// (store.Commit.Committed) and, through New, to date tombstones (store.WithClock). The default
// is the system clock.
func WithClock(c store.Clock) Option { return func(s *Store) { s.clock = c } }

// WithFeedRetention sets how many commits the change feed keeps for subscribers that fall
// behind (default 4096). A subscriber further behind gets Batch.Gap.
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
	tables := map[store.Kind]store.Table{}
	for _, t := range store.Schema() {
		tables[t.Kind] = t
	}
	db, err := memdb.NewMemDB(schema(tables))
	if err != nil {
		return nil, fmt.Errorf("memstore: invalid schema: %w", err)
	}
	s := &Store{db: db, tables: tables, clock: systemClock{}, retention: 4096, notify: make(chan struct{})}
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

// View implements store.Backend.
func (s *Store) View(ctx context.Context, fn func(store.Ops) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return store.ErrClosed
	}
	txn := s.db.Txn(false)
	defer txn.Abort()
	return fn(&ops{s: s, txn: txn})
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
	o := &ops{s: s, txn: s.db.Txn(true), write: true, seen: map[store.Change]int{}}
	defer o.txn.Abort() // no-op after Commit
	if err := fn(o); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	o.txn.Commit()
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
	if over := len(s.feed) - s.retention; over > 0 {
		s.feed = slices.Delete(s.feed, 0, over)
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
			s.mu.Unlock()
			return store.Batch{Commits: commits, Next: cursor(commits[len(commits)-1].Revision)}, nil
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
	txn := s.db.Txn(false)
	defer txn.Abort()
	out := make([]store.Use, len(ids))
	for i, id := range ids {
		out[i].CredentialID = id
		u, err := txn.First(tUsage, idIndex, id)
		if err != nil {
			return nil, wrap(err)
		}
		if u != nil {
			out[i].At, out[i].IP = u.(*usage).At, u.(*usage).IP
		}
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
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	for _, u := range uses {
		c, err := txn.First(string(store.KindCredential), idIndex, u.CredentialID)
		if err != nil {
			return fmt.Errorf("memstore: %w", err)
		}
		if c == nil {
			continue
		}
		prev, err := txn.First(tUsage, idIndex, u.CredentialID)
		if err != nil {
			return fmt.Errorf("memstore: %w", err)
		}
		if prev != nil && !u.At.After(prev.(*usage).At) {
			continue
		}
		if err := txn.Insert(tUsage, &usage{ID: u.CredentialID, At: u.At, IP: u.IP}); err != nil {
			return fmt.Errorf("memstore: %w", err)
		}
	}
	txn.Commit()
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
	txn := s.db.Txn(true)
	defer txn.Abort()
	prev, err := txn.First(tSingleUse, idIndex, key)
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if prev != nil && now.Before(prev.(*singleUse).ExpiresAt) {
		return store.NewError(store.ErrConflict, store.CodeAlreadyExists, "the single-use key is already stored")
	}
	if err := txn.Insert(tSingleUse, &singleUse{Key: key, Value: slices.Clone(value), ExpiresAt: expiresAt}); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if !now.Before(s.sweepAt) {
		if _, err := sweepExpired(txn, now); err != nil {
			return err
		}
		s.sweepAt = now.Add(sweepEvery)
	}
	txn.Commit()
	return nil
}

// sweepExpired deletes single-use keys that expired at or before now.
func sweepExpired(txn *memdb.Txn, now time.Time) (int, error) {
	it, err := txn.LowerBound(tSingleUse, "expires", time.Time{})
	if err != nil {
		return 0, fmt.Errorf("memstore: %w", err)
	}
	var expired []*singleUse
	for obj := it.Next(); obj != nil; obj = it.Next() {
		su := obj.(*singleUse)
		if now.Before(su.ExpiresAt) {
			break
		}
		expired = append(expired, su)
	}
	for _, su := range expired {
		if err := txn.Delete(tSingleUse, su); err != nil {
			return 0, fmt.Errorf("memstore: %w", err)
		}
	}
	return len(expired), nil
}

// TakeSingleUse implements store.Backend.
func (s *Store) TakeSingleUse(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	obj, err := txn.First(tSingleUse, idIndex, key)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if obj == nil {
		return nil, store.ErrNotFound
	}
	su := obj.(*singleUse)
	if err := txn.Delete(tSingleUse, su); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	txn.Commit()
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
