package botuser_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type env struct {
	t     *testing.T
	ctx   context.Context
	clk   *clock.Fake
	st    *memstore.Store
	authz *rbac.Authorizer
	dir   *identity.Directory
	bots  *botuser.Service
	ids   *id.Generator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := memstore.New(memstore.WithClock(clk.Now))
	t.Cleanup(func() { st.Close() })
	twoSeats := identity.Plan{Name: "two", Seats: 2, Features: []identity.Feature{identity.FeatureBotUsers, identity.FeatureRBAC}}
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise(), twoSeats)
	if err != nil {
		t.Fatal(err)
	}
	authz := rbac.New(st, plans, rbac.WithClock(clk))
	return &env{
		t: t, ctx: t.Context(), clk: clk, st: st, authz: authz,
		dir:  identity.New(st, plans, authz, identity.WithClock(clk)),
		bots: botuser.New(st, authz, botuser.WithClock(clk)),
		ids:  id.NewGenerator(clk, rand.Reader),
	}
}

func (e *env) account(email, plan string) (store.Account, identity.Principal) {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.dir.CreateAccount(e.ctx, u.ID, "acct", plan)
	if err != nil {
		e.t.Fatal(err)
	}
	// IDs, and so events, are ordered across services to the millisecond only.
	e.clk.Advance(time.Millisecond)
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

func (e *env) member(admin identity.Principal, email string, roles ...string) identity.Principal {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dir.AddMember(e.ctx, admin, admin.AccountID, u.ID, roles); err != nil {
		e.t.Fatalf("AddMember: %v", err)
	}
	return e.principal(admin.AccountID, u.ID)
}

func (e *env) create(by identity.Principal, name string) store.BotUser {
	e.t.Helper()
	b, err := e.bots.Create(e.ctx, by, by.AccountID, botuser.CreateParams{Name: name})
	if err != nil {
		e.t.Fatalf("Create(%q): %v", name, err)
	}
	return b
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

func (e *env) lastEvent(accountID string) store.Event {
	e.t.Helper()
	evs, err := e.dir.Events(e.ctx, accountID, store.Page{Limit: 1})
	if err != nil || len(evs) != 1 {
		e.t.Fatalf("Events: %v", err)
	}
	return evs[0]
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one matching %v", err, target)
	}
}
