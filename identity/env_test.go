package identity_test

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

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// small is a plan with RBAC and three seats, to reach the limit quickly.
var small = identity.Plan{Name: "small", Seats: 3, Features: []identity.Feature{identity.FeatureRBAC, identity.FeatureBotUsers}}

type env struct {
	t     *testing.T
	ctx   context.Context
	clk   *clock.Fake
	st    *memstore.Store
	plans *identity.Catalog
	authz *rbac.Authorizer
	dir   *identity.Directory
	ids   *id.Generator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := memstore.New(memstore.WithClock(clk.Now))
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise(), small)
	if err != nil {
		t.Fatal(err)
	}
	authz := rbac.New(st, plans, rbac.WithClock(clk))
	return &env{
		t: t, ctx: t.Context(), clk: clk, st: st, plans: plans, authz: authz,
		dir: identity.New(st, plans, authz, identity.WithClock(clk)),
		ids: id.NewGenerator(clk, rand.Reader),
	}
}

func (e *env) user(email string) store.User {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// account creates an account on plan founded by a new user, and returns it with the
// founder's principal.
func (e *env) account(founderEmail, plan string) (store.Account, identity.Principal) {
	e.t.Helper()
	u, err := e.dir.UserByEmail(e.ctx, founderEmail)
	if errors.Is(err, store.ErrNotFound) {
		u = e.user(founderEmail)
	} else if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.dir.CreateAccount(e.ctx, u.ID, "acct of "+founderEmail, plan)
	if err != nil {
		e.t.Fatalf("CreateAccount: %v", err)
	}
	return a, e.principal(a.ID, u.ID)
}

func (e *env) principal(accountID, principalID string) identity.Principal {
	e.t.Helper()
	p, err := e.dir.Principal(e.ctx, accountID, principalID, identity.SourceAPI, "")
	if err != nil {
		e.t.Fatalf("Principal: %v", err)
	}
	return p
}

// join invites email into the account with roles and accepts, creating the user if needed.
func (e *env) join(by identity.Principal, email string, roles ...string) identity.Principal {
	e.t.Helper()
	inv, err := e.dir.Invite(e.ctx, by, by.AccountID, email, roles)
	if err != nil {
		e.t.Fatalf("Invite(%s): %v", email, err)
	}
	u, err := e.dir.UserByEmail(e.ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		u = e.user(email)
	} else if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dir.AcceptInvitation(e.ctx, inv.ID, u.ID, identity.SourceDashboard); err != nil {
		e.t.Fatalf("AcceptInvitation(%s): %v", email, err)
	}
	return e.principal(by.AccountID, u.ID)
}

// credential writes an authtoken owned by ownerID straight through the store, as the
// credential package would, with a fake secret hash.
func (e *env) credential(accountID, ownerID string) store.Credential {
	e.t.Helper()
	cid, err := e.ids.NewIn(id.Authtoken, accountID)
	if err != nil {
		e.t.Fatal(err)
	}
	var h [32]byte
	rand.Read(h[:])
	c := store.Credential{ID: cid, AccountID: accountID, Kind: store.Authtoken, OwnerID: ownerID, SecretHash: hex.EncodeToString(h[:]), CreatedAt: e.clk.Now()}
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) }); err != nil {
		e.t.Fatalf("PutCredential: %v", err)
	}
	return c
}

// auth returns what a verifier would read for a credential.
func (e *env) auth(credentialID string) (store.Credential, store.OwnerState, error) {
	var (
		c  store.Credential
		os store.OwnerState
	)
	err := e.st.View(e.ctx, func(r store.Reader) error {
		var err error
		c, os, err = r.CredentialAuth(e.ctx, credentialID)
		return err
	})
	return c, os, err
}

// lastEvent returns an account's newest audit event.
func (e *env) lastEvent(accountID string) store.Event {
	e.t.Helper()
	evs, err := e.dir.Events(e.ctx, accountID, store.Page{Limit: 1})
	if err != nil || len(evs) != 1 {
		e.t.Fatalf("Events: %v (%d)", err, len(evs))
	}
	return evs[0]
}

// writesOf runs fn and returns the non-event changes of the commits it made.
func (e *env) writesOf(fn func()) []store.Change {
	e.t.Helper()
	head, err := e.st.Head(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	fn()
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
	defer cancel()
	b, err := e.st.Changes(ctx, head)
	if err != nil {
		e.t.Fatalf("Changes: %v", err)
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

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one matching %v", err, target)
	}
}
