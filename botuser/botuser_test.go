package botuser_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

func TestCreate_Validation(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	e.create(admin, "ci")
	for _, c := range []struct {
		name, account, field string
		target               error
	}{
		{"", a.ID, "name", identity.ErrInvalid},
		{strings.Repeat("x", 256), a.ID, "name", identity.ErrInvalid},
		{"ok", admin.ID, "account_id", identity.ErrInvalid},
		{"ci", a.ID, "", botuser.ErrNameTaken},
	} {
		_, err := e.bots.Create(e.Ctx, admin, c.account, botuser.CreateParams{Name: c.name})
		if !errors.Is(err, c.target) {
			t.Errorf("Create(%.10q): %v, want %v", c.name, err, c.target)
			continue
		}
		var ve *identity.ValidationError
		if c.field != "" && (!errors.As(err, &ve) || ve.Field != c.field) {
			t.Errorf("Create(%.10q): %v, want field %s", c.name, err, c.field)
		}
	}
	_, err := e.bots.Create(e.Ctx, admin, a.ID, botuser.CreateParams{Name: strings.Repeat("x", 256)})
	if !strings.Contains(err.Error(), "255 bytes at most, got 256") {
		t.Errorf("length error does not name the limit: %v", err)
	}
	_, err = e.bots.Create(e.Ctx, admin, a.ID, botuser.CreateParams{Name: "ci"})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name should match store.ErrConflict: %v", err)
	}
	// Exactly 255 bytes is fine; the same name in another account too.
	e.create(admin, strings.Repeat("x", 255))
	_, adminB := e.Account("b@example.com", "payg")
	e.create(adminB, "ci")
	// Renaming onto a taken name fails.
	other := e.create(admin, "other")
	taken := "ci"
	_, err = e.bots.Update(e.Ctx, admin, a.ID, other.ID, botuser.UpdateParams{Name: &taken})
	if !errors.Is(err, botuser.ErrNameTaken) {
		t.Errorf("rename to a taken name: %v", err)
	}
	// Wrong ID prefixes are refused before any lookup.
	_, err = e.bots.Get(e.Ctx, a.ID, admin.ID)
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || ve.Field != "bot_user_id" {
		t.Errorf("Get(user ID): %v", err)
	}
	_, err = e.bots.List(e.Ctx, a.ID, store.Page{Limit: 1001})
	if !errors.As(err, &ve) || ve.Field != "limit" {
		t.Errorf("List(limit 1001): %v", err)
	}
}

// Only principals with bot_users:write (administrators by default) create, update or
// delete bot users.
func TestOnlyBotManagersWrite(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "enterprise")
	botAdmin, err := e.Authz.CreateRole(e.Ctx, admin, a.ID, rbac.RoleSpec{Name: "bot-admin", Permissions: []rbac.Permission{rbac.BotUsersWrite, rbac.BotUsersRead}})
	if err != nil {
		t.Fatal(err)
	}
	target := e.create(admin, "target")
	ci := e.Principal(a.ID, e.create(admin, "ci").ID)
	for _, c := range []struct {
		name string
		p    identity.Principal
		ok   bool
	}{
		{"administrator", admin, true},
		{"custom role with bot_users:write", e.Member(admin, "bots@example.com", botAdmin.ID), true},
		{"developer", e.Member(admin, "dev@example.com", rbac.RoleDeveloper), false},
		{"team manager", e.Member(admin, "tm@example.com", rbac.RoleTeamManager, rbac.RoleDeveloper, rbac.RoleBilling), false},
		{"bot user", ci, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			off := false
			_, errCreate := e.bots.Create(e.Ctx, c.p, a.ID, botuser.CreateParams{Name: "by " + c.name})
			_, errUpdate := e.bots.Update(e.Ctx, c.p, a.ID, target.ID, botuser.UpdateParams{Active: &off})
			errDelete := e.bots.Delete(e.Ctx, c.p, a.ID, target.ID)
			for op, err := range map[string]error{"create": errCreate, "update": errUpdate, "delete": errDelete} {
				if c.ok && err != nil {
					t.Errorf("%s refused: %v", op, err)
				}
				var de *rbac.DeniedError
				if !c.ok && (!errors.As(err, &de) || de.Permission != rbac.BotUsersWrite) {
					t.Errorf("%s: %v, want a DeniedError for bot_users:write", op, err)
				}
			}
			if c.ok {
				target = e.create(admin, "target") // deleted: make another
			}
		})
	}
}

func TestList_NewestFirstInPages(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	var made []string
	for i := range 7 {
		made = append(made, e.create(admin, "bot-"+string(rune('a'+i))).ID)
	}
	var got []string
	p := store.Page{Limit: 3}
	for {
		page, err := e.bots.List(e.Ctx, a.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page {
			got = append(got, b.ID)
		}
		if len(page) < p.Limit {
			break
		}
		p.BeforeID = page[len(page)-1].ID
	}
	if len(got) != len(made) {
		t.Fatalf("listed %d of %d", len(got), len(made))
	}
	for i := range got {
		if got[i] != made[len(made)-1-i] {
			t.Fatalf("order: %v, created %v", got, made)
		}
	}
}

func TestUpdate_RolesFollowGrantRules(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "enterprise")
	bot := e.create(admin, "ci")
	roles := []string{rbac.RoleBilling, rbac.RoleDeveloperReadOnly}
	got, err := e.bots.Update(e.Ctx, admin, a.ID, bot.ID, botuser.UpdateParams{Roles: &roles})
	if err != nil || len(got.Roles) != 2 {
		t.Fatalf("Update roles = %+v, %v", got, err)
	}
	// A bot manager who lacks billing cannot hand it to a bot.
	r, _ := e.Authz.CreateRole(e.Ctx, admin, a.ID, rbac.RoleSpec{Name: "bots", Permissions: []rbac.Permission{rbac.BotUsersWrite}})
	mgr := e.Member(admin, "mgr@example.com", r.ID, rbac.RoleDeveloper)
	_, err = e.bots.Create(e.Ctx, mgr, a.ID, botuser.CreateParams{Name: "payer", Roles: []string{rbac.RoleBilling}})
	var de *rbac.DeniedError
	if !errors.As(err, &de) || de.Reason != rbac.ReasonExceedsGrantor {
		t.Fatalf("granting billing without holding it: %v", err)
	}
	// Clearing roles returns the bot to the developer default.
	none := []string{}
	got, err = e.bots.Update(e.Ctx, admin, a.ID, bot.ID, botuser.UpdateParams{Roles: &none})
	if err != nil || len(got.Roles) != 0 {
		t.Fatalf("clear roles = %+v, %v", got, err)
	}
}

func TestPlanWithoutBotUsers(t *testing.T) {
	e := newEnv(t)
	plans, _ := identity.NewCatalog(identity.Plan{Name: "nobots", Seats: 1})
	authz := rbac.New(e.Store, plans)
	dir := identity.New(e.Store, plans, authz)
	u, _ := dir.CreateUser(e.Ctx, "a@example.com", "")
	a, _ := dir.CreateAccount(e.Ctx, u.ID, "a", "nobots")
	p, _ := dir.Principal(e.Ctx, a.ID, u.ID, identity.SourceAPI, "")
	_, err := botuser.New(e.Store, authz).Create(e.Ctx, p, a.ID, botuser.CreateParams{Name: "ci"})
	var fe *identity.FeatureError
	if !errors.As(err, &fe) || fe.Feature != identity.FeatureBotUsers {
		t.Fatalf("bot on a plan without bot users: %v", err)
	}
}
