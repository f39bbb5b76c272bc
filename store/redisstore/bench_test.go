package redisstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// fixture is an account with a bot user and n authtokens, on a counted client.
type fixture struct {
	s      store.Store
	client redis.UniversalClient
	prefix string
	rt     *redistest.RoundTrips
	ids    *id.Generator
	acct   string
	bot    string
	creds  []store.Credential
}

func newFixture(tb testing.TB, srv *redistest.Server, n int) *fixture {
	tb.Helper()
	o, err := redis.ParseURL(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	o.MaintNotificationsConfig = noMaintNotifications()
	c := redis.NewClient(o)
	tb.Cleanup(func() { c.Close() })
	rt := &redistest.RoundTrips{}
	c.AddHook(rt)
	return newFixtureOn(tb, c, rt, srv.Prefix+":"+redistest.UniquePrefix(), n)
}

// newFixtureOn is newFixture on any client.
func newFixtureOn(tb testing.TB, c redis.UniversalClient, rt *redistest.RoundTrips, prefix string, n int) *fixture {
	tb.Helper()
	s, err := redisstore.New(context.Background(), c, redisstore.WithPrefix(prefix))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	f := &fixture{s: s, client: c, prefix: prefix, rt: rt, ids: id.NewGenerator(clock.System{}, rand.Reader)}
	f.acct, _ = f.ids.New(id.Account)
	f.bot, _ = f.ids.NewIn(id.BotUser, f.acct)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: f.acct, Name: "bench"}); err != nil {
			return err
		}
		return tx.PutBotUser(ctx, store.BotUser{ID: f.bot, AccountID: f.acct, Name: "ci", Active: true})
	}); err != nil {
		tb.Fatal(err)
	}
	for range n {
		cr := f.newCred()
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutCredential(ctx, cr) }); err != nil {
			tb.Fatal(err)
		}
		f.creds = append(f.creds, cr)
	}
	return f
}

func (f *fixture) newCred() store.Credential {
	cid, _ := f.ids.NewIn(id.Authtoken, f.acct)
	sum := sha256.Sum256([]byte(cid))
	return store.Credential{
		ID: cid, AccountID: f.acct, Kind: store.Authtoken, OwnerID: f.bot,
		Description: "bench", ACL: []string{"bind:*.example.com"},
		SecretHash: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC(),
	}
}

// measure runs op b.N times and reports round trips per op.
func (f *fixture) measure(b *testing.B, op func(i int) error) {
	b.Helper()
	b.ReportAllocs()
	if err := op(0); err != nil { // warm up: scripts loaded, connections dialled
		b.Fatal(err)
	}
	start := f.rt.N()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(f.rt.N()-start)/float64(b.N), "roundtrips/op")
}

func BenchmarkRedis(b *testing.B) {
	srv := sharedServer(b)
	f := newFixture(b, srv, 200)
	ctx := context.Background()

	b.Run("CreateCredential", func(b *testing.B) {
		f.measure(b, func(int) error {
			cr := f.newCred()
			return f.s.Update(ctx, func(tx store.Tx) error { return tx.PutCredential(ctx, cr) })
		})
	})
	b.Run("GetByID", func(b *testing.B) {
		f.measure(b, func(i int) error {
			return f.s.View(ctx, func(r store.Reader) error {
				_, err := r.Credential(ctx, f.creds[i%len(f.creds)].ID)
				return err
			})
		})
	})
	b.Run("CredentialAuth", func(b *testing.B) {
		f.measure(b, func(i int) error {
			return f.s.View(ctx, func(r store.Reader) error {
				_, o, err := r.CredentialAuth(ctx, f.creds[i%len(f.creds)].ID)
				if err == nil && o.State != store.OwnerActive {
					b.Fatalf("owner state %v", o.State)
				}
				return err
			})
		})
	})
	b.Run("CredentialAuthUnknown", func(b *testing.B) {
		unknown, _ := f.ids.NewIn(id.Authtoken, f.acct)
		f.measure(b, func(int) error {
			err := f.s.View(ctx, func(r store.Reader) error {
				_, _, err := r.CredentialAuth(ctx, unknown)
				return err
			})
			if err == store.ErrNotFound {
				return nil
			}
			return err
		})
	})
	b.Run("ListPage50", func(b *testing.B) {
		f.measure(b, func(int) error {
			return f.s.View(ctx, func(r store.Reader) error {
				cs, err := r.Credentials(ctx, f.acct, store.Authtoken, store.Page{Limit: 50})
				if err == nil && len(cs) != 50 {
					b.Fatalf("page of %d", len(cs))
				}
				return err
			})
		})
	})
	f.putBots(b, 120)
	b.Run("BotUsersPage100", func(b *testing.B) {
		f.measure(b, func(int) error {
			return f.s.View(ctx, func(r store.Reader) error {
				bs, err := r.BotUsers(ctx, f.acct, store.Page{Limit: 100})
				if err == nil && len(bs) != 100 {
					b.Fatalf("page of %d", len(bs))
				}
				return err
			})
		})
	})
	b.Run("FeedHead", func(b *testing.B) {
		cur := populateFeeds(b, f)
		f.measure(b, func(int) error {
			h, err := f.s.Head(ctx)
			if err == nil && h != cur {
				b.Fatal("Head moved")
			}
			return err
		})
	})
	b.Run("FeedChanges", func(b *testing.B) { // one commit waiting: no blocking
		before := populateFeeds(b, f)
		if err := f.s.Update(ctx, func(tx store.Tx) error {
			return tx.PutAccount(ctx, store.Account{ID: f.acct, Name: "bench again"})
		}); err != nil {
			b.Fatal(err)
		}
		f.measure(b, func(int) error {
			batch, err := f.s.Changes(ctx, before)
			if err == nil && (batch.Gap || len(batch.Commits) != 1) {
				b.Fatalf("gap %v, %d commits", batch.Gap, len(batch.Commits))
			}
			return err
		})
	})
	b.Run("RedisPING", func(b *testing.B) { // the floor: one bare round trip
		c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", portOf(srv.Addr))})
		defer c.Close()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := c.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// populateFeeds writes to enough accounts that every feed stream of f's store holds
// entries, as in a deployment with many accounts, and returns the head.
func populateFeeds(b *testing.B, f *fixture) store.Cursor {
	ctx := context.Background()
	for range 200 { // 16 buckets: all hit, but for a chance of 16*(15/16)^200 < 1e-4
		acct, _ := f.ids.New(id.Account)
		if err := f.s.Update(ctx, func(tx store.Tx) error {
			return tx.PutAccount(ctx, store.Account{ID: acct, Name: "feed"})
		}); err != nil {
			b.Fatal(err)
		}
	}
	head, err := f.s.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return head
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestRoundTrips pins the round trips of the hot operations, which the benchmarks report.
func TestRoundTrips(t *testing.T) {
	srv := sharedServer(t)
	f := newFixture(t, srv, 60)
	ctx := t.Context()
	count := func(what string, want int64, op func() error) {
		t.Helper()
		if err := op(); err != nil { // warm up (script load)
			t.Fatalf("%s: %v", what, err)
		}
		// The least of three runs: a run that dials a connection also counts its handshake.
		least := int64(1 << 30)
		for range 3 {
			before := f.rt.N()
			if err := op(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			least = min(least, f.rt.N()-before)
		}
		if least != want {
			t.Errorf("%s took %d round trips, want %d", what, least, want)
		}
	}
	cr := f.creds[0]
	// CredentialAuth is store.New's generic read: the credential, then its owner's bot
	// user, membership, tombstone and user in one GetMany.
	count("CredentialAuth", 2, func() error {
		return f.s.View(ctx, func(r store.Reader) error { _, _, err := r.CredentialAuth(ctx, cr.ID); return err })
	})
	count("CredentialAuth of an unknown ID", 1, func() error {
		return f.s.View(ctx, func(r store.Reader) error {
			_, _, err := r.CredentialAuth(ctx, cr.ID[:len(cr.ID)-8]+"XXXX"+cr.ID[len(cr.ID)-4:])
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
	})
	// Credential and Credentials read the records, then their owners' tombstones (one GetMany
	// per page, whatever the number of owners), then their last-used times (LastUsed).
	count("Credential", 3, func() error {
		return f.s.View(ctx, func(r store.Reader) error { _, err := r.Credential(ctx, cr.ID); return err })
	})
	count("Credentials page", 3, func() error {
		return f.s.View(ctx, func(r store.Reader) error {
			_, err := r.Credentials(ctx, f.acct, store.Authtoken, store.Page{Limit: 50})
			return err
		})
	})
	count("Head", 1, func() error { _, err := f.s.Head(ctx); return err })
	count("Changes with commits waiting", 1, func() error {
		b, err := f.s.Changes(ctx, "")
		if err == nil && len(b.Commits) == 0 {
			err = errors.New("no commits")
		}
		return err
	})
	// The credential, its owner (GetMany), the secret hash's pointer, the SET NX claim of
	// the pointer, the MULTI/EXEC.
	count("create credential", 5, func() error {
		c := f.newCred()
		return f.s.Update(ctx, func(tx store.Tx) error { return tx.PutCredential(ctx, c) })
	})
}

// BenchmarkFeedDelivery measures how long a commit takes to reach a subscriber blocked in
// Changes: from Update's return to Changes' return with that commit. It reports the median
// and the 99th percentile; run it with -benchtime 1000x.
func BenchmarkFeedDelivery(b *testing.B) {
	b.Run("Standalone", func(b *testing.B) {
		feedDelivery(b, newFixture(b, sharedServer(b), 0))
	})
	b.Run("Cluster3", func(b *testing.B) {
		cl := sharedCluster(b)
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaintNotificationsConfig: noMaintNotifications()})
		b.Cleanup(func() { c.Close() })
		feedDelivery(b, newFixtureOn(b, c, &redistest.RoundTrips{}, redistest.UniquePrefix(), 0))
	})
}

func feedDelivery(b *testing.B, f *fixture) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cur, err := f.s.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	delivered := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			batch, err := f.s.Changes(ctx, cur)
			if err != nil {
				return
			}
			now := time.Now()
			cur = batch.Next
			for range batch.Commits {
				delivered <- now
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := "n" + strconv.Itoa(i)
		if err := f.s.Update(ctx, func(tx store.Tx) error {
			return tx.PutAccount(ctx, store.Account{ID: f.acct, Name: name})
		}); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		at := <-delivered
		lat = append(lat, max(at.Sub(committed), 0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// TestLargeCommit: a commit of more records than one command carries (keysPerCommand) writes
// them all, with their indexes, and a commit deleting them all deletes every record, index
// entry and last-used time.
func TestLargeCommit(t *testing.T) {
	const n = 600 // more than two commands' worth
	f := newFixture(t, sharedServer(t), 0)
	ctx := t.Context()
	creds := make([]store.Credential, n)
	for i := range creds {
		creds[i] = f.newCred()
	}
	if err := f.s.Update(ctx, func(tx store.Tx) error {
		for _, c := range creds {
			if err := tx.PutCredential(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	uses := make([]store.Use, n)
	for i, c := range creds {
		uses[i] = store.Use{CredentialID: c.ID, At: time.Now()}
	}
	if err := f.s.RecordUse(ctx, uses); err != nil {
		t.Fatal(err)
	}
	count := func() (listed, found, used int) {
		t.Helper()
		err := f.s.View(ctx, func(r store.Reader) error {
			p := store.Page{Limit: store.MaxPageLimit}
			cs, err := r.CredentialsByOwner(ctx, f.acct, f.bot, p)
			if err != nil {
				return err
			}
			listed = len(cs)
			for _, c := range creds {
				got, err := r.CredentialBySecretHash(ctx, c.SecretHash)
				switch {
				case err == nil:
					found++
					if !got.LastUsedAt.IsZero() {
						used++
					}
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return listed, found, used
	}
	if listed, found, _ := count(); listed != n || found != n {
		t.Fatalf("after writing %d credentials in one commit: %d listed, %d found by secret hash", n, listed, found)
	}
	if err := f.s.Update(ctx, func(tx store.Tx) error {
		for _, c := range creds {
			if err := tx.DeleteCredential(ctx, c.ID); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if listed, found, used := count(); listed != 0 || found != 0 || used != 0 {
		t.Fatalf("after deleting them in one commit: %d listed, %d found by secret hash, %d with a last-used time", listed, found, used)
	}
	lu, err := redisstore.NewBackend(ctx, f.client, redisstore.WithPrefix(f.prefix))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i, c := range creds {
		ids[i] = c.ID
	}
	times, err := lu.LastUsed(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range times {
		if !at.At.IsZero() {
			t.Fatalf("credential %d kept its last-used time %v", i, at)
		}
	}
}

// TestFeedReadBoundedByBytes: a subscriber behind by more commits' worth of changes than one
// feed read carries (256 KiB) gets them over several Changes calls, each fewer than all,
// in order and without a gap.
func TestFeedReadBoundedByBytes(t *testing.T) {
	const commits, perCommit = 40, 200 // about 20 KiB of changes a commit
	f := newFixture(t, sharedServer(t), 0)
	ctx := t.Context()
	head, err := f.s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range commits {
		if err := f.s.Update(ctx, func(tx store.Tx) error {
			for range perCommit {
				if err := tx.PutCredential(ctx, f.newCred()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var calls, got int
	var last uint64
	for cur := head; got < commits; calls++ {
		b, err := f.s.Changes(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		if b.Gap || len(b.Commits) == 0 {
			t.Fatalf("call %d: gap %v, %d commits, after %d of %d", calls, b.Gap, len(b.Commits), got, commits)
		}
		for _, c := range b.Commits {
			if c.Revision <= last || len(c.Changes) != perCommit {
				t.Fatalf("commit %d: revision %d after %d, %d changes", got, c.Revision, last, len(c.Changes))
			}
			last = c.Revision
			got++
		}
		cur = b.Next
	}
	if calls < 2 {
		t.Fatalf("%d commits of %d changes each came in %d Changes call", commits, perCommit, calls)
	}
}

// putBots writes n bot users into f's account, in one commit.
func (f *fixture) putBots(tb testing.TB, n int) {
	tb.Helper()
	ctx := tb.Context()
	if err := f.s.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			bid, err := f.ids.NewIn(id.BotUser, f.acct)
			if err != nil {
				return err
			}
			b := store.BotUser{ID: bid, AccountID: f.acct, Name: "bot-" + strconv.Itoa(i), Active: true,
				Roles: []string{"developer"}, CreatedAt: time.Now().UTC()}
			if err := tx.PutBotUser(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// TestPageRoundTrips: a page of 100 bot users is one round trip (one script call: the index
// range and the records), on a standalone server and on a 3-master Cluster (counted per
// node), and a page of 100 credentials three (records, their owners' tombstones, their
// last-used times).
func TestPageRoundTrips(t *testing.T) {
	for _, c := range []struct {
		name    string
		fixture func(t *testing.T) *fixture
	}{
		{"Standalone", func(t *testing.T) *fixture { return newFixture(t, sharedServer(t), 100) }},
		{"Cluster3", func(t *testing.T) *fixture {
			cl := sharedCluster(t)
			cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaintNotificationsConfig: noMaintNotifications()})
			t.Cleanup(func() { cc.Close() })
			rt := &redistest.RoundTrips{}
			cc.OnNewNode(func(n *redis.Client) { n.AddHook(rt) })
			return newFixtureOn(t, cc, rt, redistest.UniquePrefix(), 100)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.fixture(t)
			f.putBots(t, 120)
			ctx := t.Context()
			for _, op := range []struct {
				what string
				want int64
				read func(r store.Reader) (int, error)
			}{
				{"a page of 100 bot users", 1, func(r store.Reader) (int, error) {
					bs, err := r.BotUsers(ctx, f.acct, store.Page{Limit: 100})
					return len(bs), err
				}},
				{"a page of 100 credentials", 3, func(r store.Reader) (int, error) {
					cs, err := r.Credentials(ctx, f.acct, store.Authtoken, store.Page{Limit: 100})
					return len(cs), err
				}},
			} {
				least := int64(1 << 30)
				for range 3 { // the least of three: a run that dials also counts its handshake
					before := f.rt.N()
					err := f.s.View(ctx, func(r store.Reader) error {
						n, err := op.read(r)
						if err == nil && n != 100 {
							err = errors.New("a page of " + strconv.Itoa(n))
						}
						return err
					})
					if err != nil {
						t.Fatalf("%s: %v", op.what, err)
					}
					least = min(least, f.rt.N()-before)
				}
				if least != op.want {
					t.Errorf("%s took %d round trips, want %d", op.what, least, op.want)
				}
			}
		})
	}
}
