package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// timeoutCounter is a store that counts the Changes calls ending with their deadline once
// counting is on: each is a poll window in which the follower learned nothing.
type timeoutCounter struct {
	store.Store
	on       atomic.Bool
	timeouts atomic.Int64
}

func (c *timeoutCounter) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	b, err := c.Store.Changes(ctx, after)
	if c.on.Load() && errors.Is(err, context.DeadlineExceeded) {
		c.timeouts.Add(1)
	}
	return b, err
}

// redisFeed is a standalone Redis store and a client to reach its streams directly.
type redisFeed struct {
	t      *testing.T
	ctx    context.Context
	rdb    *redis.Client
	st     store.Store
	prefix string
}

func newRedisFeed(t *testing.T, srv *redistest.Server) *redisFeed {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { rdb.Close() })
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	// The store's block wait is far longer than the follower's poll window: the store
	// must still answer within the window.
	st, err := redisstore.New(t.Context(), rdb, redisstore.WithPrefix(prefix), redisstore.WithBlockWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &redisFeed{t: t, ctx: t.Context(), rdb: rdb, st: st, prefix: prefix}
}

// commit writes one commit, always to the same account, so to the same stream.
func (r *redisFeed) commit() {
	r.t.Helper()
	putAccount(r.t, r.st, 1)
}

// streams returns the store's feed stream keys.
func (r *redisFeed) streams() []string {
	r.t.Helper()
	keys, err := r.rdb.Keys(r.ctx, r.prefix+":*:feed").Result()
	if err != nil || len(keys) == 0 {
		r.t.Fatalf("feed streams: %v, %v", keys, err)
	}
	return keys
}

// drop deletes the feed streams, as a flush or a restart without persistence would.
func (r *redisFeed) drop() {
	r.t.Helper()
	if err := r.rdb.Del(r.ctx, r.streams()...).Err(); err != nil {
		r.t.Fatal(err)
	}
}

// snapshot dumps the feed streams; the returned func restores them, as a failover to a
// replica that missed the commits in between would.
func (r *redisFeed) snapshot() (restore func()) {
	r.t.Helper()
	dumps := map[string]string{}
	for _, k := range r.streams() {
		d, err := r.rdb.Dump(r.ctx, k).Result()
		if err != nil {
			r.t.Fatal(err)
		}
		dumps[k] = d
	}
	return func() {
		r.t.Helper()
		for k, d := range dumps {
			if err := r.rdb.RestoreReplace(r.ctx, k, 0, d).Err(); err != nil {
				r.t.Fatal(err)
			}
		}
	}
}

// TestQuietRedisFeedGapFlushesWithinAWindow: on a standalone Redis whose feed then stays
// quiet, the streams lose commits past the follower's cursor (deleted, or rewound to an
// older copy) and no commit follows. The follower must flush its handler within one poll
// window, at most one of its waits on the feed ending empty-handed, and a Sync must return:
// the store answers within the follower's window instead of waiting out its own.
func TestQuietRedisFeedGapFlushesWithinAWindow(t *testing.T) {
	srv := redistest.Start(t)
	const poll = 300 * time.Millisecond
	faults := []struct {
		name string
		// setup commits what the follower then reads, and returns the fault to inject.
		setup func(r *redisFeed) func()
	}{
		{"streams_deleted", func(r *redisFeed) func() {
			r.commit()
			return r.drop
		}},
		{"streams_rewound", func(r *redisFeed) func() {
			r.commit()
			restore := r.snapshot()
			r.commit()
			return restore
		}},
	}
	for _, fault := range faults {
		for _, withSync := range []bool{false, true} {
			name := fault.name + "_by_itself"
			if withSync {
				name = fault.name + "_with_sync"
			}
			t.Run(name, func(t *testing.T) {
				r := newRedisFeed(t, srv)
				inject := fault.setup(r)
				st := &timeoutCounter{Store: r.st}
				rec := newRecorder()
				f := follow(t, st, rec, store.WithPollInterval(poll))
				ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second) // a hang guard
				defer cancel()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); f.Run(ctx) }()
				defer wg.Wait()
				defer cancel()
				for !f.Running() {
					time.Sleep(time.Millisecond)
				}
				if err := f.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				if _, flushes := rec.snapshot(); flushes != 1 {
					t.Fatalf("flushes after start = %d, want 1", flushes)
				}

				st.on.Store(true)
				inject()
				if withSync {
					if err := f.Sync(ctx); err != nil {
						t.Fatalf("Sync after the feed lost commits past the cursor: %v", err)
					}
				}
				waitFor(t, rec, func() bool { _, fl := rec.snapshot(); return fl >= 2 })
				if n := st.timeouts.Load(); n > 1 {
					t.Errorf("%d waits on the feed ended empty-handed before the follower flushed; want at most 1", n)
				}
			})
		}
	}
}
