package credential_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// purgeEnv is an account with an administrator and a bot user that owns many credentials
// with real tokens, a running Verifier, and a Purger.
type purgeEnv struct {
	*testenv.Env
	admin  identity.Principal
	bots   *botuser.Service
	bot    store.BotUser
	tokens []string // of the bot's credentials
	v      *credential.Verifier
}

func newPurgeEnv(t *testing.T, n int) *purgeEnv {
	t.Helper()
	e := &purgeEnv{Env: testenv.New(t, nil)}
	_, e.admin = e.Account("admin@example.com", "enterprise")
	var err error
	if e.bots, err = botuser.New(e.Store, e.Authz, botuser.WithClock(e.Clock)); err != nil {
		t.Fatal(err)
	}
	if e.bot, err = e.bots.Create(e.Ctx, e.admin, botuser.CreateParams{Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	e.tokens = e.issue(e.bot.ID, n)
	e.v = verifier(t, e.Store, credential.WithClock(e.Clock))
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.sync()
	return e
}

// issue writes n authtokens owned by owner straight through the store, 500 a transaction,
// and returns their tokens.
func (e *purgeEnv) issue(owner string, n int) []string {
	e.T.Helper()
	var tokens []string
	var h *credential.Hasher
	for len(tokens) < n {
		err := e.Store.Update(e.Ctx, func(tx store.Tx) error {
			for i := 0; i < 500 && len(tokens) < n; i++ {
				cid, err := e.IDs.NewIn(id.Authtoken, e.admin.AccountID)
				if err != nil {
					return err
				}
				tok, err := credential.NewToken(store.Authtoken, cid, rand.Reader)
				if err != nil {
					return err
				}
				c := store.Credential{ID: cid, AccountID: e.admin.AccountID, Kind: store.Authtoken, OwnerID: owner, SecretHash: h.HashHex(tok.Token()), CreatedAt: e.Clock.Now()}
				if err := tx.PutCredential(e.Ctx, c); err != nil {
					return err
				}
				tokens = append(tokens, tok.Reveal())
			}
			return nil
		})
		if err != nil {
			e.T.Fatal(err)
		}
	}
	return tokens
}

func (e *purgeEnv) sync() {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx, 10*time.Second)
	defer cancel()
	if err := e.v.Sync(ctx); err != nil {
		e.T.Fatal(err)
	}
}

// wantRefused fails unless every token is refused as unknown.
func (e *purgeEnv) wantRefused(tokens []string) {
	e.T.Helper()
	for i, tok := range tokens {
		if _, err := e.v.Verify(e.Ctx, store.Authtoken, tok); !errors.Is(err, credential.ReasonUnknown) {
			e.T.Fatalf("token %d of the deleted bot: %v, want %v", i, err, credential.ReasonUnknown)
		}
	}
}

func (e *purgeEnv) tombstones() []store.Tombstone {
	e.T.Helper()
	var ts []store.Tombstone
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		var err error
		ts, err = r.Tombstones(e.Ctx, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return ts
}

// deletedEvents counts the *_deleted events of credentials in commits, checking each is
// attributed to by and about a credential of ids, at most once.
func (e *purgeEnv) deletedEvents(commits []store.Commit, by store.Principal, ids map[string]bool) int {
	e.T.Helper()
	n := 0
	for _, c := range commits {
		for _, ev := range e.EventsIn(c) {
			var obj struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(ev.Object, &obj); err != nil {
				e.T.Fatal(err)
			}
			if ev.Type != identity.EventTunnelCredentialDeleted || ev.Principal != by || !ids[obj.ID] {
				e.T.Fatalf("event %s about %s by %+v", ev.Type, obj.ID, ev.Principal)
			}
			delete(ids, obj.ID)
			n++
		}
	}
	return n
}

// credentialIDs returns the IDs of the bot's credentials, before it is deleted.
func (e *purgeEnv) credentialIDs() map[string]bool {
	e.T.Helper()
	ids := map[string]bool{}
	p := store.Page{Limit: store.MaxPageLimit}
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		for {
			cs, err := r.CredentialsByOwner(e.Ctx, e.admin.AccountID, e.bot.ID, p)
			if err != nil {
				return err
			}
			for _, c := range cs {
				ids[c.ID] = true
			}
			if len(cs) < p.Limit {
				return nil
			}
			p.BeforeID = cs[len(cs)-1].ID
		}
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return ids
}

// TestPurge_BotWithManyCredentials: deleting a bot user with 2,500 credentials is one commit
// (its event and a tombstone); every credential is refused at once, cached or not; Purge
// deletes them all in batches of at most 500, one commit each (and one more that deletes
// the tombstone, since 2,500 is a multiple of 500), recording one
// tunnel_credential_deleted event per credential attributed to whoever deleted the bot,
// leaves no tombstone, and the purged credentials stay unknown, not revoked.
func TestPurge_BotWithManyCredentials(t *testing.T) {
	const n = 2500
	e := newPurgeEnv(t, n)
	for _, tok := range e.tokens[:100] { // a warm cache for some of them
		if _, err := e.v.Verify(e.Ctx, store.Authtoken, tok); err != nil {
			t.Fatal(err)
		}
	}
	ids := e.credentialIDs()
	commits := e.CommitsOf(func() {
		if err := e.bots.Delete(e.Ctx, e.admin, e.bot.ID); err != nil {
			t.Fatal(err)
		}
	})
	e.WantOwnerDeletion(commits, e.admin.Audit(), identity.EventBotUserDeleted, e.bot.ID, nil)
	e.sync()
	e.wantRefused(e.tokens)

	p, err := credential.NewPurger(e.Store, credential.WithClock(e.Clock))
	if err != nil {
		t.Fatal(err)
	}
	var purged int
	commits = e.CommitsOf(func() {
		if purged, err = p.Purge(e.Ctx); err != nil {
			t.Fatal(err)
		}
	})
	if purged != n || len(commits) < n/credential.DefaultPurgeBatch {
		t.Fatalf("Purge deleted %d credentials in %d commits, want %d in at least %d", purged, len(commits), n, n/credential.DefaultPurgeBatch)
	}
	for i, deletes := range credentialDeletes(commits) {
		if deletes > credential.DefaultPurgeBatch {
			t.Fatalf("commit %d deletes %d credentials, more than a batch", i, deletes)
		}
	}
	if got := e.deletedEvents(commits, e.admin.Audit(), ids); got != n || len(ids) != 0 {
		t.Fatalf("%d events, %d credentials without one", got, len(ids))
	}
	if ts := e.tombstones(); len(ts) != 0 {
		t.Fatalf("tombstones left: %+v", ts)
	}
	if again, err := p.Purge(e.Ctx); err != nil || again != 0 {
		t.Fatalf("a second Purge: %d, %v", again, err)
	}
	e.sync()
	e.wantRefused(e.tokens[:100])
}

// credentialDeletes returns how many credentials each commit deletes.
func credentialDeletes(commits []store.Commit) []int {
	out := make([]int, len(commits))
	for i, c := range commits {
		for _, ch := range c.Changes {
			if ch.Kind == store.KindCredential && ch.Op == store.OpDelete {
				out[i]++
			}
		}
	}
	return out
}

// slowStore is a store whose Updates take perCredential of its fake clock's time for each
// credential they purge, as a store under load would.
type slowStore struct {
	store.Store
	clock         *clock.Fake
	perCredential time.Duration
}

// purgeCounter is the Tx of a slowStore's Update: it counts the credentials purged.
type purgeCounter struct {
	store.Tx
	purged int
}

func (tx *purgeCounter) PurgeCredentials(ctx context.Context, accountID, ownerID string, limit int) ([]store.Credential, bool, error) {
	cs, done, err := tx.Tx.PurgeCredentials(ctx, accountID, ownerID, limit)
	tx.purged += len(cs)
	return cs, done, err
}

func (s *slowStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		c := &purgeCounter{Tx: tx}
		err := fn(c)
		s.clock.Advance(time.Duration(c.purged) * s.perCredential)
		return err
	})
}

// TestPurge_BatchesSizedByTime: the Purger sizes each batch by how long the last took, so
// that a batch takes about PurgeBatchBudget: it starts small, grows at most twofold while
// batches are quick, never past WithPurgeBatch, and shrinks on a slow store.
func TestPurge_BatchesSizedByTime(t *testing.T) {
	budget := credential.PurgeBatchBudget
	for _, c := range []struct {
		name          string
		perCredential time.Duration
		max           int
		want          []int // the sizes of the batches, in order
	}{
		{"a fast store: batches double up to the maximum", 0, 300, []int{50, 100, 200, 300, 300, 50}},
		{"budget/100 a credential: batches of 100", budget / 100, 500, append(append([]int{50}, slices.Repeat([]int{100}, 9)...), 50)},
		{"budget/10 a credential: batches of 10", budget / 10, 500, append(append([]int{50}, slices.Repeat([]int{10}, 95)...), 0)}, // the last deletes the tombstone alone
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPurgeEnv(t, 1000)
			if err := e.bots.Delete(e.Ctx, e.admin, e.bot.ID); err != nil {
				t.Fatal(err)
			}
			slow := &slowStore{Store: e.Store, clock: e.Clock, perCredential: c.perCredential}
			p, err := credential.NewPurger(slow, credential.WithClock(e.Clock), credential.WithPurgeBatch(c.max), credential.WithPurgeRest(0))
			if err != nil {
				t.Fatal(err)
			}
			commits := e.CommitsOf(func() {
				if n, err := p.Purge(e.Ctx); err != nil || n != 1000 {
					t.Fatalf("Purge = %d, %v", n, err)
				}
			})
			if got := credentialDeletes(commits); !slices.Equal(got, c.want) {
				t.Fatalf("batches of %v credentials, want %v", got, c.want)
			}
		})
	}
}

// TestPurge_RestsBetweenBatches: after each batch but the last of an owner, the Purger
// waits WithPurgeRest times as long as the batch took (here 5 ms a batch, by a fake clock
// the store advances, so the rests are real time while the batches take none), and a
// context that ends after a batch stops the purge before the next, to be resumed.
func TestPurge_RestsBetweenBatches(t *testing.T) {
	const perBatch = 5 * time.Millisecond // 100 credentials at budget/100 each
	for _, c := range []struct {
		name    string
		rest    float64
		atLeast time.Duration // 9 rests between 10 batches of 100
	}{
		{"rest 2", 2, 9 * 2 * perBatch},
		{"rest 4", 4, 9 * 4 * perBatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPurgeEnv(t, 1000)
			if err := e.bots.Delete(e.Ctx, e.admin, e.bot.ID); err != nil {
				t.Fatal(err)
			}
			slow := &slowStore{Store: e.Store, clock: e.Clock, perCredential: credential.PurgeBatchBudget / 100}
			p, err := credential.NewPurger(slow, credential.WithClock(e.Clock), credential.WithPurgeBatch(100), credential.WithPurgeRest(c.rest))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if n, err := p.Purge(e.Ctx); err != nil || n != 1000 {
				t.Fatalf("Purge = %d, %v", n, err)
			}
			// A lower bound only: timers never fire early, however loaded the machine.
			if took := time.Since(start); took < c.atLeast {
				t.Fatalf("purging 10 batches took %v, want at least %v of rests", took, c.atLeast)
			}
		})
	}
	t.Run("a context ending after a batch", func(t *testing.T) {
		e := newPurgeEnv(t, 1000)
		if err := e.bots.Delete(e.Ctx, e.admin, e.bot.ID); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(e.Ctx)
		// The first batch "takes" 30 minutes of the fake clock, so its rest is 7.5 minutes of
		// real time; the context ends once that batch has committed.
		slow := &afterUpdate{Store: &slowStore{Store: e.Store, clock: e.Clock, perCredential: time.Hour / 100}, then: cancel}
		p, err := credential.NewPurger(slow, credential.WithClock(e.Clock), credential.WithPurgeBatch(100))
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.Purge(ctx)
		if !errors.Is(err, context.Canceled) || n != 50 {
			t.Fatalf("Purge = %d, %v; want the first batch of 50, then context.Canceled", n, err)
		}
		if len(e.tombstones()) != 1 {
			t.Fatal("the tombstone went with the first batch")
		}
		q, err := credential.NewPurger(e.Store, credential.WithPurgeRest(0))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := q.Purge(e.Ctx); err != nil || n != 950 {
			t.Fatalf("the resumed purge = %d, %v; want the other 950", n, err)
		}
	})
}

// afterUpdate is a store that calls then after each Update returns.
type afterUpdate struct {
	store.Store
	then func()
}

func (s *afterUpdate) Update(ctx context.Context, fn func(store.Tx) error) error {
	defer s.then()
	return s.Store.Update(ctx, fn)
}

// updateFailer is a store whose Updates fail once armed, after a given number more succeed:
// a purge interrupted midway.
type updateFailer struct {
	store.Store
	left atomic.Int64 // Updates that may still succeed; < 0: unlimited
}

var errInterrupted = errors.New("interrupted")

func (s *updateFailer) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.left.Add(-1) < 0 {
		return errInterrupted
	}
	return s.Store.Update(ctx, fn)
}

// TestPurge_InterruptedResumes: a purge that stops after its first batch leaves the
// tombstone and the rest of the credentials; the next purge (any Purger) finishes the job,
// and every credential gets exactly one event.
func TestPurge_InterruptedResumes(t *testing.T) {
	const n = 1200
	e := newPurgeEnv(t, n)
	ids := e.credentialIDs()
	if err := e.bots.Delete(e.Ctx, e.admin, e.bot.ID); err != nil {
		t.Fatal(err)
	}
	failing := &updateFailer{Store: e.Store}
	failing.left.Store(1)
	first, err := credential.NewPurger(failing, credential.WithClock(e.Clock))
	if err != nil {
		t.Fatal(err)
	}
	var purged int
	commits := e.CommitsOf(func() { purged, err = first.Purge(e.Ctx) })
	if !errors.Is(err, errInterrupted) || purged < 1 || purged >= n || len(commits) != 1 {
		t.Fatalf("interrupted Purge: %d purged in %d commits, %v", purged, len(commits), err)
	}
	first = nil
	rest := n - purged
	if ts := e.tombstones(); len(ts) != 1 || ts[0].OwnerID != e.bot.ID {
		t.Fatalf("tombstones after one batch: %+v", ts)
	}
	second, err := credential.NewPurger(e.Store, credential.WithClock(e.Clock))
	if err != nil {
		t.Fatal(err)
	}
	commits = append(commits, e.CommitsOf(func() {
		if purged, err = second.Purge(e.Ctx); err != nil || purged != rest {
			t.Fatalf("resumed Purge: %d, %v", purged, err)
		}
	})...)
	if got := e.deletedEvents(commits, e.admin.Audit(), ids); got != n || len(ids) != 0 {
		t.Fatalf("%d events, %d credentials without one", got, len(ids))
	}
	if ts := e.tombstones(); len(ts) != 0 {
		t.Fatalf("tombstones left: %+v", ts)
	}
}

// TestPurge_MemberRemoved: a removed member's credentials of every kind, in that account
// only, are purged with one event each of its kind's type, attributed to the remover.
func TestPurge_MemberRemoved(t *testing.T) {
	e := testenv.New(t, nil)
	a, admin := e.Account("admin@example.com", "enterprise")
	b, adminB := e.Account("b@example.com", "enterprise")
	dev := e.Join(admin, "dev@example.com", rbac.RoleDeveloper)
	e.Join(adminB, "dev@example.com", rbac.RoleDeveloper)
	creds := e.CredentialsOfEveryKind(a.ID, dev.ID)
	kept := e.Credential(b.ID, dev.ID)
	if err := e.Dir.RemoveMember(e.Ctx, admin, dev.ID); err != nil {
		t.Fatal(err)
	}
	p, err := credential.NewPurger(e.Store, credential.WithClock(e.Clock))
	if err != nil {
		t.Fatal(err)
	}
	commits := e.CommitsOf(func() {
		if n, err := p.Purge(e.Ctx); err != nil || n != len(creds) {
			t.Fatalf("Purge: %d, %v", n, err)
		}
	})
	want := map[string]store.EventType{}
	for _, c := range creds {
		_, _, want[c.ID] = identity.CredentialEventTypes(c.Kind)
	}
	for _, c := range commits {
		for _, ev := range e.EventsIn(c) {
			var obj struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(ev.Object, &obj); err != nil {
				t.Fatal(err)
			}
			if want[obj.ID] != ev.Type || ev.Principal != admin.Audit() {
				t.Errorf("event %s about %s by %+v", ev.Type, obj.ID, ev.Principal)
			}
			delete(want, obj.ID)
		}
	}
	if len(want) != 0 {
		t.Errorf("no event for %v", want)
	}
	if _, state, err := e.Auth(kept.ID); err != nil || state != store.OwnerActive {
		t.Errorf("the member's credential in another account: %v, %v", state, err)
	}
}

// TestPurger_RunWakesOnATombstone: a running Purger purges a deleted bot's credentials when
// the change feed reports the tombstone, long before its poll.
func TestPurger_RunWakesOnATombstone(t *testing.T) {
	e := newPurgeEnv(t, 10)
	p, err := credential.NewPurger(e.Store, credential.WithClock(e.Clock), credential.WithPurgePoll(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := e.bots.Delete(e.Ctx, e.admin, e.bot.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a measurement
	for len(e.tombstones()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the running Purger did not purge the deleted bot's credentials")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// TestNewPurger_RefusesBadOptions: the constructor validates its options.
func TestNewPurger_RefusesBadOptions(t *testing.T) {
	st := testenv.Mem(t, nil)
	for _, c := range []struct {
		field string
		opt   credential.Option
	}{
		{"purge_batch", credential.WithPurgeBatch(0)},
		{"purge_batch", credential.WithPurgeBatch(store.MaxPageLimit + 1)},
		{"purge_poll", credential.WithPurgePoll(0)},
		{"purge_rest", credential.WithPurgeRest(-1)},
		{"purge_rest", credential.WithPurgeRest(credential.MaxPurgeRest + 1)},
		{"purge_rest", credential.WithPurgeRest(math.NaN())},
		{"clock", credential.WithClock(nil)},
	} {
		p, err := credential.NewPurger(st, c.opt)
		var se *store.Error
		if p != nil || !errors.As(err, &se) || se.Field != c.field || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, %v", c.field, p, err)
		}
	}
	if _, err := credential.NewPurger(nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no store: %v", err)
	}
}
