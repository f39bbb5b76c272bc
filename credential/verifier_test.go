package credential_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// env is an account with a bot user, on memstore, with a running Verifier.
type env struct {
	t       *testing.T
	ctx     context.Context
	clock   *clock.Fake
	ids     *id.Generator
	inner   store.Store
	st      *faultyStore
	v       *credential.Verifier
	authz   *rbac.Authorizer // not running: it reads the store on every check
	account string
	bot     string
}

func newEnv(t *testing.T, opts ...credential.Option) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	inner, err := memstore.New(memstore.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, clock: clk, ids: id.NewGenerator(clk, rand.Reader), inner: inner, st: &faultyStore{Store: inner}}
	e.account = e.newID(id.Account, "")
	e.bot = e.newID(id.BotUser, e.account)
	e.update(func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: e.account, Name: "acme", Plan: identity.PayAsYouGo().Name}); err != nil {
			return err
		}
		return tx.PutBotUser(ctx, store.BotUser{ID: e.bot, AccountID: e.account, Name: "ci", Active: true})
	})
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		t.Fatal(err)
	}
	if e.authz, err = rbac.New(inner, plans, rbac.WithClock(clk)); err != nil {
		t.Fatal(err)
	}
	e.v = verifier(t, e.st, append([]credential.Option{credential.WithClock(clk), credential.WithAuthorizer(e.authz)}, opts...)...)
	done := make(chan struct{})
	go func() { defer close(done); e.v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; inner.Close() })
	e.sync()
	return e
}

func (e *env) newID(p id.Prefix, account string) string {
	e.t.Helper()
	var (
		s   string
		err error
	)
	if account == "" {
		s, err = e.ids.New(p)
	} else {
		s, err = e.ids.NewIn(p, account)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// update writes through the store and waits until the verifier has seen the write.
func (e *env) update(fn func(store.Tx) error) {
	e.t.Helper()
	if err := e.inner.Update(e.ctx, fn); err != nil {
		e.t.Fatal(err)
	}
	if e.v != nil {
		e.sync()
	}
}

func (e *env) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	if err := e.v.Sync(ctx); err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
}

// issue stores a new token credential owned by owner and returns its token. An access token
// gets the scope credentials:read unless mod says otherwise.
func (e *env) issue(kind store.CredentialKind, owner string, mod func(*store.Credential)) (credential.Secret, store.Credential) {
	e.t.Helper()
	p := id.Authtoken
	switch kind {
	case store.APIKey:
		p = id.APIKey
	case store.AccessToken:
		p = id.AccessToken
	}
	c := store.Credential{ID: e.newID(p, e.account), AccountID: e.account, Kind: kind, OwnerID: owner, CreatedAt: e.clock.Now()}
	if kind == store.AccessToken {
		c.Scopes = []string{"credentials:read"}
	}
	secret, err := credential.NewToken(kind, c.ID, rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	var h *credential.Hasher
	c.SecretHash = h.HashHex(secret.Token())
	if mod != nil {
		mod(&c)
	}
	e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
	return secret, c
}

func (e *env) setBotActive(active bool) {
	e.t.Helper()
	e.update(func(tx store.Tx) error {
		b, err := tx.BotUser(e.ctx, e.bot)
		if err != nil {
			return err
		}
		b.Active = active
		return tx.PutBotUser(e.ctx, b)
	})
}

// waitUntil polls cond until it holds; a hang is a failure after 10s, not a timing assertion.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// faultyStore wraps a store to count reads and to make its feed or reads fail.
type faultyStore struct {
	store.Store
	views    atomic.Int64
	feedDown atomic.Bool // Head and Changes fail
	readDown atomic.Bool // View fails
	loseNext atomic.Bool // the next delivered commits are dropped, silently
	gapNext  atomic.Bool // the next Changes call reports a gap
}

var errDown = errors.New("store unreachable")

func (f *faultyStore) View(ctx context.Context, fn func(store.Reader) error) error {
	f.views.Add(1)
	if f.readDown.Load() {
		return errDown
	}
	return f.Store.View(ctx, fn)
}

func (f *faultyStore) Head(ctx context.Context) (store.Cursor, error) {
	if f.feedDown.Load() {
		return "", errDown
	}
	return f.Store.Head(ctx)
}

func (f *faultyStore) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	if f.feedDown.Load() {
		return store.Batch{}, errDown
	}
	if f.gapNext.CompareAndSwap(true, false) {
		head, err := f.Store.Head(ctx)
		return store.Batch{Gap: true, Next: head}, err
	}
	b, err := f.Store.Changes(ctx, after)
	if err == nil && f.loseNext.CompareAndSwap(true, false) {
		b.Commits = nil
	}
	return b, err
}

func TestVerifyReturnsOwnerAccountAndACL(t *testing.T) {
	e := newEnv(t)
	tok, c := e.issue(store.Authtoken, e.bot, func(c *store.Credential) { c.ACL = []string{"bind:*.example.com"} })
	res, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.CredentialID != c.ID || res.AccountID != e.account || res.OwnerID != e.bot || res.Kind != store.Authtoken {
		t.Errorf("Result = %+v, want credential %s of bot %s in %s", res, c.ID, e.bot, e.account)
	}
	if !res.ACL.AllowsBind("a.example.com") || res.ACL.AllowsBind("example.org") {
		t.Errorf("ACL %v does not enforce bind:*.example.com", res.ACL.Rules())
	}
}

func TestVerifyRejections(t *testing.T) {
	e := newEnv(t)
	good, _ := e.issue(store.Authtoken, e.bot, nil)
	apiKey, _ := e.issue(store.APIKey, e.bot, nil)
	expired, _ := e.issue(store.Authtoken, e.bot, func(c *store.Credential) { c.ExpiresAt = e.clock.Now().Add(-time.Second) })
	// A token for an existing credential ID, with another secret.
	_, c := e.issue(store.Authtoken, e.bot, nil)
	forged, err := credential.NewToken(store.Authtoken, c.ID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unstored, err := credential.NewToken(store.Authtoken, e.newID(id.Authtoken, e.account), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := good.Reveal()
	badChecksum := g[:len(g)-1] + "A"
	if g[len(g)-1] == 'A' {
		badChecksum = g[:len(g)-1] + "B"
	}
	tests := []struct {
		name  string
		kind  store.CredentialKind
		token string
		want  credential.Reason
	}{
		{"empty", store.Authtoken, "", credential.ReasonMalformed},
		{"garbage", store.Authtoken, "not a token", credential.ReasonMalformed},
		{"bad checksum", store.Authtoken, badChecksum, credential.ReasonMalformed},
		{"truncated", store.Authtoken, g[:len(g)-3], credential.ReasonMalformed},
		{"API key offered as authtoken", store.Authtoken, apiKey.Reveal(), credential.ReasonWrongKind},
		{"authtoken offered as API key", store.APIKey, g, credential.ReasonWrongKind},
		{"never stored", store.Authtoken, unstored.Reveal(), credential.ReasonUnknown},
		{"wrong secret for a real ID", store.Authtoken, forged.Reveal(), credential.ReasonUnknown},
		{"expired", store.Authtoken, expired.Reveal(), credential.ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second call is answered from the cache
				_, err := e.v.Verify(e.ctx, tt.kind, tt.token)
				if !errors.Is(err, tt.want) || !errors.Is(err, store.ErrUnauthenticated) || store.CodeOf(err) != tt.want.ErrorCode() {
					t.Fatalf("Verify = %v, want %v", err, tt.want)
				}
				var r credential.Reason
				if !errors.As(err, &r) || r != tt.want {
					t.Fatalf("errors.As reason = %v, want %v", r, tt.want)
				}
			}
		})
	}
	if _, err := e.v.Verify(e.ctx, store.Authtoken, g); err != nil {
		t.Fatalf("the good token was rejected: %v", err)
	}
}

// Invariant 5: deactivating an owner suspends all of its credentials at once, without
// touching them; reactivating restores them. Invariant 6: deleting it revokes them at once
// (they are purged later).
func TestSuspendingOwnerRejectsAllItsCredentials(t *testing.T) {
	e := newEnv(t)
	const n = 1000
	tokens := make([]string, n)
	for i := range tokens {
		tok, _ := e.issue(store.Authtoken, e.bot, nil)
		tokens[i] = tok.Reveal()
	}
	verifyAll := func(want credential.Reason) {
		t.Helper()
		for i, tok := range tokens {
			_, err := e.v.Verify(e.ctx, store.Authtoken, tok)
			if want == 0 && err != nil {
				t.Fatalf("token %d: %v, want accepted", i, err)
			}
			if want != 0 && !errors.Is(err, want) {
				t.Fatalf("token %d: %v, want %v", i, err, want)
			}
		}
	}
	verifyAll(0)
	missesBefore := e.v.Stats().Misses

	e.setBotActive(false)
	e.sync()
	verifyAll(credential.ReasonOwnerInactive)
	e.setBotActive(true)
	e.sync()
	verifyAll(0)
	if got := e.v.Stats().Misses - missesBefore; got != 0 {
		t.Errorf("suspend and restore reloaded %d credentials from the store, want 0 (one owner flip)", got)
	}

	e.update(func(tx store.Tx) error { return tx.DeleteBotUser(e.ctx, e.bot, store.Principal{ID: "usr_x"}) })
	e.sync()
	views := e.st.views.Load()
	verifyAll(credential.ReasonUnknown)
	verifyAll(credential.ReasonUnknown)
	// The feed said the owner is gone, and its credentials with it: refusing them needs no
	// store read (before, each cached credential read the store on every call until the
	// purge reached it).
	if got := e.st.views.Load() - views; got != 0 {
		t.Errorf("refusing the credentials of a deleted owner read the store %d times, want 0", got)
	}
}

func TestDisabledMemberCredentialsAreSuspended(t *testing.T) {
	e := newEnv(t)
	user := e.newID(id.User, "")
	m := store.Membership{AccountID: e.account, UserID: user, Status: store.MemberActive}
	e.update(func(tx store.Tx) error {
		if err := tx.PutUser(e.ctx, store.User{ID: user, Email: "ann@example.com"}); err != nil {
			return err
		}
		return tx.PutMembership(e.ctx, m)
	})
	tok, _ := e.issue(store.APIKey, user, nil)
	check := func(want error) {
		t.Helper()
		if _, err := e.v.Verify(e.ctx, store.APIKey, tok.Reveal()); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Fatalf("Verify = %v, want %v", err, want)
		}
	}
	check(nil)
	m.Status = store.MemberDisabled
	e.update(func(tx store.Tx) error { return tx.PutMembership(e.ctx, m) })
	e.sync()
	check(credential.ReasonOwnerInactive)
	m.Status = store.MemberActive
	e.update(func(tx store.Tx) error { return tx.PutMembership(e.ctx, m) })
	e.sync()
	check(nil)
	e.update(func(tx store.Tx) error {
		return tx.DeleteMembership(e.ctx, e.account, user, store.Principal{ID: "usr_x"})
	})
	e.sync()
	check(credential.ReasonUnknown)
}

func TestCacheFollowsStoreChanges(t *testing.T) {
	e := newEnv(t)
	tok, c := e.issue(store.Authtoken, e.bot, func(c *store.Credential) { c.ACL = []string{"bind:a.example.com"} })
	res, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal())
	if err != nil || !res.ACL.AllowsBind("a.example.com") {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	c.ACL = []string{"bind:b.example.com"}
	e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
	e.sync()
	res, err = e.v.Verify(e.ctx, store.Authtoken, tok.Reveal())
	if err != nil || res.ACL.AllowsBind("a.example.com") || !res.ACL.AllowsBind("b.example.com") {
		t.Fatalf("after the ACL change: ACL %v, err %v; want bind:b.example.com only", res.ACL.Rules(), err)
	}
	e.update(func(tx store.Tx) error { return tx.DeleteCredential(e.ctx, c.ID) })
	e.sync()
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); !errors.Is(err, credential.ReasonRevoked) {
		t.Fatalf("after delete: %v, want %v", err, credential.ReasonRevoked)
	}
	if got := e.v.Stats().Invalidations; got < 2 {
		t.Errorf("Invalidations = %d, want >= 2", got)
	}
}

// TestRevocationObserver: the first rejection of a revoked token reports the time since the
// revocation's commit, once; a token revoked before the Verifier cached it, and one deleted
// with its owner, report nothing.
func TestRevocationObserver(t *testing.T) {
	var mu sync.Mutex
	var seen []time.Duration
	e := newEnv(t, credential.WithRevocationObserver(func(_ context.Context, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, d)
	}))
	observed := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	cached, c := e.issue(store.Authtoken, e.bot, nil)
	neverSeen, n := e.issue(store.APIKey, e.bot, nil)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, cached.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.update(func(tx store.Tx) error {
		if err := tx.DeleteCredential(e.ctx, c.ID); err != nil {
			return err
		}
		return tx.DeleteCredential(e.ctx, n.ID)
	}) // committed at the fake clock's now
	e.clock.Advance(1500 * time.Millisecond)
	for range 3 {
		if _, err := e.v.Verify(e.ctx, store.Authtoken, cached.Reveal()); !errors.Is(err, credential.ReasonRevoked) {
			t.Fatalf("revoked token: %v, want %v", err, credential.ReasonRevoked)
		}
	}
	if _, err := e.v.Verify(e.ctx, store.APIKey, neverSeen.Reveal()); err == nil {
		t.Fatal("a token revoked before it was cached verified")
	}
	if got := observed(); !slices.Equal(got, []time.Duration{1500 * time.Millisecond}) {
		t.Fatalf("observed %v, want one latency of 1.5s", got)
	}

	// A bot deleted with its token: not a revocation of the token.
	bot := e.newID(id.BotUser, e.account)
	e.update(func(tx store.Tx) error {
		return tx.PutBotUser(e.ctx, store.BotUser{ID: bot, AccountID: e.account, Name: "gone", Active: true})
	})
	owned, _ := e.issue(store.Authtoken, bot, nil)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, owned.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.update(func(tx store.Tx) error { return tx.DeleteBotUser(e.ctx, bot, store.Principal{ID: "usr_x"}) })
	if _, err := e.v.Verify(e.ctx, store.Authtoken, owned.Reveal()); err == nil {
		t.Fatal("the token of a deleted bot verified")
	}
	if got := observed(); len(got) != 1 {
		t.Fatalf("observed %v after an owner's deletion, want the first latency only", got)
	}
}

// TestStatsCountCaches: Stats counts the cached credentials, the negative entries and the
// owners.
func TestStatsCountCaches(t *testing.T) {
	e := newEnv(t)
	a, _ := e.issue(store.Authtoken, e.bot, nil)
	k, _ := e.issue(store.APIKey, e.bot, nil)
	for _, c := range []struct {
		kind store.CredentialKind
		tok  credential.Secret
	}{{store.Authtoken, a}, {store.APIKey, k}} {
		if _, err := e.v.Verify(e.ctx, c.kind, c.tok.Reveal()); err != nil {
			t.Fatal(err)
		}
	}
	unknown, _ := credential.NewToken(store.Authtoken, e.newID(id.Authtoken, e.account), rand.Reader)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, unknown.Reveal()); err == nil {
		t.Fatal("an unknown token verified")
	}
	if s := e.v.Stats(); s.Cached != 2 || s.Negative != 1 || s.Owners != 1 {
		t.Fatalf("Stats: %d cached, %d negative, %d owners; want 2, 1, 1", s.Cached, s.Negative, s.Owners)
	}
}

func TestFeedGapFlushesCache(t *testing.T) {
	e := newEnv(t)
	tok, c := e.issue(store.Authtoken, e.bot, nil)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	// The commit deleting the credential is lost on its way to the verifier...
	e.st.loseNext.Store(true)
	e.update(func(tx store.Tx) error { return tx.DeleteCredential(e.ctx, c.ID) })
	e.sync()
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatalf("with the commit lost the cache should still accept (this is what a gap costs): %v", err)
	}
	// ...and the feed says so: the verifier must flush rather than keep serving it.
	flushes := e.v.Stats().Flushes // one, at the start of Run
	e.st.gapNext.Store(true)
	waitUntil(t, func() bool { return e.v.Stats().Flushes > flushes }) // the follower's next read of the feed
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); !errors.Is(err, credential.ReasonUnknown) {
		t.Fatalf("after the gap: %v, want %v", err, credential.ReasonUnknown)
	}
	if got := e.v.Stats().Flushes; got != flushes+1 {
		t.Errorf("Flushes = %d, want %d", got, flushes+1)
	}
}

func TestMaxStalenessFailsClosed(t *testing.T) {
	e := newEnv(t, credential.WithMaxStaleness(5*time.Second))
	tok, _ := e.issue(store.Authtoken, e.bot, nil)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.st.feedDown.Store(true)
	e.clock.Advance(4 * time.Second)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatalf("within the staleness bound: %v", err)
	}
	// Past the bound the cache is not trusted: reads go to the store, which still answers...
	e.clock.Advance(2 * time.Second)
	views := e.st.views.Load()
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatalf("stale cache, store up: %v", err)
	}
	if e.st.views.Load() == views {
		t.Error("stale cache was trusted: no store read")
	}
	// ...until it does not: fail closed.
	e.st.readDown.Store(true)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); !errors.Is(err, credential.ReasonUnavailable) {
		t.Fatalf("stale cache, store down: %v, want %v", err, credential.ReasonUnavailable)
	}
	// The feed comes back: the cache is trusted again.
	e.st.feedDown.Store(false)
	e.sync()
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatalf("feed back, store reads down, cached token: %v", err)
	}
}

func TestNegativeCacheKeepsUnknownTokensOffTheStore(t *testing.T) {
	e := newEnv(t, credential.WithNegativeCache(time.Second, 1000))
	tok, err := credential.NewToken(store.Authtoken, e.newID(id.Authtoken, e.account), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	views := e.st.views.Load()
	for range 100 {
		if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); !errors.Is(err, credential.ReasonUnknown) {
			t.Fatal(err)
		}
	}
	if got := e.st.views.Load() - views; got != 1 {
		t.Errorf("100 verifications of one unknown token read the store %d times, want 1", got)
	}
	e.clock.Advance(2 * time.Second)
	e.sync()
	e.v.Verify(e.ctx, store.Authtoken, tok.Reveal())
	if got := e.st.views.Load() - views; got != 2 {
		t.Errorf("after the negative TTL: %d store reads, want 2", got)
	}
}

func TestConcurrentMissesAreCoalesced(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.issue(store.Authtoken, e.bot, nil)
	views := e.st.views.Load()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := e.st.views.Load() - views; got != 1 {
		t.Errorf("50 concurrent verifications of one token read the store %d times, want 1", got)
	}
}

func TestLastUsedIsRecordedOffTheHotPath(t *testing.T) {
	e := newEnv(t)
	tok, c := e.issue(store.Authtoken, e.bot, nil)
	for range 10 {
		if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
			t.Fatal(err)
		}
	}
	head, err := e.inner.Head(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.v.FlushUsage(e.ctx)
	var got store.Credential
	e.inner.View(e.ctx, func(r store.Reader) error { got, err = r.Credential(e.ctx, c.ID); return err })
	if !got.LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, e.clock.Now())
	}
	if head2, _ := e.inner.Head(e.ctx); head2 != head {
		t.Error("recording last use produced a change-feed commit")
	}
}

func TestVerifySSHKey(t *testing.T) {
	e := newEnv(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	c := store.Credential{
		ID: e.newID(id.SSHCredential, e.account), AccountID: e.account, Kind: store.SSHCredential, OwnerID: e.bot,
		PublicKey: string(ssh.MarshalAuthorizedKey(key)), Fingerprint: ssh.FingerprintSHA256(key),
		ACL: []string{"bind:example.com:22"},
	}
	e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
	res, err := e.v.VerifySSHKey(e.ctx, key)
	if err != nil || res.CredentialID != c.ID || !res.ACL.AllowsBind("example.com:22") {
		t.Fatalf("VerifySSHKey = %+v, %v", res, err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := ssh.NewPublicKey(other)
	if _, err := e.v.VerifySSHKey(e.ctx, otherKey); !errors.Is(err, credential.ReasonUnknown) {
		t.Errorf("unregistered key: %v, want %v", err, credential.ReasonUnknown)
	}
	e.setBotActive(false)
	e.sync()
	if _, err := e.v.VerifySSHKey(e.ctx, key); !errors.Is(err, credential.ReasonOwnerInactive) {
		t.Errorf("inactive owner: %v, want %v", err, credential.ReasonOwnerInactive)
	}
	e.setBotActive(true)
	e.update(func(tx store.Tx) error { return tx.DeleteCredential(e.ctx, c.ID) })
	e.sync()
	if _, err := e.v.VerifySSHKey(e.ctx, key); !errors.Is(err, credential.ReasonUnknown) {
		t.Errorf("deleted key: %v, want %v", err, credential.ReasonUnknown)
	}
}

func TestNoSecretInResultsErrorsLogsOrStats(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, credential.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	tok, _ := e.issue(store.Authtoken, e.bot, nil)
	other, _ := e.issue(store.Authtoken, e.bot, nil)
	secret := tok.Token().SecretPart()
	res, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal())
	_, rejErr := e.v.Verify(e.ctx, store.APIKey, tok.Reveal())
	e.st.readDown.Store(true) // a miss that fails is logged
	_, downErr := e.v.Verify(e.ctx, store.Authtoken, other.Reveal())
	if !errors.Is(downErr, credential.ReasonUnavailable) || logs.Len() == 0 {
		t.Fatalf("store down: %v, %d bytes logged; want unavailable and a log line", downErr, logs.Len())
	}
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v", res, res, res), fmt.Sprint(err), fmt.Sprint(rejErr), fmt.Sprint(downErr),
		fmt.Sprintf("%+v", e.v.Stats()), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), logs.String(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, other.Token().SecretPart()) {
			t.Errorf("secret leaked in %q", s)
		}
	}
}

// A verification made before Run has its starting cursor must leave nothing behind that a
// commit made in that window (which the feed will never deliver) could leave stale.
func TestChangeBeforeRunStartsIsNotMissed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t)
	tok, _ := e.issue(store.Authtoken, e.bot, nil)
	v := verifier(t, e.inner, credential.WithClock(e.clock)) // not running yet
	if _, err := v.Verify(ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.setBotActive(false)
	go v.Run(ctx)
	if err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, store.Authtoken, tok.Reveal()); !errors.Is(err, credential.ReasonOwnerInactive) {
		t.Fatalf("Verify = %v, want %v", err, credential.ReasonOwnerInactive)
	}
}
