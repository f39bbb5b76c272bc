package rbac_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
)

var epoch = testenv.Epoch()

// env is the shared fixture and a bot user service.
type env struct {
	*testenv.Env
	bots *botuser.Service
}

func newEnv(t testing.TB, opts ...rbac.Option) *env {
	t.Helper()
	b := testenv.New(t, nil, opts...)
	return &env{Env: b, bots: botuser.New(b.Store, b.Authz, botuser.WithClock(b.Clock))}
}

// run starts the authorizer's feed follower for the test's lifetime and waits until its
// cache is on.
func (e *env) run() {
	e.T.Helper()
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Authz.Run(ctx)
	}()
	e.T.Cleanup(func() { cancel(); <-done })
	e.sync()
	if !e.Authz.Caching() {
		e.T.Fatal("cache still off after Sync")
	}
}

func (e *env) sync() {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx, 5*time.Second)
	defer cancel()
	if err := e.Authz.Sync(ctx); err != nil {
		e.T.Fatalf("Sync: %v", err)
	}
}

func (e *env) bot(admin identity.Principal, name string, roles ...string) identity.Principal {
	e.T.Helper()
	b, err := e.bots.Create(e.Ctx, admin, admin.AccountID, botuser.CreateParams{Name: name, Roles: roles})
	if err != nil {
		e.T.Fatalf("Create bot: %v", err)
	}
	return e.Principal(admin.AccountID, b.ID)
}

func (e *env) check(p identity.Principal, perm rbac.Permission) rbac.Decision {
	e.T.Helper()
	d, err := e.Authz.Check(e.Ctx, p, p.AccountID, perm)
	if err != nil {
		e.T.Fatalf("Check: %v", err)
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
