package redisstore_test

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// feedRetention is the feed retention of the feed tests' stores: small, so that a few dozen
// commits trim past a cursor.
const feedRetention = 4

// feedEnv is one feed test's store, with direct access to its streams through the client.
type feedEnv struct {
	t      *testing.T
	ctx    context.Context
	rdb    redis.UniversalClient
	s      store.Store
	prefix string
	acct   string
	n      int // commits written so far
}

func newFeedEnv(t *testing.T, rdb redis.UniversalClient, prefix string, opts ...redisstore.Option) *feedEnv {
	t.Helper()
	opts = append([]redisstore.Option{redisstore.WithPrefix(prefix), redisstore.WithFeedRetention(feedRetention)}, opts...)
	s, err := redisstore.New(t.Context(), rdb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	acct, _ := id.NewGenerator(clock.System{}, rand.Reader).New(id.Account)
	return &feedEnv{t: t, ctx: t.Context(), rdb: rdb, s: s, prefix: prefix, acct: acct}
}

// commit writes one commit to the account's stream.
func (e *feedEnv) commit() {
	e.t.Helper()
	e.n++
	name := "n" + strconv.Itoa(e.n)
	if err := e.s.Update(e.ctx, func(tx store.Tx) error {
		return tx.PutAccount(e.ctx, store.Account{ID: e.acct, Name: name})
	}); err != nil {
		e.t.Fatal(err)
	}
}

// commits writes n commits.
func (e *feedEnv) commits(n int) {
	e.t.Helper()
	for range n {
		e.commit()
	}
}

func (e *feedEnv) head() store.Cursor {
	e.t.Helper()
	c, err := e.s.Head(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// streams returns the keys of the store's feed streams that exist.
func (e *feedEnv) streams() []string {
	e.t.Helper()
	var (
		mu   sync.Mutex // ForEachMaster scans the masters concurrently
		keys []string
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, e.prefix+":*:feed", 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(e.ctx, scan)
	} else {
		err = scan(e.ctx, e.rdb.(*redis.Client))
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if len(keys) == 0 {
		e.t.Fatal("no feed stream found under the prefix")
	}
	return keys
}

// each runs a command on every feed stream.
func (e *feedEnv) each(what string, cmd func(key string) error) {
	e.t.Helper()
	for _, k := range e.streams() {
		if err := cmd(k); err != nil {
			e.t.Fatalf("%s %s: %v", what, k, err)
		}
	}
}

// empty trims every stream to nothing, as an operator's XTRIM MAXLEN 0 would.
func (e *feedEnv) empty() {
	e.t.Helper()
	e.each("XTRIM MAXLEN 0", func(k string) error { return e.rdb.XTrimMaxLen(e.ctx, k, 0).Err() })
}

// drop deletes every stream, as a flush or a restart without persistence would.
func (e *feedEnv) drop() {
	e.t.Helper()
	e.each("DEL", func(k string) error { return e.rdb.Del(e.ctx, k).Err() })
}

// snapshot dumps every stream; the returned func restores them, as a failover to a replica
// that missed the commits in between, or a restore from a backup, would.
func (e *feedEnv) snapshot() (restore func()) {
	e.t.Helper()
	dumps := map[string]string{}
	e.each("DUMP", func(k string) error {
		d, err := e.rdb.Dump(e.ctx, k).Result()
		dumps[k] = d
		return err
	})
	return func() {
		e.t.Helper()
		for k, d := range dumps {
			if err := e.rdb.RestoreReplace(e.ctx, k, 0, d).Err(); err != nil {
				e.t.Fatalf("RESTORE %s: %v", k, err)
			}
		}
	}
}

// changes calls Changes with a deadline of window.
func (e *feedEnv) changes(cur store.Cursor, window time.Duration) (store.Batch, error) {
	ctx, cancel := context.WithTimeout(e.ctx, window)
	defer cancel()
	return e.s.Changes(ctx, cur)
}

// wantGap checks that Changes from cur reports a gap within window, and returns its Next.
func (e *feedEnv) wantGap(what string, cur store.Cursor, window time.Duration) store.Cursor {
	e.t.Helper()
	b, err := e.changes(cur, window)
	if err != nil {
		e.t.Fatalf("%s: Changes: %v, want a gap", what, err)
	}
	if !b.Gap {
		e.t.Fatalf("%s: Changes returned %d commits and no gap", what, len(b.Commits))
	}
	if len(b.Commits) != 0 {
		e.t.Errorf("%s: a gap Batch carries %d commits", what, len(b.Commits))
	}
	return b.Next
}

// feedDeployments are the Redis deployments the feed tests run on.
func feedDeployments(t *testing.T) []struct {
	name string
	rdb  func(t *testing.T) (redis.UniversalClient, string)
} {
	return []struct {
		name string
		rdb  func(t *testing.T) (redis.UniversalClient, string)
	}{
		{"standalone", func(t *testing.T) (redis.UniversalClient, string) {
			srv := sharedServer(t)
			prefix := srv.Prefix + ":" + redistest.UniquePrefix()
			c := newClient(t, srv, func(o *redis.Options) { o.ClientName = strings.ReplaceAll(prefix, ":", "-") })
			return c, prefix
		}},
		{"cluster", func(t *testing.T) (redis.UniversalClient, string) {
			if testing.Short() {
				t.Skip("starts a 3-master cluster")
			}
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: sharedCluster(t).Addrs, MaintNotificationsConfig: noMaintNotifications()})
			t.Cleanup(func() { c.Close() })
			return c, redistest.UniquePrefix()
		}},
	}
}

// TestFeedPositionNeverResets checks that a cursor remembers where it stood in a stream that
// was emptied, deleted, recreated or rewound, so that commits missed since are always a
// gap: a position must never silently fall back to "before everything".
func TestFeedPositionNeverResets(t *testing.T) {
	const window = 5 * time.Second // a hang guard, far above any answer's time
	cases := []struct {
		name string
		run  func(e *feedEnv)
	}{
		{"head_of_emptied_stream", func(e *feedEnv) {
			// Head of a stream that held commits and was emptied, then commits trimmed
			// past it before the subscriber read them.
			e.commit()
			e.empty()
			cur := e.head()
			e.commits(5 * feedRetention)
			e.wantGap("trimmed past a cursor taken on an emptied stream", cur, window)
		}},
		{"gap_next_of_emptied_stream", func(e *feedEnv) {
			// The gap a subscriber gets for an emptied stream, then commits trimmed past
			// the gap's Next.
			e.commit()
			cur := e.head()
			e.commit() // missed, then trimmed away with the rest
			e.empty()
			next := e.wantGap("emptied past the cursor", cur, window)
			e.commits(5 * feedRetention)
			e.wantGap("trimmed past the Next of an earlier gap", next, window)
		}},
		{"emptied_without_a_miss", func(e *feedEnv) {
			// Emptying commits the subscriber has seen is no gap; what follows is read.
			e.commits(3)
			cur := e.head()
			e.empty()
			if h := e.head(); h != cur {
				e.t.Errorf("Head moved from %q to %q when the stream was emptied of commits already read", cur, h)
			}
			e.commit()
			b, err := e.changes(cur, window)
			if err != nil || b.Gap || len(b.Commits) != 1 {
				e.t.Fatalf("Changes after emptying read commits, then one more: gap=%v, %d commits, %v; want the one commit",
					b.Gap, len(b.Commits), err)
			}
		}},
		{"deleted_stream", func(e *feedEnv) {
			e.commit()
			cur := e.head()
			e.drop()
			next := e.wantGap("stream deleted", cur, window)
			e.commits(5 * feedRetention)
			e.wantGap("trimmed past the Next of a deleted stream's gap", next, window)
		}},
		{"recreated_stream_longer_than_cursor", func(e *feedEnv) {
			// A flushed stream written again, more than the cursor had counted, all of it
			// after the cursor's entry.
			e.commits(3)
			cur := e.head()
			e.drop()
			e.commits(feedRetention)
			e.wantGap("stream deleted and recreated", cur, window)
		}},
		{"rewound_stream", func(e *feedEnv) {
			// Restored from an older copy: its last entry is before the cursor's.
			e.commit()
			restore := e.snapshot()
			e.commits(2)
			cur := e.head()
			restore()
			e.wantGap("stream rewound below the cursor", cur, window)
		}},
		{"rewound_stream_rewritten_at_the_cursors_id", func(e *feedEnv) {
			// Restored from an older copy, then written at exactly the ID the cursor stands
			// at (a commit in the same millisecond can get it): the stream still "holds" an
			// entry with the cursor's ID, but not the cursor's entry.
			e.commit()
			restore := e.snapshot()
			e.commits(2)
			cur := e.head()
			last := map[string]string{}
			e.each("XREVRANGE", func(k string) error {
				es, err := e.rdb.XRevRangeN(e.ctx, k, "+", "-", 1).Result()
				if len(es) == 1 {
					last[k] = es[0].ID
				}
				return err
			})
			restore()
			for k, id := range last {
				if err := e.rdb.XAdd(e.ctx, &redis.XAddArgs{Stream: k, ID: id, Values: []any{"c", "[]", "t", "0000000000000"}}).Err(); err != nil {
					e.t.Fatal(err)
				}
			}
			e.wantGap("stream rewound, then written at the cursor's own ID", cur, window)
		}},
		{"rewound_stream_then_written", func(e *feedEnv) {
			// Restored from an older copy, then written again past the cursor's ID.
			e.commit()
			restore := e.snapshot()
			e.commits(2)
			cur := e.head()
			restore()
			e.commit()
			e.wantGap("stream rewound below the cursor, then written", cur, window)
		}},
	}
	for _, d := range feedDeployments(t) {
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rdb, prefix := d.rdb(t)
					tc.run(newFeedEnv(t, rdb, prefix))
				})
			}
		})
	}
}

// TestFeedGapWithinCallersWindow checks that a gap on a quiet feed (no commit after the
// fault) reaches a caller whose deadline is shorter than the store's block wait: the store
// checks before it blocks, and bounds each blocking read by the time the caller has left.
func TestFeedGapWithinCallersWindow(t *testing.T) {
	const window = time.Second // the caller's deadline, as a follower's poll interval
	cases := []struct {
		name string
		// setup commits and returns the subscriber's cursor and the fault to inject.
		setup        func(e *feedEnv) (store.Cursor, func())
		whileBlocked bool // inject the fault once Changes is waiting, not before the call
	}{
		{"deleted_before_the_call", func(e *feedEnv) (store.Cursor, func()) {
			e.commit()
			return e.head(), e.drop
		}, false},
		{"rewound_before_the_call", func(e *feedEnv) (store.Cursor, func()) {
			e.commit()
			restore := e.snapshot()
			e.commit()
			return e.head(), restore
		}, false},
		{"deleted_while_blocked", func(e *feedEnv) (store.Cursor, func()) {
			e.commit()
			return e.head(), e.drop
		}, true},
		{"rewound_while_blocked", func(e *feedEnv) (store.Cursor, func()) {
			e.commit()
			restore := e.snapshot()
			e.commit()
			return e.head(), restore
		}, true},
	}
	for _, d := range feedDeployments(t) {
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rdb, prefix := d.rdb(t)
					e := newFeedEnv(t, rdb, prefix, redisstore.WithBlockWait(10*time.Second))
					cur, fault := tc.setup(e)
					if !tc.whileBlocked {
						fault()
					}
					ctx, cancel := context.WithTimeout(e.ctx, window)
					defer cancel()
					type result struct {
						b   store.Batch
						err error
					}
					res := make(chan result, 1)
					go func() {
						b, err := e.s.Changes(ctx, cur)
						res <- result{b, err}
					}()
					if tc.whileBlocked {
						e.waitWaiting(ctx)
						fault()
					}
					r := <-res
					if r.err != nil || !r.b.Gap {
						t.Fatalf("Changes on a quiet feed, %v deadline, block wait 10s: gap=%v, %d commits, err %v; want the gap before the deadline",
							window, r.b.Gap, len(r.b.Commits), r.err)
					}
				})
			}
		})
	}
}

// waitWaiting waits until a Changes call of this env's store is waiting for commits: on a
// standalone server, until its client (named after the prefix) is blocked in XREAD. On
// Cluster the wait is inside the store, out of sight: it gives the call a moment to get
// there, which makes the test exercise the wait more often but decides nothing.
func (e *feedEnv) waitWaiting(ctx context.Context) {
	e.t.Helper()
	c, ok := e.rdb.(*redis.Client)
	if !ok {
		time.Sleep(50 * time.Millisecond)
		return
	}
	for ctx.Err() == nil {
		list, err := c.ClientList(e.ctx).Result()
		if err != nil {
			e.t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, "name="+c.Options().ClientName+" ") && strings.Contains(line, "cmd=xread") && strings.Contains(line, "flags=b") {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}
