package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	Store *memstore.Store
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
	st := memstore.New(memstore.WithClock(clk.Now))
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(append([]identity.Plan{identity.Free(), identity.PayAsYouGo(), identity.Enterprise()}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	authz := rbac.New(st, plans, append([]rbac.Option{rbac.WithClock(clk)}, opts...)...)
	return &Env{
		T: t, Ctx: t.Context(), Clock: clk, Store: st, Plans: plans, Authz: authz,
		Dir: identity.New(st, plans, authz, identity.WithClock(clk)),
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
	a, err := e.Dir.CreateAccount(e.Ctx, u.ID, "acct of "+founderEmail, plan)
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
	if _, err := e.Dir.AddMember(e.Ctx, admin, admin.AccountID, u.ID, roles); err != nil {
		e.T.Fatalf("AddMember(%s, %v): %v", email, roles, err)
	}
	return e.Principal(admin.AccountID, u.ID)
}

// Join invites email into by's account with roles and accepts with the invitation's token,
// as the person at that address would, creating the user if needed.
func (e *Env) Join(by identity.Principal, email string, roles ...string) identity.Principal {
	e.T.Helper()
	inv, err := e.Dir.Invite(e.Ctx, by, by.AccountID, email, roles)
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
	cid, err := e.IDs.NewIn(id.Authtoken, accountID)
	if err != nil {
		e.T.Fatal(err)
	}
	var h [32]byte
	rand.Read(h[:])
	c := store.Credential{ID: cid, AccountID: accountID, Kind: store.Authtoken, OwnerID: ownerID, SecretHash: hex.EncodeToString(h[:]), CreatedAt: e.Clock.Now()}
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error { return tx.PutCredential(e.Ctx, c) }); err != nil {
		e.T.Fatalf("PutCredential: %v", err)
	}
	return c
}

// Auth returns what a verifier would read for a credential.
func (e *Env) Auth(credentialID string) (store.Credential, store.OwnerState, error) {
	var (
		c  store.Credential
		os store.OwnerState
	)
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		var err error
		c, os, err = r.CredentialAuth(e.Ctx, credentialID)
		return err
	})
	return c, os, err
}

// LastEvent returns an account's newest audit event.
func (e *Env) LastEvent(accountID string) store.Event {
	e.T.Helper()
	evs, err := e.Dir.Events(e.Ctx, accountID, store.Page{Limit: 1})
	if err != nil || len(evs) != 1 {
		e.T.Fatalf("Events: %v (%d)", err, len(evs))
	}
	return evs[0]
}

// WritesOf runs fn and returns the changes, audit events left out, of the commits it made.
func (e *Env) WritesOf(fn func()) []store.Change {
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
	var out []store.Change
	for _, c := range b.Commits {
		for _, ch := range c.Changes {
			if ch.Kind != store.KindEvent {
				out = append(out, ch)
			}
		}
	}
	return out
}
