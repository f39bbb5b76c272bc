package credential_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// redisFleet is one Redis, one account with a bot user, and verifiers that each reach Redis
// through a client of their own, as separate processes would.
type redisFleet struct {
	ctx    context.Context
	srv    *redistest.Server
	writer store.Store // the "API server" that writes
	ids    *id.Generator
	acct   string
	bot    string
}

func newRedisStore(tb testing.TB, srv *redistest.Server, opts ...redisstore.Option) store.Store {
	tb.Helper()
	// go-redis v9.23 races on maintenance-notification handshakes with Redis < 8
	// (store/redisstore's doc): switch them off.
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	st, err := redisstore.New(tb.Context(), c, append([]redisstore.Option{redisstore.WithPrefix(srv.Prefix)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close(); c.Close() })
	return st
}

func newRedisFleet(tb testing.TB, srvOpts ...redistest.Option) *redisFleet {
	tb.Helper()
	srv := redistest.Start(tb, srvOpts...)
	f := &redisFleet{ctx: tb.Context(), srv: srv, writer: newRedisStore(tb, srv), ids: id.NewGenerator(clock.System{}, rand.Reader)}
	f.acct, _ = f.ids.New(id.Account)
	f.bot, _ = f.ids.NewIn(id.BotUser, f.acct)
	err := f.writer.Update(f.ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(f.ctx, store.Account{ID: f.acct}); err != nil {
			return err
		}
		return tx.PutBotUser(f.ctx, store.BotUser{ID: f.bot, AccountID: f.acct, Name: "ci", Active: true})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// verifier starts a Verifier on a Redis client of its own.
func (f *redisFleet) verifier(tb testing.TB, opts ...credential.Option) *credential.Verifier {
	tb.Helper()
	v := verifier(tb, newRedisStore(tb, f.srv), opts...)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	if err := v.Sync(f.ctx); err != nil {
		tb.Fatal(err)
	}
	return v
}

// issue writes n authtokens of the bot in batches and returns their IDs and tokens.
func (f *redisFleet) issue(tb testing.TB, n int) ([]string, []string) {
	tb.Helper()
	var ids, tokens []string
	for len(ids) < n {
		err := f.writer.Update(f.ctx, func(tx store.Tx) error {
			for range min(50, n-len(ids)) {
				cid, _ := f.ids.NewIn(id.Authtoken, f.acct)
				tok, err := credential.NewToken(store.Authtoken, cid, rand.Reader)
				if err != nil {
					return err
				}
				c := store.Credential{ID: cid, AccountID: f.acct, Kind: store.Authtoken, OwnerID: f.bot, SecretHash: (*credential.Hasher)(nil).HashHex(tok.Token())}
				if err := tx.PutCredential(f.ctx, c); err != nil {
					return err
				}
				ids, tokens = append(ids, cid), append(tokens, tok.Reveal())
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids, tokens
}

func (f *redisFleet) revoke(tb testing.TB, credID string) {
	tb.Helper()
	if err := f.writer.Update(f.ctx, func(tx store.Tx) error { return tx.DeleteCredential(f.ctx, credID) }); err != nil {
		tb.Fatal(err)
	}
}

// rejected waits until every verifier rejects token, and returns how long that took. A hang
// fails after 10s; this is not a timing assertion.
func rejected(tb testing.TB, vs []*credential.Verifier, token string, want credential.Reason) time.Duration {
	tb.Helper()
	start := time.Now()
	for _, v := range vs {
		for {
			_, err := v.Verify(context.Background(), store.Authtoken, token)
			if errors.Is(err, want) {
				break
			}
			if time.Since(start) > 10*time.Second {
				tb.Fatalf("not %v after 10s: %v", want, err)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	return time.Since(start)
}

// syncAll waits until every verifier has seen every write made so far, so that what they
// cache next is not evicted by an older commit arriving late.
func syncAll(tb testing.TB, vs []*credential.Verifier) {
	tb.Helper()
	for _, v := range vs {
		if err := v.Sync(tb.Context()); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestRevocationReachesEveryVerifierOnRedis(t *testing.T) {
	f := newRedisFleet(t)
	vs := []*credential.Verifier{f.verifier(t), f.verifier(t)}
	ids, tokens := f.issue(t, 20)
	syncAll(t, vs)
	for _, v := range vs {
		for _, tok := range tokens {
			if _, err := v.Verify(f.ctx, store.Authtoken, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 10 {
		f.revoke(t, ids[i])
		rejected(t, vs, tokens[i], credential.ReasonRevoked)
	}
	// Suspending the owner reaches both as one change.
	err := f.writer.Update(f.ctx, func(tx store.Tx) error {
		b, err := tx.BotUser(f.ctx, f.bot)
		if err != nil {
			return err
		}
		b.Active = false
		return tx.PutBotUser(f.ctx, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens[10:] {
		rejected(t, vs, tok, credential.ReasonOwnerInactive)
	}
}

func TestVerifierFailsClosedWhenRedisIsDown(t *testing.T) {
	f := newRedisFleet(t, redistest.WithAOF())
	clk := clock.NewFake(time.Now())
	v := f.verifier(t, credential.WithClock(clk), credential.WithMaxStaleness(10*time.Second))
	_, tokens := f.issue(t, 2)
	if err := v.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f.ctx, store.Authtoken, tokens[0]); err != nil {
		t.Fatal(err)
	}
	f.srv.Stop()
	clk.Advance(5 * time.Second)
	if _, err := v.Verify(f.ctx, store.Authtoken, tokens[0]); err != nil {
		t.Fatalf("Redis down, within the staleness bound, cached: %v", err)
	}
	if _, err := v.Verify(f.ctx, store.Authtoken, tokens[1]); !errors.Is(err, credential.ReasonUnavailable) {
		t.Fatalf("Redis down, not cached: %v, want %v", err, credential.ReasonUnavailable)
	}
	clk.Advance(6 * time.Second)
	if _, err := v.Verify(f.ctx, store.Authtoken, tokens[0]); !errors.Is(err, credential.ReasonUnavailable) {
		t.Fatalf("Redis down past the staleness bound: %v, want %v", err, credential.ReasonUnavailable)
	}
	if err := f.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 20*time.Second)
	defer cancel()
	if err := v.Sync(ctx); err != nil {
		t.Fatalf("Sync after the restart: %v", err)
	}
	if _, err := v.Verify(f.ctx, store.Authtoken, tokens[0]); err != nil {
		t.Fatalf("Redis back: %v", err)
	}
}

// BenchmarkRevocationPropagation revokes b.N cached authtokens, one at a time, through one
// Redis client and measures how long until two verifiers, each on a client of its own, both
// reject it. Run with -benchtime=1000x; it reports the p50 and p99 delays.
func BenchmarkRevocationPropagation(b *testing.B) {
	f := newRedisFleet(b)
	vs := []*credential.Verifier{f.verifier(b), f.verifier(b)}
	ids, tokens := f.issue(b, b.N)
	syncAll(b, vs)
	for _, v := range vs {
		for _, tok := range tokens {
			if _, err := v.Verify(f.ctx, store.Authtoken, tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	delays := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		f.revoke(b, ids[i])
		rejected(b, vs, tokens[i], credential.ReasonRevoked)
		delays = append(delays, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
}

// rawClient is a plain client on the fleet's server, for what the store never does itself,
// such as trimming its feed by hand.
func (f *redisFleet) rawClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: f.srv.Addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	tb.Cleanup(func() { c.Close() })
	return c
}

// emptyFeed trims every feed stream of the fleet to nothing, as an operator's XTRIM would.
func (f *redisFleet) emptyFeed(tb testing.TB) {
	tb.Helper()
	c := f.rawClient(tb)
	keys, err := c.Keys(f.ctx, f.srv.Prefix+":*:feed").Result()
	if err != nil || len(keys) == 0 {
		tb.Fatalf("feed streams: %v, %v", keys, err)
	}
	for _, k := range keys {
		if err := c.XTrimMaxLen(f.ctx, k, 0).Err(); err != nil {
			tb.Fatal(err)
		}
	}
}

// gatedFeed is a store whose change feed can be cut off, as a follower that lost its
// connection (or could not keep up) would see it: while the gate is shut, Changes calls
// wait, and a call that was reading when it shut loses its answer, as a cut connection
// would. Everything else passes through.
type gatedFeed struct {
	store.Store
	mu    sync.Mutex
	open  chan struct{} // closed while the gate is open
	epoch int           // bumped each time the gate shuts
}

var errFeedCut = errors.New("feed connection cut")

func newGatedFeed(st store.Store) *gatedFeed {
	g := &gatedFeed{Store: st, open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gatedFeed) shut() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.epoch++
	g.mu.Unlock()
}

func (g *gatedFeed) reopen() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// enter waits until the gate is open and returns the epoch it entered in.
func (g *gatedFeed) enter(ctx context.Context) (int, error) {
	for {
		g.mu.Lock()
		open, epoch := g.open, g.epoch
		g.mu.Unlock()
		select {
		case <-open:
			g.mu.Lock()
			same := g.epoch == epoch
			g.mu.Unlock()
			if same {
				return epoch, nil
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (g *gatedFeed) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	epoch, err := g.enter(ctx)
	if err != nil {
		return store.Batch{}, err
	}
	b, err := g.Store.Changes(ctx, after)
	g.mu.Lock()
	cut := g.epoch != epoch
	g.mu.Unlock()
	if cut {
		return store.Batch{}, errFeedCut
	}
	return b, err
}

// TestRevocationTrimmedPastCursorIsNotMissed: a verifier whose cursor was taken on an
// emptied feed stream is cut off from the feed while a token it cached is revoked and the
// feed trimmed past the revocation. Once it is back in sync (Sync, so within its staleness
// bound), it must reject the token: the trimmed commits are a gap that flushes its cache,
// not a tail it may skip.
func TestRevocationTrimmedPastCursorIsNotMissed(t *testing.T) {
	f := newRedisFleet(t)
	ids, tokens := f.issue(t, 1)
	f.emptyFeed(t)

	feed := newGatedFeed(newRedisStore(t, f.srv))
	v := verifier(t, feed, credential.WithMaxStaleness(2*time.Second))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	syncCtx, cancelSync := context.WithTimeout(f.ctx, 10*time.Second) // a hang guard
	defer cancelSync()
	if err := v.Sync(syncCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f.ctx, store.Authtoken, tokens[0]); err != nil {
		t.Fatalf("Verify before the revocation: %v", err)
	}

	feed.shut()
	const retention = 4
	trimmer := newRedisStore(t, f.srv, redisstore.WithFeedRetention(retention))
	if err := trimmer.Update(f.ctx, func(tx store.Tx) error { return tx.DeleteCredential(f.ctx, ids[0]) }); err != nil {
		t.Fatal(err)
	}
	for i := range 5 * retention { // commits to the same account: the same stream
		err := trimmer.Update(f.ctx, func(tx store.Tx) error {
			return tx.PutAccount(f.ctx, store.Account{ID: f.acct, Name: "n" + strconv.Itoa(i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	feed.reopen()

	if err := v.Sync(syncCtx); err != nil {
		t.Fatalf("Sync after the feed came back: %v", err)
	}
	res, err := v.Verify(f.ctx, store.Authtoken, tokens[0])
	if !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("Verify of a revoked token after Sync = %+v, %v; want a rejection", res, err)
	}
}

// verifyOutcome is what a Verify call running in a goroutine reports, with its context's
// error at the moment it returned.
type verifyOutcome struct {
	res    credential.Result
	err    error
	ctxErr error
}

// TestVerifierHonoursDeadlineAgainstPausedRedis pauses Redis (SIGSTOP: connections stay up,
// nothing is answered) under verifiers on a client that ignores context deadlines
// (go-redis without ContextTimeoutEnabled, a long read timeout), and calls Verify with a
// 200ms context on each path that reads the store: stale and cache miss (token and SSH
// key), and the reload of an owner the feed invalidated. Verify must return while Redis is still
// paused, rejecting with ReasonUnavailable because its deadline passed; and when Redis
// answers only after the deadline, that late answer must not turn into an accept.
func TestVerifierHonoursDeadlineAgainstPausedRedis(t *testing.T) {
	f := newRedisFleet(t, redistest.WithPrivate()) // paused: nobody else may share it
	_, tokens := f.issue(t, 3)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshKey, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sshID, _ := f.ids.NewIn(id.SSHCredential, f.acct)
	if err := f.writer.Update(f.ctx, func(tx store.Tx) error {
		return tx.PutCredential(f.ctx, store.Credential{
			ID: sshID, AccountID: f.acct, Kind: store.SSHCredential, OwnerID: f.bot,
			PublicKey: string(ssh.MarshalAuthorizedKey(sshKey)), Fingerprint: ssh.FingerprintSHA256(sshKey),
		})
	}); err != nil {
		t.Fatal(err)
	}
	pause := func(t *testing.T) {
		t.Helper()
		if err := f.srv.Pause(); err != nil {
			t.Fatal(err)
		}
	}
	resume := func(t *testing.T) {
		t.Helper()
		if err := f.srv.Resume(); err != nil {
			t.Fatal(err)
		}
	}

	// slowVerifier is a verifier on a client that waits for Redis as long as it takes.
	slowVerifier := func(t *testing.T, clk *clock.Fake) *credential.Verifier {
		c := redis.NewClient(&redis.Options{
			Addr: f.srv.Addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
		st, err := redisstore.New(t.Context(), c, redisstore.WithPrefix(f.srv.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(); c.Close() })
		v := verifier(t, st, credential.WithClock(clk), credential.WithMaxStaleness(2*time.Second))
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan struct{})
		go func() { defer close(done); v.Run(ctx) }()
		// Resume Redis before waiting for Run: its feed reads may be stuck behind the pause.
		t.Cleanup(func() { resume(t); cancel(); <-done })
		if err := v.Sync(f.ctx); err != nil {
			t.Fatal(err)
		}
		return v
	}

	paths := []struct {
		name string
		// prepare readies v (Redis still answering); then Redis is paused and, with the
		// clock moved by advance, verify runs.
		prepare func(t *testing.T, v *credential.Verifier)
		advance time.Duration
		verify  func(ctx context.Context, v *credential.Verifier) (credential.Result, error)
	}{
		{"stale_token", func(t *testing.T, v *credential.Verifier) {}, time.Hour,
			func(ctx context.Context, v *credential.Verifier) (credential.Result, error) {
				return v.Verify(ctx, store.Authtoken, tokens[0])
			}},
		{"stale_ssh_key", func(t *testing.T, v *credential.Verifier) {}, time.Hour,
			func(ctx context.Context, v *credential.Verifier) (credential.Result, error) {
				return v.VerifySSHKey(ctx, sshKey)
			}},
		{"token_cache_miss", func(t *testing.T, v *credential.Verifier) {}, 0,
			func(ctx context.Context, v *credential.Verifier) (credential.Result, error) {
				return v.Verify(ctx, store.Authtoken, tokens[1])
			}},
		{"ssh_key_cache_miss", func(t *testing.T, v *credential.Verifier) {}, 0,
			func(ctx context.Context, v *credential.Verifier) (credential.Result, error) {
				return v.VerifySSHKey(ctx, sshKey)
			}},
		{"owner_reload", func(t *testing.T, v *credential.Verifier) {
			// Cache the token, then change its owner: the feed marks the owner stale, so
			// the next Verify reloads it from the store.
			if _, err := v.Verify(f.ctx, store.Authtoken, tokens[2]); err != nil {
				t.Fatal(err)
			}
			if err := f.writer.Update(f.ctx, func(tx store.Tx) error {
				b, err := tx.BotUser(f.ctx, f.bot)
				if err != nil {
					return err
				}
				b.Name += "-renamed"
				return tx.PutBotUser(f.ctx, b)
			}); err != nil {
				t.Fatal(err)
			}
			if err := v.Sync(f.ctx); err != nil {
				t.Fatal(err)
			}
		}, 0, func(ctx context.Context, v *credential.Verifier) (credential.Result, error) {
			return v.Verify(ctx, store.Authtoken, tokens[2])
		}},
	}
	// wantUnavailable checks a Verify outcome: rejected as unavailable, because its deadline
	// passed.
	wantUnavailable := func(t *testing.T, what string, o verifyOutcome) {
		t.Helper()
		if !errors.Is(o.err, credential.ReasonUnavailable) {
			t.Errorf("%s: Verify = %+v, %v; want %v", what, o.res, o.err, credential.ReasonUnavailable)
		}
		if !errors.Is(o.ctxErr, context.DeadlineExceeded) {
			t.Errorf("%s: Verify returned with its context's error %v; want it to have given up at the deadline", what, o.ctxErr)
		}
	}
	const hangGuard = 10 * time.Second // far above the 200ms deadline; only a hang reaches it
	// Each phase starts a verifier of its own: a read the previous phase abandoned at its
	// deadline may complete once Redis resumes and fill the cache.
	phases := []struct {
		name string
		// lateAnswer resumes Redis as soon as the deadline has passed, so that the store
		// answers just too late; otherwise Redis stays paused until Verify has returned.
		lateAnswer bool
	}{
		{"paused", false},
		{"late_answer", true},
	}
	for _, p := range paths {
		for _, ph := range phases {
			t.Run(p.name+"_"+ph.name, func(t *testing.T) {
				clk := clock.NewFake(time.Now())
				v := slowVerifier(t, clk)
				p.prepare(t, v)
				pause(t)
				clk.Advance(p.advance)
				ctx, cancel := context.WithTimeout(f.ctx, 200*time.Millisecond)
				out := make(chan verifyOutcome, 1)
				go func() {
					defer cancel()
					res, err := p.verify(ctx, v)
					out <- verifyOutcome{res, err, ctx.Err()}
				}()
				if ph.lateAnswer {
					<-ctx.Done()
					resume(t)
				}
				select {
				case o := <-out:
					if !ph.lateAnswer {
						resume(t)
					}
					wantUnavailable(t, ph.name, o)
				case <-time.After(hangGuard):
					if !ph.lateAnswer {
						resume(t)
					}
					o := <-out
					t.Fatalf("%s: Verify did not return by its 200ms deadline; once Redis answered it returned %+v, %v", ph.name, o.res, o.err)
				}
			})
		}
	}
}
