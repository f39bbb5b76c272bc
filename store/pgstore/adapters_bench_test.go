package pgstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/pgstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// The workload of one round of BenchmarkAdapters, per adapter.
const (
	benchRoundTrips   = 2000 // bare round trips (the reference)
	benchCreates      = 2000 // credentials created, one Update each
	benchDeletions    = 5    // bot users of benchOwned credentials deleted, then purged
	benchOwned        = 1000
	benchVerifiers    = 8   // Verifiers, each with a follower and a connection of its own
	benchRevocations  = 500 // cached credentials revoked one at a time
	benchIssueBatches = 100 // credentials written per Update while setting up
)

// deployment is one adapter's server: open returns a Store on a connection (client, pool) of
// its own, as another process would have; roundTrip, nil for memstore, is one bare round
// trip to the server, the reference for the adapter's figures.
type deployment struct {
	open      func(tb testing.TB) store.Store
	roundTrip func(ctx context.Context) error
	rt        *roundTrips // the round trips of the stores open made; nil for memstore
}

// roundTrips counts round trips to a server: on Redis one per command sent alone, per
// pipeline or per MULTI/EXEC block, per node on a Cluster; on PostgreSQL one per query or
// batch (pgx sends a batch's statements together).
type roundTrips struct{ redistest.RoundTrips }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.Add(1)
	return ctx
}

func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.Add(1)
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// load returns the count so far; 0 on memstore.
func (r *roundTrips) load() int64 {
	if r == nil {
		return 0
	}
	return r.N()
}

// BenchmarkAdapters measures, in one run, the same operations on memstore, Redis, a 3-master
// Redis Cluster and PostgreSQL, each against a bare round trip to its own server:
//
//   - RoundTrip: a PING (Redis) or SELECT 1 (PostgreSQL) on a plain client;
//   - CreateCredential: one Update that puts one authtoken of an existing bot user;
//     roundtrips/create counts its round trips to the server (roundTrips);
//   - DeleteBot1000: deleting a bot user that owns 1,000 credentials (one Update: the
//     owner's tombstone), then purging them (credential.Purger.Purge, to completion);
//   - Revocation8: revoking one credential that 8 running Verifiers hold in their caches,
//     each Verifier on a store of its own with a follower of its own; the delay runs from
//     the start of the revoking Update to the moment the last of the 8 followers handed the
//     commit to a handler subscribed after the Verifier's (so the Verifier has applied it):
//     timed by that notification, not by polling. Each Verifier must then refuse the token
//     as revoked (from its cache: a store read would find the token unknown). Beside
//     revoked-p50/p99 (to the last Verifier), first-p50/p99 is the delay to the first
//     Verifier and update-p50/p99 the revoking Update's own time.
//
// Each sub-benchmark does a fixed amount of work and reports its own figures (medians and
// p99 of the single operations); ns/op is the whole sub-benchmark. Run it with -benchtime
// 1x, one process per round, so that rounds interleave the adapters (-count would repeat
// each sub-benchmark in a row) and each round starts fresh servers:
//
//	go test -c -o pgstore.test ./store/pgstore/
//	for i in 1 2 3; do ./pgstore.test -test.run '^$' -test.bench Adapters -test.benchtime 1x; done
func BenchmarkAdapters(b *testing.B) {
	for _, a := range []struct {
		name  string
		start func(b *testing.B) *deployment
	}{
		{"Memstore", memDeployment},
		{"Redis", redisDeployment},
		{"RedisCluster3", clusterDeployment},
		{"Postgres", pgDeployment},
	} {
		b.Run(a.name, func(b *testing.B) {
			dep := a.start(b)
			if dep.roundTrip != nil {
				b.Run("RoundTrip", func(b *testing.B) { benchRoundTrip(b, dep) })
			}
			b.Run("CreateCredential", func(b *testing.B) { benchCreate(b, dep) })
			b.Run("DeleteBot1000", func(b *testing.B) { benchDeleteBot(b, dep) })
			b.Run("Revocation8", func(b *testing.B) { benchRevocation(b, dep) })
		})
	}
}

func memDeployment(b *testing.B) *deployment {
	st, err := memstore.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return &deployment{open: func(testing.TB) store.Store { return st }}
}

func noMaint() *maintnotifications.Config {
	// go-redis v9.23 races on maintenance-notification handshakes with Redis < 8
	// (store/redisstore's doc): switch them off.
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

func redisDeployment(b *testing.B) *deployment {
	srv := redistest.Start(b, redistest.WithPrivate())
	newClient := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: srv.Addr, MaintNotificationsConfig: noMaint()})
	}
	ping := newClient()
	b.Cleanup(func() { ping.Close() })
	rt := &roundTrips{}
	return &deployment{
		rt: rt,
		open: func(tb testing.TB) store.Store {
			c := newClient()
			c.AddHook(rt)
			st, err := redisstore.New(tb.Context(), c, redisstore.WithPrefix(srv.Prefix))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close(); c.Close() })
			return st
		},
		roundTrip: func(ctx context.Context) error { return ping.Ping(ctx).Err() },
	}
}

func clusterDeployment(b *testing.B) *deployment {
	cl := redistest.StartCluster(b, 3)
	prefix := redistest.UniquePrefix()
	newClient := func() *redis.ClusterClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaintNotificationsConfig: noMaint()})
	}
	ping := newClient()
	b.Cleanup(func() { ping.Close() })
	rt := &roundTrips{}
	return &deployment{
		rt: rt,
		open: func(tb testing.TB) store.Store {
			c := newClient()
			c.OnNewNode(func(n *redis.Client) { n.AddHook(rt) }) // every command reaches a node
			st, err := redisstore.New(tb.Context(), c, redisstore.WithPrefix(prefix))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close(); c.Close() })
			return st
		},
		roundTrip: func(ctx context.Context) error { return ping.Ping(ctx).Err() },
	}
}

func pgDeployment(b *testing.B) *deployment {
	srv := pgtest.Start(b, pgtest.WithPrivate())
	url := srv.Database(b)
	rt := &roundTrips{}
	newPool := func(tb testing.TB, tracer pgx.QueryTracer) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.ConnConfig.Tracer = tracer
		pool, err := pgxpool.NewWithConfig(tb.Context(), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(pool.Close)
		return pool
	}
	ping := newPool(b, nil)
	return &deployment{
		rt: rt,
		open: func(tb testing.TB) store.Store {
			st, err := pgstore.New(tb.Context(), newPool(tb, rt))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			return st
		},
		roundTrip: func(ctx context.Context) error {
			var one int
			return ping.QueryRow(ctx, "SELECT 1").Scan(&one)
		},
	}
}

// benchOwner is an account with one bot user, written through st.
type benchOwner struct {
	ids       *id.Generator
	acct, bot string
}

func newAccount(tb testing.TB, st store.Store) *benchOwner {
	tb.Helper()
	o := &benchOwner{ids: id.NewGenerator(clock.System{}, rand.Reader)}
	o.acct, _ = o.ids.New(id.Account)
	ctx := tb.Context()
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Account{ID: o.acct}) }); err != nil {
		tb.Fatal(err)
	}
	o.newBot(tb, st)
	return o
}

// newBot writes a new bot user of the account and makes it the owner of what follows.
func (o *benchOwner) newBot(tb testing.TB, st store.Store) {
	tb.Helper()
	o.bot, _ = o.ids.NewIn(id.BotUser, o.acct)
	ctx := tb.Context()
	err := st.Update(ctx, func(tx store.Tx) error {
		return tx.PutBotUser(ctx, store.BotUser{ID: o.bot, AccountID: o.acct, Name: "bot-" + id.Body(o.bot), Active: true})
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// credential returns a new authtoken of the bot user and its token.
func (o *benchOwner) credential(tb testing.TB) (store.Credential, string) {
	tb.Helper()
	cid, _ := o.ids.NewIn(id.Authtoken, o.acct)
	tok, err := credential.NewToken(store.Authtoken, cid, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	c := store.Credential{ID: cid, AccountID: o.acct, Kind: store.Authtoken, OwnerID: o.bot,
		SecretHash: (*credential.Hasher)(nil).HashHex(tok.Token()), ACL: []string{"bind:*.example.com"}}
	return c, tok.Reveal()
}

// issue writes n credentials of the bot user, benchIssueBatches an Update, and returns their
// IDs and tokens.
func (o *benchOwner) issue(tb testing.TB, st store.Store, n int) (ids, tokens []string) {
	tb.Helper()
	ctx := tb.Context()
	for len(ids) < n {
		batch := make([]store.Credential, 0, benchIssueBatches)
		for range min(benchIssueBatches, n-len(ids)) {
			c, tok := o.credential(tb)
			batch = append(batch, c)
			ids, tokens = append(ids, c.ID), append(tokens, tok)
		}
		err := st.Update(ctx, func(tx store.Tx) error {
			for _, c := range batch {
				if err := tx.PutCredential(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids, tokens
}

// latencies sorts ds and reports their median and p99 in µs as metrics named after what.
func reportLatencies(b *testing.B, what string, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, what+"-p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds())/1e3, what+"-p99-µs")
}

// mallocs returns the process's count of heap allocations so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func benchRoundTrip(b *testing.B, dep *deployment) {
	ctx := b.Context()
	ds := make([]time.Duration, 0, benchRoundTrips)
	for b.Loop() {
		ds = ds[:0]
		for range benchRoundTrips {
			t0 := time.Now()
			if err := dep.roundTrip(ctx); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
	}
	reportLatencies(b, "rt", ds)
}

func benchCreate(b *testing.B, dep *deployment) {
	ctx := b.Context()
	st := dep.open(b)
	o := newAccount(b, st)
	creds := make([]store.Credential, benchCreates)
	ds := make([]time.Duration, 0, benchCreates)
	var allocs uint64
	var trips int64
	for b.Loop() {
		b.StopTimer()
		for i := range creds {
			creds[i], _ = o.credential(b)
		}
		ds = ds[:0]
		m0, rt0 := mallocs(), dep.rt.load()
		b.StartTimer()
		for _, c := range creds {
			t0 := time.Now()
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutCredential(ctx, c) }); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		allocs, trips = mallocs()-m0, dep.rt.load()-rt0
	}
	reportLatencies(b, "create", ds)
	b.ReportMetric(float64(allocs)/benchCreates, "allocs/create")
	b.ReportMetric(float64(trips)/benchCreates, "roundtrips/create")
}

func benchDeleteBot(b *testing.B, dep *deployment) {
	ctx := b.Context()
	st := dep.open(b)
	o := newAccount(b, st)
	purger, err := credential.NewPurger(st)
	if err != nil {
		b.Fatal(err)
	}
	var deletes, purges []time.Duration
	var deleteTrips, purgeTrips int64
	for b.Loop() {
		deletes, purges = deletes[:0], purges[:0]
		deleteTrips, purgeTrips = 0, 0
		for range benchDeletions {
			b.StopTimer()
			o.newBot(b, st)
			o.issue(b, st, benchOwned)
			b.StartTimer()
			rt0, t0 := dep.rt.load(), time.Now()
			err := st.Update(ctx, func(tx store.Tx) error {
				return tx.DeleteBotUser(ctx, o.bot, store.Principal{Source: "sdk"})
			})
			t1, rt1 := time.Now(), dep.rt.load()
			if err != nil {
				b.Fatal(err)
			}
			n, err := purger.Purge(ctx)
			t2 := time.Now()
			deleteTrips, purgeTrips = deleteTrips+rt1-rt0, purgeTrips+dep.rt.load()-rt1
			if err != nil || n != benchOwned {
				b.Fatalf("purged %d credentials, want %d: %v", n, benchOwned, err)
			}
			deletes, purges = append(deletes, t1.Sub(t0)), append(purges, t2.Sub(t1))
		}
	}
	slices.Sort(deletes)
	slices.Sort(purges)
	b.ReportMetric(float64(deletes[len(deletes)/2].Microseconds())/1e3, "delete-ms")
	b.ReportMetric(float64(deletes[len(deletes)-1].Microseconds())/1e3, "delete-max-ms")
	b.ReportMetric(float64(purges[len(purges)/2].Microseconds())/1e3, "purge-ms")
	b.ReportMetric(float64(purges[len(purges)-1].Microseconds())/1e3, "purge-max-ms")
	b.ReportMetric(float64(deleteTrips)/benchDeletions, "roundtrips/delete")
	b.ReportMetric(float64(purgeTrips)/benchDeletions, "roundtrips/purge")
}

// revocations is a FeedHandler subscribed after a Verifier's on the same follower: it
// reports when each credential deletion has been applied by that Verifier.
type revocations struct {
	applied chan applied
}

type applied struct {
	credID string
	at     time.Time
}

func (r *revocations) Apply(c store.Commit) {
	at := time.Now()
	for _, ch := range c.Changes {
		if ch.Kind == store.KindCredential && ch.Op == store.OpDelete {
			r.applied <- applied{ch.ID, at}
		}
	}
}

func (r *revocations) Flush() {}

// runVerifier starts a Verifier on a store of its own, with a follower of its own that also
// feeds the returned revocations.
func runVerifier(b *testing.B, dep *deployment) (*credential.Verifier, *revocations) {
	b.Helper()
	st := dep.open(b)
	f, err := store.NewFollower(st)
	if err != nil {
		b.Fatal(err)
	}
	v, err := credential.NewVerifier(st, credential.WithFollower(f))
	if err != nil {
		b.Fatal(err)
	}
	r := &revocations{applied: make(chan applied, benchRevocations+1)}
	if err := f.Subscribe(r); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.Run(ctx) })
	wg.Go(func() { v.Run(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })
	if err := v.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	return v, r
}

// awaitApplied waits until r reports credID applied and returns when.
func awaitApplied(b *testing.B, r *revocations, credID string) time.Time {
	b.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case a := <-r.applied:
			if a.credID == credID {
				return a.at
			}
		case <-timeout:
			b.Fatalf("the revocation of %s not applied after 10s", credID)
		}
	}
}

func benchRevocation(b *testing.B, dep *deployment) {
	ctx := b.Context()
	writer := dep.open(b)
	o := newAccount(b, writer)
	ids, tokens := o.issue(b, writer, benchRevocations)
	vs := make([]*credential.Verifier, benchVerifiers)
	rs := make([]*revocations, benchVerifiers)
	for i := range vs {
		vs[i], rs[i] = runVerifier(b, dep)
		for _, tok := range tokens {
			if _, err := vs[i].Verify(ctx, store.Authtoken, tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	// all: to the last Verifier; first: to the first; update: the revoking Update alone.
	all := make([]time.Duration, 0, benchRevocations)
	var first, update []time.Duration
	for b.Loop() {
		if len(all) > 0 {
			continue // each credential is revoked once: the first iteration is the measurement
		}
		for i, credID := range ids {
			t0 := time.Now()
			if err := writer.Update(ctx, func(tx store.Tx) error { return tx.DeleteCredential(ctx, credID) }); err != nil {
				b.Fatal(err)
			}
			update = append(update, time.Since(t0))
			var earliest, last time.Time
			for _, r := range rs {
				at := awaitApplied(b, r, credID)
				if at.After(last) {
					last = at
				}
				if earliest.IsZero() || at.Before(earliest) {
					earliest = at
				}
			}
			all, first = append(all, last.Sub(t0)), append(first, earliest.Sub(t0))
			for j, v := range vs {
				if _, err := v.Verify(ctx, store.Authtoken, tokens[i]); !errors.Is(err, credential.ReasonRevoked) {
					b.Fatalf("verifier %d, a revoked token: %v, want %v", j, err, credential.ReasonRevoked)
				}
			}
		}
	}
	reportLatencies(b, "revoked", all)
	reportLatencies(b, "first", first)
	reportLatencies(b, "update", update)
}
