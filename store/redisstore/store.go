package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/store"
)

// Codes of this package's errors, besides those of package store.
const (
	// CodeLayoutMismatch (ErrInvalid): the data under the prefix was laid out by another
	// format version or with another shard count than the store was asked for.
	CodeLayoutMismatch = "layout_mismatch"
	// CodeCrossShard (ErrInvalid): on Redis Cluster, an Update wrote records of two shard
	// buckets, which cannot commit atomically.
	CodeCrossShard = "cross_shard"
)

// formatVersion is the version of the key layout. Version 1 was the per-kind layout, which
// recorded no layout key; version 2 is the schema-driven one described in the package
// documentation.
const formatVersion = 2

// Store is a store.Backend on Redis. It is safe for concurrent use. It does not own the
// client it was given: Close stops the store, not the client. New wraps it into the
// store.Store the domain packages use; NewBackend returns it bare.
type Store struct {
	client  redis.UniversalClient
	single  *redis.Client        // set on a standalone (or Sentinel failover) client
	cluster *redis.ClusterClient // set on a Redis Cluster client
	ks      *keyspace
	opt     options
	tables  map[store.Kind]*store.Table

	closeOnce sync.Once
	closed    chan struct{}
	bell      doorbell // Cluster: wakes Changes calls when a commit is announced

	// noSort is set once the server refused pageSort's SORT_RO (before Redis 7, or a
	// Cluster that refuses its GET pattern): first pages go through scriptPage from then on.
	noSort atomic.Bool
}

var _ store.Backend = (*Store)(nil)

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

// New returns the store.Store on client (see NewBackend), with iamkit's rules applied by
// store.New.
func New(ctx context.Context, client redis.UniversalClient, opts ...Option) (store.Store, error) {
	b, err := NewBackend(ctx, client, opts...)
	if err != nil {
		return nil, err
	}
	return store.New(b), nil
}

// NewBackend returns the Backend on client, which must be a *redis.Client (standalone or
// Sentinel failover, as returned by redis.NewClient, redis.NewFailoverClient or
// redis.NewUniversalClient) or a *redis.ClusterClient; a *redis.Ring is refused, since it
// cannot run transactions. It pings Redis, failing with an error matching
// store.ErrUnavailable when Redis does not answer within ctx, then records the layout of the
// data under the prefix (format version, shard count, prefix) in "<prefix>:layout" if
// nothing is recorded there yet. When something else is, it fails with an error matching
// store.ErrInvalid, code CodeLayoutMismatch, having read nothing else.
func NewBackend(ctx context.Context, client redis.UniversalClient, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Store{client: client, ks: newKeyspace(o.prefix, o.shards), opt: o, closed: make(chan struct{}),
		tables: map[store.Kind]*store.Table{}}
	switch c := client.(type) {
	case *redis.Client:
		s.single = c
	case *redis.ClusterClient:
		s.cluster = c
	case nil:
		return nil, store.Invalid("client", store.CodeRequired, 0, "must not be nil")
	default:
		return nil, store.Invalid("client", store.CodeInvalidValue, 0, "%T is not supported: use a *redis.Client or a *redis.ClusterClient", client)
	}
	for _, t := range store.Schema() {
		s.tables[t.Kind] = &t
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return nil, store.Wrap(store.ErrUnavailable, unavailable(), err, "redisstore: Redis did not answer PING")
	}
	if err := s.checkLayout(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// validate checks the options, naming the one at fault.
func (o *options) validate() error {
	switch {
	case o.prefix == "" || strings.ContainsAny(o.prefix, "{}"):
		return store.Invalid("prefix", store.CodeInvalidValue, 0, "must be non-empty and contain no '{' or '}'")
	case o.now == nil:
		return store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case o.retention < 1:
		return store.Invalid("feed_retention", store.CodeOutOfRange, 1, "must be at least 1")
	case o.maxRetries < 0:
		return store.Invalid("max_retries", store.CodeOutOfRange, 0, "must not be negative")
	case o.shards < 1 || o.shards > MaxShards:
		return store.Invalid("shards", store.CodeOutOfRange, MaxShards, "must be between 1 and %d", MaxShards)
	case o.blockWait <= 0:
		return store.Invalid("block_wait", store.CodeOutOfRange, 0, "must be positive")
	}
	return nil
}

// layout is what the store records under "<prefix>:layout": everything that decides where
// a record's keys are.
func (s *Store) layout() string {
	return fmt.Sprintf("iamkit redisstore format=%d shards=%d prefix=%s", formatVersion, s.ks.n, s.ks.prefix)
}

// maxShownLayout bounds how much of a stored layout an error message repeats.
const maxShownLayout = 200

// checkLayout records the store's layout if none is recorded, in one round trip (SET NX
// then GET of the one key), and refuses a different one.
func (s *Store) checkLayout(ctx context.Context) error {
	want := s.layout()
	var got *redis.StringCmd
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, s.ks.layout(), want, 0)
		got = p.Get(ctx, s.ks.layout())
		return nil
	})
	stored, err := got.Result()
	if err != nil {
		return wrap(err)
	}
	if stored != want {
		if len(stored) > maxShownLayout {
			stored = stored[:maxShownLayout] + "..."
		}
		return store.NewError(store.ErrInvalid, CodeLayoutMismatch,
			"redisstore: the data under this prefix is laid out as %q, but this store was asked for %q: "+
				"open it with the options it was written with", stored, want)
	}
	return nil
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

// View implements store.Backend. Each read is one atomic read of Redis (a single command,
// pipeline or script); successive reads may observe commits made in between, so a View is
// read-committed rather than a snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Ops) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return fn(&txn{s: s, hint: -1, home: -1})
}

// Update implements store.Backend with an optimistic transaction: reads WATCH their keys,
// writes are buffered (and visible to fn's later reads), and on return they are committed in
// one MULTI/EXEC with the commit's feed entry. When a watched key changed, fn runs again, up
// to the configured number of retries, then Update fails with an error matching
// store.ErrUnavailable, code store.CodeAborted.
//
// On Redis Cluster every write of one Update must fall in one shard bucket (one account and
// its records; see the package documentation); an Update that writes to two fails with an
// error matching store.ErrInvalid (code CodeCrossShard) and writes nothing.
func (s *Store) Update(ctx context.Context, fn func(store.WriteOps) error) error {
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
			return store.NewError(store.ErrUnavailable, store.CodeAborted,
				"redisstore: the shard the transaction writes kept changing between runs")
		case s.cluster != nil && slotMoved(err):
			// The slot moved (resharding or failover) under the pinned connection: learn
			// the new layout and run fn again, as after a conflict.
			s.cluster.ReloadState(ctx)
			if attempt >= s.opt.maxRetries {
				return store.Wrap(store.ErrUnavailable, store.CodeAborted, err, "redisstore: the slot kept moving")
			}
		case !errors.Is(err, errRetry):
			return err
		case attempt >= s.opt.maxRetries:
			return store.NewError(store.ErrUnavailable, store.CodeAborted,
				"redisstore: concurrent writes conflicted with the transaction %d times", attempt+1)
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

// RecordUse implements store.Backend in one pipelined script call per shard bucket. Times
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
		byBucket[b] = append(byBucket[b], u.CredentialID, formatUse(u))
	}
	keys := make([][]string, 0, len(byBucket))
	args := make([][]any, 0, len(byBucket))
	for b, pairs := range byBucket {
		keys = append(keys, []string{s.ks.lastUsed(b).k})
		args = append(args, append([]any{s.ks.heads[b] + recordTail(store.KindCredential)}, pairs...))
	}
	return s.runScripts(ctx, s.client, scriptRecordUse, keys, args)
}

// LastUsed implements store.Backend: one HMGET per shard bucket, pipelined.
func (s *Store) LastUsed(ctx context.Context, ids []string) ([]store.Use, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := make([]store.Use, len(ids))
	for i, id := range ids {
		out[i].CredentialID = id
	}
	if len(ids) == 0 {
		return out, nil
	}
	at := map[int][]int{} // bucket -> indexes into ids
	for i, id := range ids {
		b := s.ks.bucket(id)
		at[b] = append(at[b], i)
	}
	cmds := map[int]*redis.SliceCmd{}
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for b, idx := range at {
			fields := make([]string, len(idx))
			for j, i := range idx {
				fields[j] = ids[i]
			}
			cmds[b] = p.HMGet(ctx, s.ks.lastUsed(b).k, fields...)
		}
		return nil
	})
	for b, cmd := range cmds {
		vals, err := cmd.Result()
		if err != nil {
			return nil, wrap(err)
		}
		for j, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // never used
			}
			u := &out[at[b][j]]
			if u.At, u.IP, err = parseUse(str); err != nil {
				return nil, store.Wrap(store.ErrUnavailable, store.CodeInternal, err, "redisstore: a stored last use cannot be read")
			}
		}
	}
	return out, nil
}

// runScripts runs one script several times in one pipeline. Where Redis does not have the
// script (NOSCRIPT), it loads it once and runs those calls again in a second pipeline,
// rather than one EVAL each.
func (s *Store) runScripts(ctx context.Context, c redis.Cmdable, sc *redis.Script, keys [][]string, args [][]any) error {
	run := func(idx []int) []redis.Cmder {
		cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				sc.EvalSha(ctx, p, keys[i], args[i]...)
			}
			return nil
		})
		return cmds
	}
	all := make([]int, len(keys))
	for i := range all {
		all[i] = i
	}
	cmds := run(all)
	var missing []int
	for i, cmd := range cmds {
		err := cmd.Err()
		switch {
		case err != nil && redis.HasErrorPrefix(err, "NOSCRIPT"):
			missing = append(missing, i)
		case err != nil && !errors.Is(err, redis.Nil):
			return wrap(err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := sc.Load(ctx, c).Err(); err != nil {
		return wrap(err)
	}
	for _, cmd := range run(missing) {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return wrap(err)
		}
	}
	return nil
}

// singleUseGrace is how long Redis keeps a single-use key after its logical expiry, so that
// a store clock a little behind Redis's never sees a live key vanish.
const singleUseGrace = time.Minute

// PutSingleUse implements store.Backend in one script call, judging expiry by the store's
// clock; Redis removes the key (PX) a minute after its expiry.
func (s *Store) PutSingleUse(ctx context.Context, k string, value []byte, expiresAt time.Time) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if k == "" {
		return store.Invalid("key", store.CodeRequired, 0, "required")
	}
	now := s.opt.now()
	ttl := max(expiresAt.Sub(now), 0) + singleUseGrace
	v := expiryStamp(expiresAt) + string(value)
	r, err := s.runScript(ctx, scriptPutOnce, []string{s.ks.singleUse(k).k}, expiryStamp(now), v, ttl.Milliseconds())
	if err != nil {
		return err
	}
	if n, _ := r.(int64); n == 0 {
		return store.NewError(store.ErrConflict, store.CodeAlreadyExists, "the single-use key is already stored")
	}
	return nil
}

// TakeSingleUse implements store.Backend with GETDEL: only one caller ever gets the key.
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

// formatUse is a last use as the last-used hash holds it: the time (timeLayout, so that
// values compare as strings in time order), then, when known, a space and the address.
func formatUse(u store.Use) string {
	if !u.IP.IsValid() {
		return formatTime(u.At)
	}
	return formatTime(u.At) + " " + u.IP.String()
}

// parseUse reads what formatUse wrote (a value of before addresses were kept is a time alone).
func parseUse(s string) (time.Time, netip.Addr, error) {
	at, ip, found := strings.Cut(s, " ")
	t, err := parseTime(at)
	if err != nil || !found {
		return t, netip.Addr{}, err
	}
	addr, err := netip.ParseAddr(ip)
	return t, addr, err
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeLayout, s)
}

// unavailable is the code of errors from Redis itself: that of store.ErrUnavailable.
func unavailable() string { return store.CodeOf(store.ErrUnavailable) }

// wrap turns an error from Redis into one matching store.ErrUnavailable. Context errors and
// errors that already match a sentinel of package store pass through unchanged.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), store.KindOf(err) != nil:
		return err
	}
	return store.Wrap(store.ErrUnavailable, unavailable(), err, "redisstore")
}
