package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

// Store is a store.Store on Redis. It is safe for concurrent use. It does not own the client
// it was given: Close stops the store, not the client.
type Store struct {
	client  redis.UniversalClient
	single  *redis.Client        // set on a standalone (or Sentinel failover) client
	cluster *redis.ClusterClient // set on a Redis Cluster client
	ks      *keyspace
	opt     options

	closeOnce sync.Once
	closed    chan struct{}
	bell      doorbell // Cluster: wakes Changes calls when a commit is announced
}

var _ store.Store = (*Store)(nil)

// errRetry is returned by a commit that lost an optimistic race: Update runs fn again.
var errRetry = errors.New("redisstore: concurrent write")

// slotMoved reports a Redis Cluster redirection or transient slot state: the pinned
// connection is not, or not yet, the slot's owner.
func slotMoved(err error) bool {
	for _, p := range []string{"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"} {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}

// rerouteError is returned by a Cluster commit whose writes live on another node than the one
// the transaction pinned: Update runs fn again pinned to that bucket.
type rerouteError struct{ bucket int }

func (e *rerouteError) Error() string { return "redisstore: transaction pinned to the wrong shard" }

// New returns a Store on client, which must be a *redis.Client (standalone or Sentinel
// failover, as returned by redis.NewClient, redis.NewFailoverClient or
// redis.NewUniversalClient) or a *redis.ClusterClient. A *redis.Ring is refused: it cannot
// run transactions. New does not contact Redis.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.prefix == "" || strings.ContainsAny(o.prefix, "{}"):
		return nil, &store.InvalidError{Field: "prefix", Reason: "must be non-empty and contain no '{' or '}'"}
	case o.now == nil:
		return nil, &store.InvalidError{Field: "clock", Reason: "must not be nil"}
	case o.retention < 1:
		return nil, &store.InvalidError{Field: "feed retention", Reason: "must be at least 1"}
	case o.maxRetries < 0:
		return nil, &store.InvalidError{Field: "max retries", Reason: "must not be negative"}
	case o.shards < 1 || o.shards > MaxShards:
		return nil, &store.InvalidError{Field: "shards", Reason: fmt.Sprintf("must be between 1 and %d", MaxShards)}
	case o.blockWait <= 0:
		return nil, &store.InvalidError{Field: "block wait", Reason: "must be positive"}
	}
	s := &Store{client: client, ks: newKeyspace(o.prefix, o.shards), opt: o, closed: make(chan struct{})}
	switch c := client.(type) {
	case *redis.Client:
		s.single = c
	case *redis.ClusterClient:
		s.cluster = c
	case nil:
		return nil, &store.InvalidError{Field: "client", Reason: "must not be nil"}
	default:
		return nil, &store.InvalidError{Field: "client", Reason: fmt.Sprintf("%T is not supported: use a *redis.Client or a *redis.ClusterClient", client)}
	}
	return s, nil
}

// Close stops the store: later calls fail with store.ErrClosed and blocked Changes calls
// return it. It does not close the Redis client. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.bell.close()
	})
	return nil
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// check returns the error a call must fail with before doing anything, if any.
func (s *Store) check(ctx context.Context) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// View runs fn with a Reader. Each Reader call is one atomic read of Redis (a single
// command, pipeline or script); successive calls may observe commits made in between, so
// a View is read-committed rather than a snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	t := &txn{s: s}
	return fn(t)
}

// Update runs fn in an optimistic transaction: reads WATCH their keys, writes are buffered
// (and visible to fn's later reads), and on return they are committed in one MULTI/EXEC with
// the commit's feed entry. When a watched key changed, fn runs again, up to the configured
// number of retries, then Update fails with an error matching store.ErrAborted.
//
// On Redis Cluster every write of one Update must fall in one shard bucket (one account and
// its records; see the package documentation); an Update that writes to two fails with an
// error matching store.ErrInvalid and writes nothing.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	hint, reroutes := -1, 0
	for attempt := 0; ; attempt++ {
		if err := s.check(ctx); err != nil {
			return err
		}
		t := newTxn(s, hint)
		err := fn(t)
		if err == nil {
			err = t.commit(ctx)
		}
		t.finish(ctx)
		var re *rerouteError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re) && reroutes < 2:
			hint = re.bucket
			reroutes++
			attempt--
			continue
		case errors.As(err, &re):
			return fmt.Errorf("%w: the shard the transaction writes kept changing between runs", store.ErrAborted)
		case s.cluster != nil && slotMoved(err):
			// The slot moved (resharding or failover) under the pinned connection: learn
			// the new layout and run fn again, as after a conflict.
			s.cluster.ReloadState(ctx)
			if attempt >= s.opt.maxRetries {
				return err
			}
		case !errors.Is(err, errRetry):
			return err
		case attempt >= s.opt.maxRetries:
			return fmt.Errorf("%w (%d attempts)", store.ErrAborted, attempt+1)
		}
		// Back off a little, with jitter, so that contenders spread out.
		d := time.Duration(rand.Int64N(int64(time.Millisecond)*int64(min(attempt+1, 10)))) + 100*time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return store.ErrClosed
		case <-time.After(d):
		}
	}
}

// RecordUse records last-used times in one pipelined script call per shard bucket. Times
// older than the one recorded, and credentials that do not exist, are ignored.
func (s *Store) RecordUse(ctx context.Context, uses []store.Use) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if len(uses) == 0 {
		return nil
	}
	byBucket := map[int][]any{}
	for _, u := range uses {
		if u.CredentialID == "" {
			continue
		}
		b := s.ks.bucket(u.CredentialID)
		byBucket[b] = append(byBucket[b], u.CredentialID, formatTime(u.At))
	}
	keys := make([][]string, 0, len(byBucket))
	args := make([][]any, 0, len(byBucket))
	for b, pairs := range byBucket {
		keys = append(keys, []string{s.ks.lastUsed(b).k})
		args = append(args, append([]any{s.ks.heads[b] + kCred + ":"}, pairs...))
	}
	return s.runScripts(ctx, s.client, scriptRecordUse, keys, args)
}

// runScripts runs one script several times in one pipeline, loading it where missing.
func (s *Store) runScripts(ctx context.Context, c redis.Cmdable, sc *redis.Script, keys [][]string, args [][]any) error {
	cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range keys {
			sc.EvalSha(ctx, p, keys[i], args[i]...)
		}
		return nil
	})
	for i, cmd := range cmds {
		err := cmd.Err()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			err = sc.Eval(ctx, c, keys[i], args[i]...).Err()
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return wrap(err)
		}
	}
	return nil
}

// singleUseGrace is how long Redis keeps a single-use key after its logical expiry, so that
// a store clock a little behind Redis's never sees a live key vanish.
const singleUseGrace = time.Minute

// PutSingleUse stores a single-use key until expiresAt, by the store's clock, in one script
// call; Redis removes it (PX) a minute after that.
func (s *Store) PutSingleUse(ctx context.Context, k string, value []byte, expiresAt time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if k == "" {
		return &store.InvalidError{Field: "key", Reason: "required"}
	}
	now := s.opt.now()
	ttl := max(expiresAt.Sub(now), 0) + singleUseGrace
	v := expiryStamp(expiresAt) + string(value)
	r, err := s.runScript(ctx, scriptPutOnce, []string{s.ks.singleUse(k).k}, expiryStamp(now), v, ttl.Milliseconds())
	if err != nil {
		return err
	}
	if n, _ := r.(int64); n == 0 {
		return &store.ConflictError{Kind: "single_use", Index: "key"}
	}
	return nil
}

// TakeSingleUse takes a single-use key with GETDEL: only one caller ever gets it.
func (s *Store) TakeSingleUse(ctx context.Context, k string) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	v, err := s.client.GetDel(ctx, s.ks.singleUse(k).k).Result()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err)
	}
	if len(v) < stampLen || v[:stampLen] <= expiryStamp(s.opt.now()) {
		return nil, store.ErrNotFound
	}
	return []byte(v[stampLen:]), nil
}

// runScript runs a script with EVALSHA, falling back to EVAL.
func (s *Store) runScript(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	r, err := sc.Run(ctx, s.client, keys, args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	return r, nil
}

const stampLen = 20

// expiryStamp is a time as 20 zero-padded digits of Unix nanoseconds (0 before 1970), so
// that stamps compare as strings in time order.
func expiryStamp(t time.Time) string {
	n := t.UnixNano()
	if t.Before(time.Unix(0, 0)) {
		n = 0
	}
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", stampLen-len(s)) + s
}

// timeLayout is fixed-width and UTC, so formatted times compare as strings in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeLayout, s)
}

// wrap marks an error from Redis as coming from this package. Context errors and the
// store's sentinels pass through unchanged in meaning (errors.Is still matches them).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %w", err)
}
