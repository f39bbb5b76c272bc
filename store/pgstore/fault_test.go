package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	mathrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/store"
)

// ledger is what the writers of TestKillDuringWrites know of their own writes: the bot users
// whose creation (with its credentials) or deletion (with its cascade) was acknowledged, and
// those whose outcome is unknown because the call failed.
type ledger struct {
	mu                sync.Mutex
	creds             map[string][]string // bot ID -> its credentials' IDs
	created, deleted  map[string]bool     // acknowledged
	unknown           map[string]bool     // a create or delete that failed: either outcome
	live              []string            // acknowledged, not deleted: candidates for deletion
	ackedAfterRestart int
	restarted         bool
}

// follower reads the feed across the outage as a verifier would: each call with a short
// deadline, resuming from its cursor after errors.
type follower struct {
	mu      sync.Mutex
	commits []store.Commit
	failed  int   // calls that failed with ErrUnavailable
	other   error // a failure of any other kind
	gap     bool
}

// TestKillDuringWrites kills the server with SIGKILL while writers create bot users with
// credentials and delete them (a cascade), then restarts it. The pool and the store are
// never reopened. No acknowledged write may be lost, no cascade half-applied, Head, Changes,
// View and Update must fail with ErrUnavailable while the server is down, and the feed must
// resume with no commit skipped and every commit in it once: the records and the feed agree.
// A running credential.Verifier on a store of its own must fail closed while the server is
// down and verify again after the restart, neither it nor its store rebuilt
// (verifierProbe). A running credential.Purger purges the deleted bot users' credentials
// one per batch throughout, so the kill may land in the middle of a purge: once it has
// finished, the tables must hold every credential of each bot user present and none of the
// deleted ones, and no tombstone (checkPurged).
func TestKillDuringWrites(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithPrivate())
	url := srv.Database(t)
	backend, st := open(t, url, WithPollInterval(time.Hour))
	g := ids()
	ctx := t.Context()
	acct := putAccount(t, st, g)
	from, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probe := newVerifierProbe(t, st, url, g, acct)
	purger, err := credential.NewPurger(st, credential.WithPurgeBatch(1), credential.WithPurgePoll(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	purgeCtx, stopPurging := context.WithCancel(ctx)
	purging := make(chan struct{})
	go func() { defer close(purging); purger.Run(purgeCtx) }()

	var f follower
	stopFollowing := make(chan struct{})
	followed := make(chan struct{})
	go func() { defer close(followed); f.follow(ctx, st, from, stopFollowing) }()

	l := &ledger{creds: map[string][]string{}, created: map[string]bool{}, deleted: map[string]bool{}, unknown: map[string]bool{}}
	stopWriting := make(chan struct{})
	var writers sync.WaitGroup
	for range 4 {
		writers.Go(func() { l.write(ctx, st, g, acct, stopWriting) })
	}

	waitFor(t, "30 acknowledged creations", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.created) >= 30 })
	srv.Stop()
	wantUnavailable(t, st, from)
	probe.whileDown(t)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	probe.afterRestart(t, st)
	l.mu.Lock()
	l.restarted = true
	l.mu.Unlock()
	waitFor(t, "20 acknowledged writes after the restart", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.ackedAfterRestart >= 20 })
	close(stopWriting)
	writers.Wait()

	present := l.check(t, st)
	stopPurging()
	<-purging
	checkPurged(t, backend, purger, acct, l.creds, present)

	// The feed: a marker, then the follower must have every commit up to it.
	marker := newBot(t, g, acct, "marker")
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutBotUser(ctx, marker) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to read the marker", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.commits {
			if c.Changes[0].ID == marker.ID {
				return true
			}
		}
		return f.other != nil || f.gap
	})
	close(stopFollowing)
	<-followed
	switch {
	case f.other != nil:
		t.Fatalf("the follower failed with an error that is not ErrUnavailable: %v", f.other)
	case f.gap:
		t.Fatal("the follower got a gap, with the retention far above what was written")
	case f.failed == 0:
		t.Error("the follower never failed while the server was down")
	}
	checkContiguous(t, from, f.commits)
	t.Logf("%d creations and %d deletions acknowledged, %d with unknown outcome; the follower read %d commits and failed %d times",
		len(l.created), len(l.deleted), len(l.unknown), len(f.commits), f.failed)
	puts, dels := map[string]int{}, map[string]int{}
	for _, c := range f.commits {
		for _, ch := range c.Changes {
			switch {
			case ch.Kind != store.KindBotUser:
			case ch.Op == store.OpPut:
				puts[ch.ID]++
			default:
				dels[ch.ID]++
			}
		}
	}
	for bot := range l.creds {
		// A creation committed if it was acknowledged or its bot user is there (only
		// acknowledged creations are deleted); a deletion if it was acknowledged, or if its
		// outcome is unknown and the bot user is gone.
		created := l.created[bot] || present[bot]
		deleted := l.created[bot] && !present[bot]
		if puts[bot] != count(created) || dels[bot] != count(deleted) {
			t.Errorf("bot user %s: in the feed %d creations and %d deletions, want %d and %d (acknowledged: created %v, deleted %v)",
				bot, puts[bot], dels[bot], count(created), count(deleted), l.created[bot], l.deleted[bot])
		}
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// write creates and deletes bot users until stop, recording the outcomes.
func (l *ledger) write(ctx context.Context, st store.Store, g *id.Generator, acct string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		l.mu.Lock()
		var victim string
		if len(l.live) > 0 && mathrand.IntN(3) == 0 {
			i := mathrand.IntN(len(l.live))
			victim = l.live[i]
			l.live = append(l.live[:i], l.live[i+1:]...)
		}
		l.mu.Unlock()
		var err error
		if victim != "" {
			err = st.Update(ctx, func(tx store.Tx) error { return tx.DeleteBotUser(ctx, victim, store.Principal{Source: "sdk"}) })
			l.done(victim, err, false)
		} else {
			bot, creds, gerr := newBotWithCredentials(g, acct)
			if gerr != nil {
				return
			}
			l.mu.Lock()
			l.creds[bot.ID] = credIDs(creds)
			l.mu.Unlock()
			err = st.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutBotUser(ctx, bot); err != nil {
					return err
				}
				for _, c := range creds {
					if err := tx.PutCredential(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
			l.done(bot.ID, err, true)
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// done records the outcome of a create or a delete of bot.
func (l *ledger) done(bot string, err error, create bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.unknown[bot] = true
		return
	case create:
		l.created[bot] = true
		l.live = append(l.live, bot)
	default:
		l.deleted[bot] = true
	}
	if l.restarted {
		l.ackedAfterRestart++
	}
}

// check reads every bot user the writers tried to create and returns those present. Each
// must be whole (with all its credentials) or gone (with all of them); an acknowledged
// creation not deleted since must be present, an acknowledged deletion gone.
func (l *ledger) check(t *testing.T, st store.Store) map[string]bool {
	t.Helper()
	present := map[string]bool{}
	for bot, creds := range l.creds {
		var botErr error
		var credsFound int
		err := st.View(t.Context(), func(r store.Reader) error {
			_, botErr = r.BotUser(t.Context(), bot)
			for _, c := range creds {
				_, err := r.Credential(t.Context(), c)
				switch {
				case err == nil:
					credsFound++
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
			}
			return nil
		})
		if err != nil || (botErr != nil && !errors.Is(botErr, store.ErrNotFound)) {
			t.Fatalf("reading bot user %s: %v, %v", bot, err, botErr)
		}
		present[bot] = botErr == nil
		switch {
		case present[bot] && credsFound != len(creds), !present[bot] && credsFound != 0:
			t.Errorf("bot user %s: present %v with %d of its %d credentials: a half-applied transaction", bot, present[bot], credsFound, len(creds))
		case l.deleted[bot] && present[bot]:
			t.Errorf("bot user %s: its acknowledged deletion was lost", bot)
		case l.created[bot] && !l.deleted[bot] && !l.unknown[bot] && !present[bot]:
			t.Errorf("bot user %s: its acknowledged creation was lost", bot)
		}
	}
	return present
}

// follow reads the feed from cursor until stop.
func (f *follower) follow(ctx context.Context, st store.Store, cursor store.Cursor, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		b, err := st.Changes(cctx, cursor)
		cancel()
		f.mu.Lock()
		switch {
		case errors.Is(err, context.DeadlineExceeded): // nothing new
		case errors.Is(err, store.ErrUnavailable):
			f.failed++
		case err != nil:
			f.other = err
		case b.Gap:
			f.gap = true
		default:
			f.commits = append(f.commits, b.Commits...)
		}
		f.mu.Unlock()
		if err == nil {
			cursor = b.Next
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// wantUnavailable checks that the store's calls fail with ErrUnavailable while the server is
// down.
func wantUnavailable(t *testing.T, st store.Store, from store.Cursor) {
	t.Helper()
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"Head":    func() error { _, err := st.Head(ctx); return err },
		"Changes": func() error { _, err := st.Changes(ctx, from); return err },
		"View":    func() error { return st.View(ctx, func(store.Reader) error { return nil }) },
		"Update":  func() error { return st.Update(ctx, func(store.Tx) error { return nil }) },
		"RecordUse": func() error {
			return st.RecordUse(ctx, []store.Use{{CredentialID: "ak_x", At: time.Now()}})
		},
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s while the server is down: %v, want ErrUnavailable", name, err)
		}
	}
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newBotWithCredentials returns a bot user of acct and three credentials it owns.
func newBotWithCredentials(g *id.Generator, acct string) (store.BotUser, []store.Credential, error) {
	botID, err := g.NewIn(id.BotUser, acct)
	if err != nil {
		return store.BotUser{}, nil, err
	}
	bot := store.BotUser{ID: botID, AccountID: acct, Name: "bot-" + id.Body(botID), Active: true}
	var creds []store.Credential
	for range 3 {
		cid, err := g.NewIn(id.Authtoken, acct)
		if err != nil {
			return store.BotUser{}, nil, err
		}
		creds = append(creds, store.Credential{ID: cid, AccountID: acct, Kind: store.Authtoken, OwnerID: botID, SecretHash: "hash-" + cid})
	}
	return bot, creds, nil
}

func credIDs(cs []store.Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// verifierProbe is a running credential.Verifier on a store of its own (a pool of its own,
// as another process would have) and a bot user's three tokens: cached (verified before the
// kill), revoked (verified, then revoked before the kill, and the Verifier in sync) and
// uncached (not verified before the restart). The Verifier's clock is fake, so that the
// test, not the machine's load, decides when its cache goes past its staleness bound.
type verifierProbe struct {
	clk                       *clock.Fake
	v                         *credential.Verifier
	cached, revoked, uncached string
	ids                       []string // the credentials' IDs, in the order above
}

// The probe's Verifier trusts its cache for probeStaleness after it last heard from the
// feed, and remembers a revocation for probeNegativeTTL.
const (
	probeStaleness   = 10 * time.Second
	probeNegativeTTL = 4 * time.Second
)

func newVerifierProbe(t *testing.T, writer store.Store, url string, g *id.Generator, acct string) *verifierProbe {
	t.Helper()
	ctx := t.Context()
	bot, creds, err := newBotWithCredentials(g, acct)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i := range creds {
		tok, err := credential.NewToken(store.Authtoken, creds[i].ID, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		creds[i].SecretHash = (*credential.Hasher)(nil).HashHex(tok.Token())
		tokens = append(tokens, tok.Reveal())
	}
	if err := writer.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutBotUser(ctx, bot); err != nil {
			return err
		}
		for _, c := range creds {
			if err := tx.PutCredential(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, vst := open(t, url)
	p := &verifierProbe{clk: clock.NewFake(time.Now()), cached: tokens[0], revoked: tokens[1], uncached: tokens[2], ids: credIDs(creds)}
	p.v, err = credential.NewVerifier(vst, credential.WithClock(p.clk), credential.WithMaxStaleness(probeStaleness),
		credential.WithNegativeCache(probeNegativeTTL, 1000))
	if err != nil {
		t.Fatal(err)
	}
	vctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); p.v.Run(vctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := p.v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	p.want(t, "before the kill", p.cached, nil)
	p.want(t, "before the kill", p.revoked, nil)
	if err := writer.Update(ctx, func(tx store.Tx) error { return tx.DeleteCredential(ctx, p.ids[1]) }); err != nil {
		t.Fatal(err)
	}
	if err := p.v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	p.want(t, "revoked, before the kill", p.revoked, credential.ReasonRevoked)
	return p
}

// want checks what the Verifier says of token: nil to accept it, or the Reasons of which it
// must refuse it with one.
func (p *verifierProbe) want(t *testing.T, when, token string, want ...error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := p.v.Verify(ctx, store.Authtoken, token)
	if len(want) == 0 || want[0] == nil {
		if err != nil {
			t.Errorf("%s: %v, want it accepted", when, err)
		}
		return
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Errorf("%s: %v, want one of %v", when, err, want)
}

// whileDown checks, with the server killed, that the Verifier fails closed: the revoked
// token stays refused (as revoked while the Verifier remembers its revocation, then because
// the store cannot be read), a token it has not cached cannot be looked up, and once its
// cache is past the staleness bound (it has not heard from the feed since the kill) the
// cached token is refused too. Within the bound the cached token is still served: the
// bounded staleness the Verifier documents.
func (p *verifierProbe) whileDown(t *testing.T) {
	t.Helper()
	p.clk.Advance(probeNegativeTTL / 2)
	p.want(t, "server down, within the staleness bound: the cached token", p.cached, nil)
	p.want(t, "server down: the revoked token", p.revoked, credential.ReasonRevoked)
	p.want(t, "server down: a token not cached", p.uncached, credential.ReasonUnavailable)
	p.clk.Advance(probeNegativeTTL)
	p.want(t, "server down, its revocation forgotten: the revoked token", p.revoked, credential.ReasonUnavailable)
	p.clk.Advance(probeStaleness)
	p.want(t, "server down, past the staleness bound: the cached token", p.cached, credential.ReasonUnavailable)
}

// afterRestart checks that the same Verifier, on the same store, works again once the
// server is back: it catches up with the feed (Sync), verifies the live tokens, still
// refuses the revoked one, and sees a revocation committed after the restart.
func (p *verifierProbe) afterRestart(t *testing.T, writer store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.v.Sync(ctx); err != nil {
		t.Fatalf("the Verifier's Sync after the restart: %v", err)
	}
	p.want(t, "after the restart: the cached token", p.cached, nil)
	p.want(t, "after the restart: the token never cached", p.uncached, nil)
	// Revoked while its negative cache entry lasts, unknown (read from the store) after.
	p.want(t, "after the restart: the revoked token", p.revoked, credential.ReasonRevoked, credential.ReasonUnknown)
	if err := writer.Update(ctx, func(tx store.Tx) error { return tx.DeleteCredential(ctx, p.ids[0]) }); err != nil {
		t.Fatal(err)
	}
	if err := p.v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	p.want(t, "after the restart, revoked after it", p.cached, credential.ReasonRevoked)
}

// checkPurged finishes the purge and checks the tables themselves: each bot user present
// has all its credentials' rows, each deleted one none, and no tombstone is left.
func checkPurged(t *testing.T, b *Store, p *credential.Purger, acct string, creds map[string][]string, present map[string]bool) {
	t.Helper()
	ctx := t.Context()
	var pending int
	if err := b.pool.QueryRow(ctx, "SELECT count(*) FROM iamkit.tombstones WHERE account_id = $1", acct).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	n, err := p.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d tombstones were pending when the writers stopped; %d credentials purged then", pending, n)
	rows := map[string]int{}
	rs, err := b.pool.Query(ctx, "SELECT owner_id, count(*) FROM iamkit.credentials WHERE account_id = $1 GROUP BY owner_id", acct)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var owner string
		var count int
		if err := rs.Scan(&owner, &count); err != nil {
			t.Fatal(err)
		}
		rows[owner] = count
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	for bot, cs := range creds {
		if want := count(present[bot]) * len(cs); rows[bot] != want {
			t.Errorf("bot user %s (present %v): %d credential rows after the purge, want %d", bot, present[bot], rows[bot], want)
		}
	}
	if err := b.pool.QueryRow(ctx, "SELECT count(*) FROM iamkit.tombstones WHERE account_id = $1", acct).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("%d tombstones left after the purge", pending)
	}
}
