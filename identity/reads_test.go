package identity_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestReads_AreAuthorized: every read of the Directory checks the reader's permission, as
// writes do: account:read for the account, its plan and seats, members:read for members,
// their users and invitations. A denial names the permission.
func TestReads_AreAuthorized(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)          // account:read, no members:read
	billing := e.Member(admin, "billing@example.com", rbac.RoleBilling)    // account:read
	reader := e.Member(admin, "reader@example.com", rbac.RoleTeamReadOnly) // members:read
	inv, err := e.Dir.Invite(e.Ctx, admin, "new@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	page := store.Page{Limit: 10}
	reads := []struct {
		name string
		perm string
		read func(by identity.Principal) error
	}{
		{"Account", "account:read", func(by identity.Principal) error { _, err := e.Dir.Account(e.Ctx, by); return err }},
		{"Plan", "account:read", func(by identity.Principal) error { _, err := e.Dir.Plan(e.Ctx, by); return err }},
		{"Seats", "account:read", func(by identity.Principal) error { _, err := e.Dir.Seats(e.Ctx, by); return err }},
		{"Members", "members:read", func(by identity.Principal) error { _, err := e.Dir.Members(e.Ctx, by, page); return err }},
		{"Member", "members:read", func(by identity.Principal) error { _, err := e.Dir.Member(e.Ctx, by, admin.ID); return err }},
		{"User", "members:read", func(by identity.Principal) error { _, err := e.Dir.User(e.Ctx, by, admin.ID); return err }},
		{"Invitation", "members:read", func(by identity.Principal) error { _, err := e.Dir.Invitation(e.Ctx, by, inv.ID); return err }},
		{"Invitations", "members:read", func(by identity.Principal) error { _, err := e.Dir.Invitations(e.Ctx, by, page); return err }},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			for _, by := range []identity.Principal{admin, dev, billing, reader} {
				err := r.read(by)
				mayRead := by == admin || r.perm == "account:read" || by == reader
				var se *store.Error
				switch {
				case mayRead && err != nil:
					t.Errorf("%s: %v", by.Subject, err)
				case !mayRead && (!errors.As(err, &se) || !errors.Is(err, store.ErrDenied) || se.Field != r.perm || se.Code != rbac.CodeNoRole):
					t.Errorf("%s: %v, want a denial of %s", by.Subject, err, r.perm)
				}
			}
		})
	}
}

// TestReads_SelfReadRule: a member may always read its own membership and its own user,
// whatever its roles, even while disabled; not another's.
func TestReads_SelfReadRule(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	if m, err := e.Dir.Member(e.Ctx, dev, dev.ID); err != nil || m.UserID != dev.ID {
		t.Fatalf("own membership: %+v, %v", m, err)
	}
	if u, err := e.Dir.User(e.Ctx, dev, dev.ID); err != nil || u.Email != "dev@example.com" {
		t.Fatalf("own user: %+v, %v", u, err)
	}
	if _, err := e.Dir.DisableMember(e.Ctx, admin, dev.ID); err != nil {
		t.Fatal(err)
	}
	if m, err := e.Dir.Member(e.Ctx, dev, dev.ID); err != nil || m.Status != store.MemberDisabled {
		t.Fatalf("own membership while disabled: %+v, %v", m, err)
	}
	if _, err := e.Dir.Member(e.Ctx, dev, admin.ID); !errors.Is(err, store.ErrDenied) {
		t.Fatalf("another's membership: %v, want a denial", err)
	}
	// A bot user has no membership to read: it is not a user.
	bot := dev
	bot.Kind, bot.ID = identity.KindBotUser, "bot_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	if _, err := e.Dir.Member(e.Ctx, bot, bot.ID); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a bot's membership: %v, want the user_id refused", err)
	}
}

// TestReads_UserOutsideTheAccountIsNotFound: members:read reads the users of the reader's
// account only; users are global, but a reader learns nothing of others.
func TestReads_UserOutsideTheAccountIsNotFound(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	_, other := e.Account("other@example.com", "payg")
	if _, err := e.Dir.User(e.Ctx, admin, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a user of another account: %v, want ErrNotFound", err)
	}
}
