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
	return &env{Env: b, bots: botuser.New(b.Store, b.Authz, botuser.WithClock(b.Clock))}
}

// create creates a bot user. It first steps the fake clock: IDs from different services'
// generators (the directory's, the bot service's) sort in creation order only to the
// microsecond, and a clock that stands still would leave events of both in one.
func (e *env) create(by identity.Principal, name string) store.BotUser {
	e.T.Helper()
	e.Clock.Advance(time.Millisecond)
	b, err := e.bots.Create(e.Ctx, by, by.AccountID, botuser.CreateParams{Name: name})
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
