package botuser_test

import (
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

// env is the shared fixture and the bot user service under test.
type env struct {
	*testenv.Env
	bots *botuser.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	twoSeats := identity.Plan{Name: "two", Seats: 2, Features: []identity.Feature{identity.FeatureBotUsers, identity.FeatureRBAC}}
	b := testenv.New(t, []identity.Plan{twoSeats})
	bots, err := botuser.New(b.Store, b.Authz, botuser.WithClock(b.Clock))
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: b, bots: bots}
}

// create creates a bot user. It first steps the fake clock: IDs from different services'
// generators (the directory's, the bot service's) sort in creation order only to the
// microsecond, and a clock that stands still would leave events of both in one.
func (e *env) create(by identity.Principal, name string) store.BotUser {
	e.T.Helper()
	e.Clock.Advance(time.Millisecond)
	b, err := e.bots.Create(e.Ctx, by, botuser.CreateParams{Name: name})
	if err != nil {
		e.T.Fatalf("Create(%q): %v", name, err)
	}
	return b
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one matching %v", err, target)
	}
}

// wantCode fails unless err matches kind and has code.
func wantCode(t *testing.T, err, kind error, code string) {
	t.Helper()
	if !errors.Is(err, kind) || store.CodeOf(err) != code {
		t.Fatalf("error = %v (code %q), want one matching %v with code %q", err, store.CodeOf(err), kind, code)
	}
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

// denial returns the code and permission of an error matching store.ErrDenied, or "", "".
func denial(err error) (code, perm string) {
	var se *store.Error
	if !errors.Is(err, store.ErrDenied) || !errors.As(err, &se) {
		return "", ""
	}
	return se.Code, se.Field
}
