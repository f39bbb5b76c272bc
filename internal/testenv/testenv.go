package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// Epoch returns where every Env's fake clock starts.
func Epoch() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }

// Env is one test's world. Its fields are the parts a test may use directly.
type Env struct {
	T     testing.TB
	Ctx   context.Context
	Clock *clock.Fake
	Store store.Store
	Plans *identity.Catalog
	Authz *rbac.Authorizer
	Dir   *identity.Directory
	IDs   *id.Generator
}

// New returns an Env whose catalog holds the example plans and extra, and whose Authorizer
// takes opts. The store is closed when the test ends.
func New(t testing.TB, extra []identity.Plan, opts ...rbac.Option) *Env {
	t.Helper()
	clk := clock.NewFake(Epoch())
	st, err := memstore.New(memstore.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(append([]identity.Plan{identity.Free(), identity.PayAsYouGo(), identity.Enterprise()}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	authz, err := rbac.New(st, plans, append([]rbac.Option{rbac.WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := identity.New(st, authz, identity.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{
		T: t, Ctx: t.Context(), Clock: clk, Store: st, Plans: plans, Authz: authz, Dir: dir,
		IDs: id.NewGenerator(clk, rand.Reader),
	}
}

// User creates a user.
func (e *Env) User(email string) store.User {
	e.T.Helper()
	u, err := e.Dir.CreateUser(e.Ctx, email, "")
	if err != nil {
		e.T.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// Account creates an account on plan, founded by the user with founderEmail (created if
// needed), and returns it with the founder's principal.
func (e *Env) Account(founderEmail, plan string) (store.Account, identity.Principal) {
	e.T.Helper()
	u, err := e.Dir.UserByEmail(e.Ctx, founderEmail)
	if errors.Is(err, store.ErrNotFound) {
		u = e.User(founderEmail)
	} else if err != nil {
		e.T.Fatal(err)
	}
	// Named without the email: a log reader without members:read sees the account's name.
	name, _, _ := strings.Cut(founderEmail, "@")
	a, err := e.Dir.CreateAccount(e.Ctx, u.ID, "acct of "+name, plan)
	if err != nil {
		e.T.Fatalf("CreateAccount: %v", err)
	}
	return a, e.Principal(a.ID, u.ID)
}

// Principal returns the API principal of a user or bot user in an account.
func (e *Env) Principal(accountID, principalID string) identity.Principal {
	e.T.Helper()
	p, err := e.Dir.Principal(e.Ctx, accountID, principalID, identity.SourceAPI, "")
	if err != nil {
		e.T.Fatalf("Principal: %v", err)
	}
	return p
}

// Member adds a new user with roles to admin's account, on admin's authority.
func (e *Env) Member(admin identity.Principal, email string, roles ...string) identity.Principal {
	e.T.Helper()
	u := e.User(email)
	if _, err := e.Dir.AddMember(e.Ctx, admin, u.ID, roles); err != nil {
		e.T.Fatalf("AddMember(%s, %v): %v", email, roles, err)
	}
	return e.Principal(admin.AccountID, u.ID)
}

// Join invites email into by's account with roles and accepts with the invitation's token,
// as the person at that address would, creating the user if needed.
func (e *Env) Join(by identity.Principal, email string, roles ...string) identity.Principal {
	e.T.Helper()
	inv, err := e.Dir.Invite(e.Ctx, by, email, roles)
	if err != nil {
		e.T.Fatalf("Invite(%s): %v", email, err)
	}
	m, err := e.Dir.AcceptInvitationToken(e.Ctx, inv.Token.Reveal(), "", identity.SourceDashboard)
	if err != nil {
		e.T.Fatalf("AcceptInvitationToken(%s): %v", email, err)
	}
	return e.Principal(by.AccountID, m.UserID)
}

// Credential writes an authtoken owned by ownerID straight through the store, as the
// credential package would, with a random secret hash.
func (e *Env) Credential(accountID, ownerID string) store.Credential {
	e.T.Helper()
	return e.CredentialOf(accountID, ownerID, store.Authtoken)
}

// CredentialOf writes a credential of kind owned by ownerID straight through the store, with
// a random secret hash (tokens) or a random fingerprint (SSH keys); an access token is
// scoped to credentials:read.
func (e *Env) CredentialOf(accountID, ownerID string, kind store.CredentialKind) store.Credential {
	e.T.Helper()
	prefix := map[store.CredentialKind]id.Prefix{
		store.Authtoken: id.Authtoken, store.APIKey: id.APIKey, store.AccessToken: id.AccessToken, store.SSHCredential: id.SSHCredential,
	}[kind]
	cid, err := e.IDs.NewIn(prefix, accountID)
	if err != nil {
		e.T.Fatal(err)
	}
	var h [32]byte
	rand.Read(h[:])
	c := store.Credential{ID: cid, AccountID: accountID, Kind: kind, OwnerID: ownerID, CreatedAt: e.Clock.Now()}
	if kind == store.AccessToken {
		c.Scopes = []string{"credentials:read"}
	}
	if kind == store.SSHCredential {
		c.PublicKey, c.Fingerprint = "ssh-ed25519 AAAA"+hex.EncodeToString(h[:]), "SHA256:"+hex.EncodeToString(h[:])
	} else {
		c.SecretHash = hex.EncodeToString(h[:])
	}
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error { return tx.PutCredential(e.Ctx, c) }); err != nil {
		e.T.Fatalf("PutCredential: %v", err)
	}
	return c
}

// Auth returns what a verifier would read for a credential, and its owner's state.
func (e *Env) Auth(credentialID string) (store.Credential, store.OwnerState, error) {
	var (
		c store.Credential
		o store.Owner
	)
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		var err error
		c, o, err = r.CredentialAuth(e.Ctx, credentialID)
		return err
	})
	return c, o.State, err
}

// LastEvent returns an account's newest audit event.
func (e *Env) LastEvent(accountID string) store.Event {
	e.T.Helper()
	evs := e.Events(accountID)
	if len(evs) == 0 {
		e.T.Fatal("no events")
	}
	return evs[0]
}

// Events returns an account's whole audit log, newest first, straight from the store.
func (e *Env) Events(accountID string) []store.Event {
	e.T.Helper()
	var out []store.Event
	p := store.Page{Limit: store.MaxPageLimit}
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		for {
			evs, err := r.Events(e.Ctx, accountID, p)
			if err != nil {
				return err
			}
			out = append(out, evs...)
			if len(evs) < p.Limit {
				return nil
			}
			p.BeforeID = evs[len(evs)-1].ID
		}
	})
	if err != nil {
		e.T.Fatalf("Events: %v", err)
	}
	return out
}

// CommitsOf runs fn and returns the commits it made, audit events included.
func (e *Env) CommitsOf(fn func()) []store.Commit {
	e.T.Helper()
	head, err := e.Store.Head(e.Ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	fn()
	ctx, cancel := context.WithTimeout(e.Ctx, 2*time.Second)
	defer cancel()
	b, err := e.Store.Changes(ctx, head)
	if err != nil {
		e.T.Fatalf("Changes: %v", err)
	}
	return b.Commits
}

// EventsIn returns the audit events a commit appended, read back from the store, in the
// order the commit lists them.
func (e *Env) EventsIn(c store.Commit) []store.Event {
	e.T.Helper()
	var out []store.Event
	for _, ch := range c.Changes {
		if ch.Kind != store.KindEvent {
			continue
		}
		ev, err := e.Event(ch.AccountID, ch.ID)
		if err != nil {
			e.T.Fatalf("event %s: %v", ch.ID, err)
		}
		out = append(out, ev)
	}
	return out
}

// Event reads one audit event of an account from the store.
func (e *Env) Event(accountID, eventID string) (store.Event, error) {
	var out store.Event
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		evs, err := r.Events(e.Ctx, accountID, store.Page{BeforeID: eventID + "~", Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) == 0 || evs[0].ID != eventID {
			return store.ErrNotFound
		}
		out = evs[0]
		return nil
	})
	return out, err
}

// CredentialsOfEveryKind writes one credential of each kind owned by ownerID.
func (e *Env) CredentialsOfEveryKind(accountID, ownerID string) []store.Credential {
	e.T.Helper()
	var out []store.Credential
	for _, k := range []store.CredentialKind{store.Authtoken, store.APIKey, store.SSHCredential} {
		out = append(out, e.CredentialOf(accountID, ownerID, k))
	}
	return out
}

// WantOwnerDeletion fails the test unless commits is one commit that deletes an owner:
// exactly one event, ownerEvent about ownerID attributed to by, and a tombstone for the
// owner's credentials, which from then on no read finds (their *_deleted events come later,
// from credential's purger).
func (e *Env) WantOwnerDeletion(commits []store.Commit, by store.Principal, ownerEvent store.EventType, ownerID string, creds []store.Credential) {
	e.T.Helper()
	if len(commits) != 1 {
		e.T.Fatalf("deletion made %d commits, want 1", len(commits))
	}
	events := e.EventsIn(commits[0])
	if len(events) != 1 {
		e.T.Fatalf("the deletion commit holds %d events, want 1 (%s)", len(events), ownerEvent)
	}
	ev := events[0]
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(ev.Object, &obj); err != nil {
		e.T.Fatalf("%s: object %s: %v", ev.Type, ev.Object, err)
	}
	if ev.Type != ownerEvent || obj.ID != ownerID || ev.Principal != by {
		e.T.Errorf("event %s about %s by %+v, want %s about %s by %+v", ev.Type, obj.ID, ev.Principal, ownerEvent, ownerID, by)
	}
	tombstoned := false
	for _, ch := range commits[0].Changes {
		if ch.Kind == store.KindTombstone && ch.Op == store.OpPut && ch.ID == ownerID {
			tombstoned = true
		}
	}
	if len(creds) > 0 && !tombstoned {
		e.T.Errorf("the deletion commit writes no tombstone for %s's %d credentials", ownerID, len(creds))
	}
	for _, c := range creds {
		if _, _, err := e.Auth(c.ID); !errors.Is(err, store.ErrNotFound) {
			e.T.Errorf("credential %s of the deleted owner: %v, want ErrNotFound", c.ID, err)
		}
	}
}

// WritesOf runs fn and returns the changes, audit events left out, of the commits it made.
func (e *Env) WritesOf(fn func()) []store.Change {
	e.T.Helper()
	var out []store.Change
	for _, c := range e.CommitsOf(fn) {
		for _, ch := range c.Changes {
			if ch.Kind != store.KindEvent {
				out = append(out, ch)
			}
		}
	}
	return out
}

// Mem returns an empty memstore on clk (the system clock when nil), closed when the test
// ends.
func Mem(t testing.TB, clk store.Clock, opts ...memstore.Option) store.Store {
	t.Helper()
	if clk != nil {
		opts = append([]memstore.Option{memstore.WithClock(clk)}, opts...)
	}
	st, err := memstore.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Authz returns an Authorizer over st, failing the test on error.
func Authz(t testing.TB, st store.Store, plans *identity.Catalog, opts ...rbac.Option) *rbac.Authorizer {
	t.Helper()
	a, err := rbac.New(st, plans, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Directory returns a Directory over st guarded by g, failing the test on error.
func Directory(t testing.TB, st store.Store, g identity.Guard, opts ...identity.Option) *identity.Directory {
	t.Helper()
	d, err := identity.New(st, g, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
