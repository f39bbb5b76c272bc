package botuser_test

import (
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/store"
)

// TestNames_RefuseInvisibleAndInvalid: bot user names follow identity.CheckName on create
// and on rename, and a refused name writes nothing.
func TestNames_RefuseInvisibleAndInvalid(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "ci")
	for _, c := range testenv.BadNames() {
		t.Run(c.Class, func(t *testing.T) {
			_, err := e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: c.Name})
			wantName(t, "Create", err)
			name := c.Name
			_, err = e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Name: &name})
			wantName(t, "Update", err)
		})
	}
	bots, err := e.bots.List(e.Ctx, admin, store.Page{Limit: 100})
	if err != nil || len(bots) != 1 || bots[0].Name != "ci" {
		t.Fatalf("refused names changed the bot users: %d bots (%v)", len(bots), err)
	}
	for _, name := range testenv.GoodNames() {
		if name != "ci" {
			e.create(admin, name)
		}
	}
}

func wantName(t *testing.T, what string, err error) {
	t.Helper()
	if invalidField(err) != "name" {
		t.Errorf("%s: error %v, want an invalid-argument error on name", what, err)
	}
}

// TestNames_EmailLikeNamesAreCanonical: a bot user name that looks like an email address
// (it holds an @, fullwidth or small @ included) must be one in the canonical form of
// identity.NormalizeEmail, so that the SSO check "no user may log in under a bot user's
// name" compares canonical forms and no look-alike or case variant slips past it.
func TestNames_EmailLikeNamesAreCanonical(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "deploy")
	bad := []string{"CI@Example.com", "ci@example.com ", "ci\uff20example.com", "ci\ufe6bexample.com", "ci@"}
	for _, c := range testenv.LookalikeEmails() {
		bad = append(bad, c.Email)
	}
	for _, name := range bad {
		_, err := e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: name})
		wantName(t, "Create("+name+")", err)
		n := name
		_, err = e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Name: &n})
		wantName(t, "Update("+name+")", err)
	}
	for _, name := range []string{"ci@example.com", "deploy+prod@example.com", "release bot @ HQ"} {
		e.create(admin, name)
	}
}
