package rbac_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type env struct {
	t     testing.TB
	ctx   context.Context
	clk   *clock.Fake
	st    *memstore.Store
	plans *identity.Catalog
	authz *rbac.Authorizer
	dir   *identity.Directory
	bots  *botuser.Service
}

func newEnv(t testing.TB, opts ...rbac.Option) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := memstore.New(memstore.WithClock(clk.Now))
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		t.Fatal(err)
	}
	authz := rbac.New(st, plans, append([]rbac.Option{rbac.WithClock(clk)}, opts...)...)
	return &env{
		t: t, ctx: t.Context(), clk: clk, st: st, plans: plans, authz: authz,
		dir:  identity.New(st, plans, authz, identity.WithClock(clk)),
		bots: botuser.New(st, authz, botuser.WithClock(clk)),
	}
}

// run starts the authorizer's feed follower for the test's lifetime and waits until its
// cache is on.
func (e *env) run() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.authz.Run(ctx)
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	e.sync()
	if !e.authz.Caching() {
		e.t.Fatal("cache still off after Sync")
	}
}

func (e *env) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	if err := e.authz.Sync(ctx); err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
}

func (e *env) account(founderEmail, plan string) (store.Account, identity.Principal) {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, founderEmail, "")
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.dir.CreateAccount(e.ctx, u.ID, "acct", plan)
	if err != nil {
		e.t.Fatal(err)
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

// member adds a new user directly with roles, on the authority of admin.
func (e *env) member(admin identity.Principal, email string, roles ...string) identity.Principal {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dir.AddMember(e.ctx, admin, admin.AccountID, u.ID, roles); err != nil {
		e.t.Fatalf("AddMember(%s, %v): %v", email, roles, err)
	}
	return e.principal(admin.AccountID, u.ID)
}

func (e *env) bot(admin identity.Principal, name string, roles ...string) identity.Principal {
	e.t.Helper()
	b, err := e.bots.Create(e.ctx, admin, admin.AccountID, botuser.CreateParams{Name: name, Roles: roles})
	if err != nil {
		e.t.Fatalf("Create bot: %v", err)
	}
	return e.principal(admin.AccountID, b.ID)
}

func (e *env) check(p identity.Principal, perm rbac.Permission) rbac.Decision {
	e.t.Helper()
	d, err := e.authz.Check(e.ctx, p, p.AccountID, perm)
	if err != nil {
		e.t.Fatalf("Check: %v", err)
	}
	return d
}

// denied asserts err is a *rbac.DeniedError with reason.
func denied(t *testing.T, err error, reason rbac.Reason) {
	t.Helper()
	var de *rbac.DeniedError
	if !errors.As(err, &de) || !errors.Is(err, rbac.ErrDenied) || de.Reason != reason {
		t.Fatalf("error = %v, want a DeniedError for %q", err, reason)
	}
}
