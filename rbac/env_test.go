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
	"github.com/iamkit/iamkit/store"
)

var epoch = testenv.Epoch()

// env is the shared fixture and a bot user service.
type env struct {
	*testenv.Env
	bots *botuser.Service
}

func newEnv(t testing.TB, opts ...rbac.Option) *env {
	t.Helper()
	return newEnvWith(t, nil, opts...)
}

// newEnvWith is newEnv with extra plans in the catalog.
func newEnvWith(t testing.TB, extra []identity.Plan, opts ...rbac.Option) *env {
	t.Helper()
	b := testenv.New(t, extra, opts...)
	bots, err := botuser.New(b.Store, b.Authz, botuser.WithClock(b.Clock))
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: b, bots: bots}
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
	b, err := e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: name, Roles: roles})
	if err != nil {
		e.T.Fatalf("Create bot: %v", err)
	}
	return e.Principal(admin.AccountID, b.ID)
}

func (e *env) check(p identity.Principal, perm rbac.Permission) rbac.Decision {
	e.T.Helper()
	d, err := e.Authz.Check(e.Ctx, p, perm)
	if err != nil {
		e.T.Fatalf("Check: %v", err)
	}
	return d
}

// denied asserts err is a denial (store.ErrDenied) with reason's code.
func denied(t *testing.T, err error, reason rbac.Reason) {
	t.Helper()
	if !errors.Is(err, store.ErrDenied) || store.CodeOf(err) != reason.Code() {
		t.Fatalf("error = %v, want a denial with code %s (%s)", err, reason.Code(), reason)
	}
}

// denial returns the code and permission of an error matching store.ErrDenied, or "", "".
func denial(err error) (code, perm string) {
	var se *store.Error
	if !errors.Is(err, store.ErrDenied) || !errors.As(err, &se) {
		return "", ""
	}
	return se.Code, se.Field
}

// invalidField returns the field an error matching store.ErrInvalid names, or "" for any
// other error.
func invalidField(err error) string {
	var se *store.Error
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) {
		return ""
	}
	return se.Field
}

// builtins is the registry of the built-in permissions alone.
func builtins(t testing.TB) *rbac.Permissions {
	t.Helper()
	ps, err := rbac.NewPermissions()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
