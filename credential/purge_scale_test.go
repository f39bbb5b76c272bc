package credential_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// BenchmarkOwnerDeletionAtScale deletes an owner of many credentials (50,000 by default;
// IAMKIT_SCALE_CREDENTIALS sets another number) on a private standalone Redis and on a
// 3-master Redis Cluster, a bot user and a member each, through botuser.Service.Delete and
// identity.Directory.RemoveMember, and reports what the issue bounds:
//
//   - delete-ms: how long the delete call took;
//   - refused-ms: from its return until two running Verifiers, each on a client of its own
//     and each holding 1,000 of the owner's credentials in its cache, refuse every one of
//     them (the change feed's delivery of the tombstone); accepted-after is how many of
//     those verifications still succeeded after the call returned. Then, the Verifiers in
//     sync, 1,000 uncached credentials are checked refused too;
//   - purge-s: how long Purger.Purge took to delete every credential;
//   - slow-cmds and slowest-µs: the Redis commands SLOWLOG recorded over 5 ms (every node),
//     from just before the delete to the end of the purge; SLOWLOG logs a MULTI/EXEC's
//     commands one by one and never the EXEC, so hist-top-µs is the upper bound of the
//     slowest LATENCY HISTOGRAM bucket of any command (EXEC included), execs and
//     exec-avg-µs how many EXECs ran and their mean (INFO commandstats), and longest-rt-µs
//     the longest round trip the deleting and purging client saw;
//   - get-p99-µs and get-max-µs: another process's GET latencies over the same span (this
//     test binary run as a probe process, one GET every 500µs on a client of its own), beside
//     ref-get-p99-µs, the same GET loop on the same server just before, idle; and
//     inproc-get-p99-µs, ref-inproc-get-p99-µs, the same loop run at the same time inside
//     this process, where it shares the Go scheduler with the Verifiers and the purger.
//
// IAMKIT_PURGE_REST sets the Purger's WithPurgeRest (default DefaultPurgeRest), and
// IAMKIT_REVOCATION_BOUND the bound on revocation deployed (default 20ms; 0 for none): the
// deletion waits it out and the Verifiers trust their caches no longer than it after their
// feed was last confirmed in sync, as iamkit.WithRevocationBound deploys them.
//
// It is a benchmark, run once per setup (-benchtime 1x), not a test: its figures are
// timings, which the house rules keep out of pass/fail tests, and .ci/run runs no
// benchmarks. It fails only when a Verifier accepts a credential of the removed owner once
// the Verifiers are in sync, or when a credential survives the purge.
//
//	go test -run '^$' -bench OwnerDeletionAtScale -benchtime 1x -timeout 30m ./credential
func BenchmarkOwnerDeletionAtScale(b *testing.B) {
	n := 50000
	if v := os.Getenv("IAMKIT_SCALE_CREDENTIALS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("IAMKIT_SCALE_CREDENTIALS=%q: want a positive number", v)
		}
	}
	for _, setup := range []string{"Standalone", "Cluster3"} {
		for _, owner := range []string{"Bot", "Member"} {
			b.Run(setup+"/"+owner, func(b *testing.B) {
				var dep *scaleDeployment
				if setup == "Standalone" {
					dep = standaloneDeployment(b)
				} else {
					dep = clusterDeployment(b)
				}
				for range b.N {
					ownerDeletion(b, dep, owner == "Bot", n)
				}
			})
		}
	}
}

// purgeRest is the Purger's WithPurgeRest from IAMKIT_PURGE_REST, when set (to compare
// with the default).
func purgeRest(b *testing.B) []credential.Option {
	v := os.Getenv("IAMKIT_PURGE_REST")
	if v == "" {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		b.Fatalf("IAMKIT_PURGE_REST=%q: %v", v, err)
	}
	return []credential.Option{credential.WithPurgeRest(f)}
}

// revocationBound is the bound on revocation the benchmark deploys, as
// iamkit.WithRevocationBound does: IAMKIT_REVOCATION_BOUND, default 20ms; 0 deploys none
// (the removal returns at its commit, the Verifiers refuse once the feed delivers it).
func revocationBound(b *testing.B) time.Duration {
	v := os.Getenv("IAMKIT_REVOCATION_BOUND")
	if v == "" {
		return 20 * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		b.Fatalf("IAMKIT_REVOCATION_BOUND=%q: want a duration", v)
	}
	return d
}

// boundVerifier is a Verifier over st deployed as iamkit.WithRevocationBound(bound) deploys
// one: trusting its cache for at most bound after its feed was confirmed in sync, by the
// exact clock, with a follower that confirms a quiet feed every bound/2, which the caller
// runs. With no bound, it is a default Verifier following the feed itself (follow nil).
func boundVerifier(b *testing.B, st store.Store, bound time.Duration) (v *credential.Verifier, follow *store.Follower) {
	if bound == 0 {
		return verifier(b, st), nil
	}
	follow, err := store.NewFollower(st, store.WithPollInterval(bound/2))
	if err != nil {
		b.Fatal(err)
	}
	return verifier(b, st, credential.WithFollower(follow), credential.WithMaxStaleness(bound),
		credential.WithClock(clock.System{})), follow
}

// scaleDeployment is a Redis (standalone or Cluster) and a way to open stores on clients of
// their own, as separate processes would.
type scaleDeployment struct {
	probe   string // the probe process's IAMKIT_GET_PROBE
	open    func(tb testing.TB, hooks ...redis.Hook) (store.Store, redis.UniversalClient)
	masters func(ctx context.Context, fn func(ctx context.Context, c *redis.Client) error) error
}

func noMaint() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

func standaloneDeployment(b testing.TB) *scaleDeployment {
	srv := redistest.Start(b, redistest.WithPrivate())
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	return &scaleDeployment{
		probe: "standalone," + srv.Addr,
		open: func(tb testing.TB, hooks ...redis.Hook) (store.Store, redis.UniversalClient) {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32, MaintNotificationsConfig: noMaint()})
			for _, h := range hooks {
				c.AddHook(h)
			}
			st, err := redisstore.New(tb.Context(), c, redisstore.WithPrefix(prefix))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close(); c.Close() })
			return st, c
		},
		masters: func(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaintNotificationsConfig: noMaint()})
			defer c.Close()
			return fn(ctx, c)
		},
	}
}

func clusterDeployment(b testing.TB) *scaleDeployment {
	cl := redistest.StartCluster(b, 3)
	prefix := redistest.UniquePrefix()
	newClient := func() *redis.ClusterClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, PoolSize: 32, MaintNotificationsConfig: noMaint()})
	}
	return &scaleDeployment{
		probe: "cluster," + strings.Join(cl.Addrs, ","),
		open: func(tb testing.TB, hooks ...redis.Hook) (store.Store, redis.UniversalClient) {
			c := newClient()
			c.OnNewNode(func(n *redis.Client) { // the store pins node connections for Updates
				for _, h := range hooks {
					n.AddHook(h)
				}
			})
			for _, h := range hooks {
				c.AddHook(h)
			}
			st, err := redisstore.New(tb.Context(), c, redisstore.WithPrefix(prefix))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close(); c.Close() })
			return st, c
		},
		masters: func(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
			c := newClient()
			defer c.Close()
			return c.ForEachMaster(ctx, fn)
		},
	}
}

// ownerDeletion is one measurement: an account whose owner (a bot user or a member) has n
// credentials, deleted while Verifiers run and another client reads.
func ownerDeletion(b *testing.B, dep *scaleDeployment, bot bool, n int) {
	b.StopTimer()
	ctx := b.Context()
	rt := &slowest{}
	st, _ := dep.open(b, rt)
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		b.Fatal(err)
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		b.Fatal(err)
	}
	bound := revocationBound(b)
	dir, err := identity.New(st, authz, identity.WithRevocationWait(bound))
	if err != nil {
		b.Fatal(err)
	}
	bots, err := botuser.New(st, authz, botuser.WithRevocationWait(bound))
	if err != nil {
		b.Fatal(err)
	}
	founder, err := dir.CreateUser(ctx, "founder-"+redistest.UniquePrefix()+"@example.com", "")
	if err != nil {
		b.Fatal(err)
	}
	acct, err := dir.CreateAccount(ctx, founder.ID, "scale", "enterprise")
	if err != nil {
		b.Fatal(err)
	}
	admin, err := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceAPI, "")
	if err != nil {
		b.Fatal(err)
	}
	var ownerID string
	if bot {
		bu, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "ci"})
		if err != nil {
			b.Fatal(err)
		}
		ownerID = bu.ID
	} else {
		u, err := dir.CreateUser(ctx, "member-"+redistest.UniquePrefix()+"@example.com", "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := dir.AddMember(ctx, admin, u.ID, []string{rbac.RoleDeveloper}); err != nil {
			b.Fatal(err)
		}
		ownerID = u.ID
	}

	start := time.Now()
	tokens := issueMany(b, st, acct.ID, ownerID, n)
	b.Logf("%d credentials written in %v", n, time.Since(start).Round(time.Millisecond))

	// Two Verifiers, each on a client of its own, each caching a sample of the tokens.
	const sampleSize = 1000
	sample := make([]string, 0, 2*sampleSize)
	for i := 0; i < 2*sampleSize && i < len(tokens); i++ {
		sample = append(sample, tokens[i*len(tokens)/min(2*sampleSize, len(tokens))])
	}
	cached := sample[:len(sample)/2]
	var vs []*credential.Verifier
	for range 2 {
		vst, _ := dep.open(b)
		v, follow := boundVerifier(b, vst, bound)
		vctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { v.Run(vctx) })
		if follow != nil {
			wg.Go(func() { follow.Run(vctx) })
		}
		b.Cleanup(func() { cancel(); wg.Wait() })
		if err := v.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		for i, tok := range cached {
			if _, err := v.Verify(ctx, store.Authtoken, tok); err != nil {
				b.Fatalf("sampled token %d before the deletion: %v", i, err)
			}
		}
		vs = append(vs, v)
	}

	// The reference: another process's GET loop on the idle server, and the same loop in
	// this process on a client of its own.
	_, other := dep.open(b)
	probe := newProbe(ctx, other)
	outside := startProcessProbe(b, dep.probe)
	probe.run(time.Second)
	ref, refIn := outside.stop(b), probe.take()

	// SLOWLOG from here on, on every master.
	if err := dep.masters(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "5000").Err(); err != nil {
			return err
		}
		if err := c.ConfigSet(ctx, "slowlog-max-len", "4096").Err(); err != nil {
			return err
		}
		if err := c.ConfigResetStat(ctx).Err(); err != nil { // LATENCY HISTOGRAM
			return err
		}
		return c.SlowLogReset(ctx).Err()
	}); err != nil {
		b.Fatal(err)
	}
	rt.reset()
	outside = startProcessProbe(b, dep.probe)
	probing := probe.start()

	b.StartTimer()
	t0 := time.Now()
	if bot {
		err = bots.Delete(ctx, admin, ownerID)
	} else {
		err = dir.RemoveMember(ctx, admin, ownerID)
	}
	deleted := time.Now()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}

	// The cached half of the sample, on every Verifier, until every one is refused: the
	// time the tombstone takes to reach the Verifiers through the change feed.
	accepted := 0
	for {
		left := 0
		for _, v := range vs {
			for _, tok := range cached {
				if _, err := v.Verify(ctx, store.Authtoken, tok); err == nil {
					left++
				} else if !errors.Is(err, credential.ReasonUnknown) {
					b.Fatalf("a token of the removed owner: %v, want %v", err, credential.ReasonUnknown)
				}
			}
		}
		accepted += left
		if left == 0 {
			break
		}
		if time.Since(deleted) > 10*time.Second {
			b.Fatalf("%d cached tokens still accepted 10s after the deletion", left)
		}
	}
	refused := time.Now()
	// Then the whole sample, the uncached half read from the store, on Verifiers in sync.
	for i, v := range vs {
		if err := v.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		for _, tok := range sample {
			if _, err := v.Verify(ctx, store.Authtoken, tok); !errors.Is(err, credential.ReasonUnknown) {
				b.Fatalf("verifier %d in sync: a token of the removed owner: %v", i, err)
			}
		}
	}

	purger, err := credential.NewPurger(st, purgeRest(b)...)
	if err != nil {
		b.Fatal(err)
	}
	p0 := time.Now()
	purged, err := purger.Purge(ctx)
	purge := time.Since(p0)
	if err != nil {
		b.Fatal(err)
	}
	probing()
	during, duringIn := outside.stop(b), probe.take()
	if purged != n {
		b.Fatalf("purged %d credentials, want %d", purged, n)
	}

	var (
		slow []redis.SlowLog
		hmu  sync.Mutex
		hist = map[string]int64{} // command -> the upper bound of its slowest bucket, µs
		// EXECs (their commands are in SLOWLOG one by one, EXEC itself never is): how
		// many, and the longest average of a node, µs.
		execCalls int64
		execAvg   float64
	)
	if err := dep.masters(ctx, func(ctx context.Context, c *redis.Client) error {
		got, err := c.SlowLogGet(ctx, -1).Result()
		if err != nil {
			return err
		}
		h, err := c.Do(ctx, "latency", "histogram").Result()
		if err != nil {
			return err
		}
		stats, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		hmu.Lock()
		defer hmu.Unlock()
		if calls, usec := execStats(stats); calls > 0 {
			execCalls += calls
			execAvg = max(execAvg, float64(usec)/float64(calls))
		}
		slow = append(slow, got...)
		for cmd, top := range slowestBuckets(h) {
			hist[cmd] = max(hist[cmd], top)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var topCmd string
	for cmd, top := range hist {
		if topCmd == "" || top > hist[topCmd] {
			topCmd = cmd
		}
	}
	rtMax, rtWhat := rt.get()
	var slowest time.Duration
	for _, s := range slow {
		slowest = max(slowest, s.Duration)
		b.Logf("slowlog: %v %q", s.Duration, s.Args[:min(len(s.Args), 4)])
	}
	b.ReportMetric(float64(deleted.Sub(t0).Microseconds())/1000, "delete-ms")
	b.ReportMetric(float64(refused.Sub(deleted).Microseconds())/1000, "refused-ms")
	b.ReportMetric(float64(accepted), "accepted-after")
	b.ReportMetric(purge.Seconds(), "purge-s")
	b.ReportMetric(float64(len(slow)), "slow-cmds")
	b.ReportMetric(float64(slowest.Microseconds()), "slowest-µs")
	b.ReportMetric(float64(hist[topCmd]), "hist-top-µs")
	b.ReportMetric(float64(rtMax.Microseconds()), "longest-rt-µs")
	b.ReportMetric(execAvg, "exec-avg-µs")
	b.ReportMetric(float64(execCalls), "execs")
	b.ReportMetric(float64(ref.p99.Microseconds()), "ref-get-p99-µs")
	b.ReportMetric(float64(during.p99.Microseconds()), "get-p99-µs")
	b.ReportMetric(float64(during.max.Microseconds()), "get-max-µs")
	b.ReportMetric(float64(refIn.p99.Microseconds()), "ref-inproc-get-p99-µs")
	b.ReportMetric(float64(duringIn.p99.Microseconds()), "inproc-get-p99-µs")
	b.Logf("delete %v, refused after %v (%d sampled verifications accepted meanwhile), purge %v; "+
		"another process's GET p99 %v max %v over %d GETs (idle: p99 %v max %v over %d); "+
		"in this process p99 %v max %v over %d (idle: p99 %v); %d commands over 5ms, slowest %v",
		deleted.Sub(t0), refused.Sub(deleted), accepted, purge,
		during.p99, during.max, during.n, ref.p99, ref.max, ref.n,
		duringIn.p99, duringIn.max, duringIn.n, refIn.p99, len(slow), slowest)
	b.Logf("LATENCY HISTOGRAM: slowest bucket %s <= %dµs (%v); the deleter's and purger's longest round trip %v (%s)",
		topCmd, hist[topCmd], hist, rtMax, rtWhat)
}

// execStats reads EXEC's calls and total µs from an INFO commandstats reply.
func execStats(info string) (calls, usec int64) {
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_exec:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				calls = n
			case "usec":
				usec = n
			}
		}
	}
	return calls, usec
}

// slowestBuckets reads a LATENCY HISTOGRAM reply (RESP2 or RESP3): for each command, the
// upper bound in µs of the slowest bucket that holds a call.
func slowestBuckets(reply any) map[string]int64 {
	out := map[string]int64{}
	pairs := func(v any) [][2]any {
		var ps [][2]any
		switch v := v.(type) {
		case map[any]any:
			for k, x := range v {
				ps = append(ps, [2]any{k, x})
			}
		case []any:
			for i := 0; i+1 < len(v); i += 2 {
				ps = append(ps, [2]any{v[i], v[i+1]})
			}
		}
		return ps
	}
	for _, cmd := range pairs(reply) {
		name, _ := cmd[0].(string)
		for _, f := range pairs(cmd[1]) {
			if f[0] != "histogram_usec" {
				continue
			}
			for _, bucket := range pairs(f[1]) {
				if us, ok := bucket[0].(int64); ok && us > out[name] {
					out[name] = us
				}
			}
		}
	}
	return out
}

// slowest is a go-redis hook that keeps the longest round trip (a command, a pipeline or a
// MULTI/EXEC block) of a client, as the client saw it: an upper bound of how long Redis ran
// it, since it includes the network and the client's scheduling.
type slowest struct {
	mu   sync.Mutex
	max  time.Duration
	what string
}

func (s *slowest) note(d time.Duration, cmds []redis.Cmder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > s.max {
		s.max = d
		s.what = cmds[0].Name()
		if len(cmds) > 1 {
			s.what = strconv.Itoa(len(cmds)) + " commands from " + cmds[0].Name() + " to " + cmds[len(cmds)-1].Name()
		}
	}
}

func (s *slowest) reset() { s.mu.Lock(); s.max, s.what = 0, ""; s.mu.Unlock() }

func (s *slowest) get() (time.Duration, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, s.what
}

func (s *slowest) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *slowest) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t := time.Now()
		err := next(ctx, cmd)
		s.note(time.Since(t), []redis.Cmder{cmd})
		return err
	}
}

func (s *slowest) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t := time.Now()
		err := next(ctx, cmds)
		s.note(time.Since(t), cmds)
		return err
	}
}

// issueMany writes n authtokens owned by ownerID through st, 500 a transaction, on four
// writers at once, and returns their tokens.
func issueMany(tb testing.TB, st store.Store, accountID, ownerID string, n int) []string {
	tb.Helper()
	ctx := tb.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	var h *credential.Hasher
	const batch, writers = 500, 4
	var (
		mu     sync.Mutex
		tokens []string
		wg     sync.WaitGroup
		errs   = make(chan error, writers)
		next   = make(chan int, n/batch+1)
	)
	for i := 0; i < n; i += batch {
		next <- min(batch, n-i)
	}
	close(next)
	for range writers {
		wg.Go(func() {
			for size := range next {
				var toks []string
				err := st.Update(ctx, func(tx store.Tx) error {
					toks = toks[:0]
					for range size {
						cid, err := ids.NewIn(id.Authtoken, accountID)
						if err != nil {
							return err
						}
						tok, err := credential.NewToken(store.Authtoken, cid, rand.Reader)
						if err != nil {
							return err
						}
						c := store.Credential{ID: cid, AccountID: accountID, Kind: store.Authtoken, OwnerID: ownerID,
							SecretHash: h.HashHex(tok.Token()), CreatedAt: time.Now().UTC()}
						if err := tx.PutCredential(ctx, c); err != nil {
							return err
						}
						toks = append(toks, tok.Reveal())
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				tokens = append(tokens, toks...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	return tokens
}

// probe is another client's GET loop: one GET every 500µs, latencies recorded.
type probe struct {
	ctx  context.Context
	c    redis.UniversalClient
	mu   sync.Mutex
	lats []time.Duration
}

type latencies struct {
	n        int
	p99, max time.Duration
}

func newProbe(ctx context.Context, c redis.UniversalClient) *probe { return &probe{ctx: ctx, c: c} }

// run runs the loop for d.
func (p *probe) run(d time.Duration) {
	stop := p.start()
	time.Sleep(d)
	stop()
}

// start starts the loop and returns the function that stops it.
func (p *probe) start() (stop func()) {
	ctx, cancel := context.WithCancel(p.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			t := time.Now()
			err := p.c.Get(ctx, "probe:"+strconv.Itoa(i%64)).Err()
			d := time.Since(t)
			if err == nil || errors.Is(err, redis.Nil) {
				p.mu.Lock()
				p.lats = append(p.lats, d)
				p.mu.Unlock()
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
	return func() { cancel(); <-done }
}

// take returns the latencies recorded so far and forgets them.
func (p *probe) take() latencies {
	p.mu.Lock()
	lats := p.lats
	p.lats = nil
	p.mu.Unlock()
	return summarize(lats)
}

// TestPurgeRoundTripsOnRedis: a purge batch takes a few round trips to Redis whatever its
// size (the tombstone, the owner's credentials, the events' IDs checked with one read, the
// commit, the secret-hash pointers released), not one or more per credential. On a clock
// that stands still the Purger's batches double from 50: 40 credentials are one batch, 400
// (at most 200 a batch) four.
func TestPurgeRoundTripsOnRedis(t *testing.T) {
	dep := standaloneDeployment(t)
	for _, c := range []struct {
		creds, max, batches int
	}{
		{40, 200, 1},
		{400, 200, 4},
	} {
		t.Run(strconv.Itoa(c.creds), func(t *testing.T) {
			rt := &redistest.RoundTrips{}
			st, _ := dep.open(t, rt)
			ctx := t.Context()
			ids := id.NewGenerator(clock.System{}, rand.Reader)
			acct, _ := ids.New(id.Account)
			bot, _ := ids.NewIn(id.BotUser, acct)
			if err := st.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutAccount(ctx, store.Account{ID: acct, Name: "rt"}); err != nil {
					return err
				}
				return tx.PutBotUser(ctx, store.BotUser{ID: bot, AccountID: acct, Name: "ci", Active: true})
			}); err != nil {
				t.Fatal(err)
			}
			issueMany(t, st, acct, bot, c.creds)
			if err := st.Update(ctx, func(tx store.Tx) error {
				return tx.DeleteBotUser(ctx, bot, store.Principal{ID: "usr_x", Source: "api"})
			}); err != nil {
				t.Fatal(err)
			}
			p, err := credential.NewPurger(st, credential.WithPurgeBatch(c.max), credential.WithClock(clock.NewFake(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			before := rt.N()
			n, err := p.Purge(ctx)
			if err != nil || n != c.creds {
				t.Fatalf("Purge = %d, %v; want %d", n, err, c.creds)
			}
			// Two listings of the pending tombstones (two round trips each), a script loaded
			// (two), and a few a batch.
			most := int64(6 + 8*c.batches)
			if got := rt.N() - before; got > most {
				t.Errorf("purging %d credentials in %d batches took %d round trips, want at most %d", c.creds, c.batches, got, most)
			}
		})
	}
}
