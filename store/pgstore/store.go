package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamkit/iamkit/store"
)

var _ store.Backend = (*Store)(nil)

// Store is a store.Backend on a PostgreSQL database. It is safe for concurrent use. New
// wraps it into a store.Store; NewBackend returns it bare, for tests that reach into it.
type Store struct {
	pool      *pgxpool.Pool
	tables    map[store.Kind]*table
	now       func() time.Time
	retention int
	attempts  int
	poll      time.Duration
	epoch     string // the feed's epoch, from the database
	shards    int    // the feed's number of shards, from the database

	listener *listener

	mu      sync.Mutex
	closed  bool
	done    chan struct{} // closed by Close
	sweepAt time.Time     // next time PutSingleUse sweeps expired keys
}

// Option configures a Store.
type Option func(*options)

type options struct {
	now       func() time.Time
	retention int
	shards    int // 0: the database's, or defaultShards for a new one
	attempts  int
	poll      time.Duration
}

// Defaults of the options.
const (
	defaultRetention = 4096
	defaultShards    = 16
	defaultAttempts  = 10
	defaultPoll      = time.Second
	maxShards        = 1024
)

// WithClock sets the clock the store reads to expire single-use keys. The default is
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithFeedRetention sets how many commits the change feed keeps per shard for subscribers
// that fall behind (default 4096). A subscriber further behind gets Batch.Gap. Each process
// trims to its own setting as it commits.
func WithFeedRetention(n int) Option { return func(o *options) { o.retention = n } }

// WithShards sets the number of feed shards of a new database (default 16, at most 1024).
// A database keeps the number it was set up with: opening it with another fails.
func WithShards(n int) Option { return func(o *options) { o.shards = n } }

// WithMaxAttempts sets how many times Update runs a transaction that keeps conflicting with
// concurrent ones before it fails with store.ErrUnavailable, code store.CodeAborted (default
// 10).
func WithMaxAttempts(n int) Option { return func(o *options) { o.attempts = n } }

// WithPollInterval sets how long a blocked Changes call waits for a notification before it
// reads the feed anyway (default 1s): the bound on how late a follower learns of a commit
// whose notification was lost. A call with a deadline also reads the feed once shortly
// before it.
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }

// New returns the store.Store on the database pool connects to. It pings the database,
// brings its iamkit schema up to date (the tables live in the schema "iamkit") and refuses a
// database whose schema is newer than this code (store.ErrInvalid, code CodeSchemaTooNew).
// ctx bounds the opening; the store's own background work lives until Close. The pool stays
// the caller's: Close does not close it.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (store.Store, error) {
	b, err := NewBackend(ctx, pool, opts...)
	if err != nil {
		return nil, err
	}
	return store.New(b), nil
}

// NewBackend returns the Store, the Backend that New wraps.
func NewBackend(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	o := options{now: time.Now, retention: defaultRetention, attempts: defaultAttempts, poll: defaultPoll}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(pool); err != nil {
		return nil, err
	}
	tables, err := tables()
	if err != nil {
		return nil, err
	}
	s := &Store{
		pool: pool, tables: tables, now: o.now, retention: o.retention, attempts: o.attempts, poll: o.poll,
		done: make(chan struct{}),
	}
	if err := pool.Ping(ctx); err != nil {
		return nil, s.fail(ctx, err, "ping")
	}
	shards := o.shards
	if shards == 0 {
		shards = defaultShards
	}
	setup, err := migrate(ctx, pool, shards)
	if err != nil {
		return nil, s.fail(ctx, err, "migrate")
	}
	if o.shards != 0 && o.shards != setup.shards {
		return nil, store.Invalid("shards", store.CodeInvalidValue, setup.shards,
			"the database's feed has %d shards, not %d", setup.shards, o.shards)
	}
	s.epoch, s.shards = setup.epoch, setup.shards
	s.listener = newListener(ctx, pool)
	return s, nil
}

// validate checks the options.
func (o *options) validate(pool *pgxpool.Pool) error {
	switch {
	case pool == nil:
		return store.Invalid("pool", store.CodeRequired, 0, "required")
	case o.now == nil:
		return store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case o.retention < 1:
		return store.Invalid("feed_retention", store.CodeOutOfRange, 1, "must be at least 1, got %d", o.retention)
	case o.shards < 0 || o.shards > maxShards:
		return store.Invalid("shards", store.CodeOutOfRange, maxShards, "must be between 1 and %d, got %d", maxShards, o.shards)
	case o.attempts < 1:
		return store.Invalid("max_attempts", store.CodeOutOfRange, 1, "must be at least 1, got %d", o.attempts)
	case o.poll <= 0:
		return store.Invalid("poll_interval", store.CodeOutOfRange, 0, "must be positive")
	}
	return nil
}

// usable returns ctx's error, or store.ErrClosed once the store is closed.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// View implements store.Backend: fn's reads share one snapshot (REPEATABLE READ, READ ONLY).
func (s *Store) View(ctx context.Context, fn func(store.Ops) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.fail(ctx, err, "begin")
	}
	defer s.rollback(ctx, tx)
	if err := fn(&ops{s: s, tx: tx}); err != nil {
		return err
	}
	return nil
}

// rollback ends a transaction that did not commit, even when ctx is done.
func (s *Store) rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// Update implements store.Backend. fn runs in a REPEATABLE READ transaction, and runs again
// (after a short random pause) when PostgreSQL reports a serialization failure or a deadlock,
// up to WithMaxAttempts times.
func (s *Store) Update(ctx context.Context, fn func(store.WriteOps) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	var err error
	for attempt := range s.attempts {
		if err = s.update(ctx, fn); !retryable(err) {
			return err
		}
		if attempt+1 < s.attempts {
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return werr
			}
		}
	}
	return store.Wrap(store.ErrUnavailable, store.CodeAborted, err,
		"the transaction conflicted with concurrent ones %d times", s.attempts)
}

// backoff is the pause before attempt+2: random, growing with the attempts, at most ~50ms.
func backoff(attempt int) time.Duration {
	ceiling := time.Millisecond << min(attempt, 6)
	return time.Duration(rand.Int64N(int64(ceiling))) + 100*time.Microsecond
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// update makes one attempt of an Update. A retryable error comes back unconverted, so that
// Update can tell it apart.
func (s *Store) update(ctx context.Context, fn func(store.WriteOps) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return s.fail(ctx, err, "begin")
	}
	defer s.rollback(ctx, tx)
	o := &ops{s: s, tx: tx, write: true, seen: map[store.Change]int{}}
	err = fn(o)
	switch {
	case o.broken != nil:
		return o.broken
	case err != nil:
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(o.changes) > 0 {
		if err := s.appendCommit(ctx, tx, o); err != nil {
			if retryable(err) {
				return err
			}
			return s.fail(ctx, err, "append to the feed")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if retryable(err) {
			return err
		}
		if len(o.changes) > 0 {
			return store.Wrap(store.ErrUnavailable, codeUnavailable, err, "pgstore: commit: its outcome is unknown")
		}
		return s.fail(ctx, err, "commit")
	}
	return nil
}

// SQLSTATE codes the store acts on.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgCheckViolation       = "23514"
	pgNotNullViolation     = "23502"
)

// codeUnavailable is the code of ErrUnavailable itself.
var codeUnavailable = store.CodeOf(store.ErrUnavailable)

// retryable reports whether err is a serialization failure or a deadlock: the transaction
// was rolled back and may succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected)
}

// fail converts an error from PostgreSQL into the store's error model: ctx's own error when
// ctx is done, an error of the store's as it is, ErrUnavailable (code CodeAborted) for a
// transaction that conflicted, ErrUnavailable for a server that is unreachable, shutting
// down or out of resources, and an internal error otherwise. No value of a record is in it.
func (s *Store) fail(ctx context.Context, err error, what string) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if store.KindOf(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		// The connection failed: nothing reached the server, or its outcome is unknown.
		return store.Wrap(store.ErrUnavailable, codeUnavailable, err, "pgstore: %s", what)
	}
	switch {
	case retryable(err):
		return store.Wrap(store.ErrUnavailable, store.CodeAborted, err, "pgstore: %s: conflict with a concurrent transaction", what)
	case unavailableClass(pe.Code):
		return store.Wrap(store.ErrUnavailable, codeUnavailable, err, "pgstore: %s", what)
	}
	return fmt.Errorf("pgstore: %s: %w", what, err)
}

// unavailableClass reports whether a SQLSTATE is of a class that says the server cannot
// serve now: connection exceptions, insufficient resources, operator intervention (shutting
// down, crash recovery) and system errors.
func unavailableClass(code string) bool {
	for _, class := range []string{"08", "53", "57", "58"} {
		if strings.HasPrefix(code, class) {
			return true
		}
	}
	return false
}

// Close implements store.Backend: blocked Changes calls return store.ErrClosed, later calls
// fail with it, and the feed's listening connection is closed. The pool stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.listener.close()
	return nil
}
