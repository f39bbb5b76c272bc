package botuser_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

func TestCreate_Validation(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("a@example.com", "payg")
	e.create(admin, "ci")
	elsewhere := admin
	elsewhere.AccountID = admin.ID // a principal whose account is no account ID
	for _, c := range []struct {
		name  string
		by    identity.Principal
		field string
		code  string
	}{
		{"", admin, "name", store.CodeRequired},
		{strings.Repeat("x", 256), admin, "name", store.CodeTooLong},
		{"ok", elsewhere, "principal.account_id", store.CodeInvalidValue},
		{"ci", admin, "name", botuser.CodeNameTaken},
	} {
		_, err := e.bots.Create(e.Ctx, c.by, botuser.CreateParams{Name: c.name})
		var se *store.Error
		if !errors.As(err, &se) || se.Code != c.code || se.Field != c.field {
			t.Errorf("Create(%.10q): %v, want code %s on %s", c.name, err, c.code, c.field)
		}
	}
	_, err := e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: strings.Repeat("x", 256)})
	var se *store.Error
	if !errors.As(err, &se) || se.Limit != botuser.MaxNameLen {
		t.Errorf("length error does not name the limit: %v", err)
	}
	_, err = e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: "ci"})
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
	_, err = e.bots.Update(e.Ctx, admin, other.ID, botuser.UpdateParams{Name: &taken})
	if store.CodeOf(err) != botuser.CodeNameTaken {
		t.Errorf("rename to a taken name: %v", err)
	}
	// Wrong ID prefixes are refused before any lookup.
	_, err = e.bots.Get(e.Ctx, admin, admin.ID)
	if invalidField(err) != "bot_user_id" {
		t.Errorf("Get(user ID): %v", err)
	}
	_, err = e.bots.List(e.Ctx, admin, store.Page{Limit: 1001})
	if invalidField(err) != "limit" {
		t.Errorf("List(limit 1001): %v", err)
	}
}

// Only principals with bot_users:write (administrators by default) create, update or
// delete bot users.
func TestOnlyBotManagersWrite(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "enterprise")
	botAdmin, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "bot-admin", Permissions: []rbac.Permission{rbac.BotUsersWrite, rbac.BotUsersRead}})
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
			_, errCreate := e.bots.Create(e.Ctx, c.p, botuser.CreateParams{Name: "by " + c.name})
			_, errUpdate := e.bots.Update(e.Ctx, c.p, target.ID, botuser.UpdateParams{Active: &off})
			errDelete := e.bots.Delete(e.Ctx, c.p, target.ID)
			for op, err := range map[string]error{"create": errCreate, "update": errUpdate, "delete": errDelete} {
				if c.ok && err != nil {
					t.Errorf("%s refused: %v", op, err)
				}
				if _, perm := denial(err); !c.ok && perm != "bot_users:write" {
					t.Errorf("%s: %v, want a denial of bot_users:write", op, err)
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
	_, admin := e.Account("a@example.com", "payg")
	var made []string
	for i := range 7 {
		made = append(made, e.create(admin, "bot-"+string(rune('a'+i))).ID)
	}
	var got []string
	p := store.Page{Limit: 3}
	for {
		page, err := e.bots.List(e.Ctx, admin, p)
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
	_, admin := e.Account("a@example.com", "enterprise")
	bot := e.create(admin, "ci")
	roles := []string{rbac.RoleTeamManager, rbac.RoleDeveloperReadOnly}
	got, err := e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Roles: &roles})
	if err != nil || len(got.Roles) != 2 {
		t.Fatalf("Update roles = %+v, %v", got, err)
	}
	// A bot manager who lacks members:manage cannot hand team_manager to a bot.
	r, _ := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "bots", Permissions: []rbac.Permission{rbac.BotUsersWrite}})
	mgr := e.Member(admin, "mgr@example.com", r.ID, rbac.RoleDeveloper)
	_, err = e.bots.Create(e.Ctx, mgr, botuser.CreateParams{Name: "manager", Roles: []string{rbac.RoleTeamManager}})
	if code, _ := denial(err); code != rbac.CodeExceedsGrantor {
		t.Fatalf("granting team_manager without holding it: %v", err)
	}
	// Billing is no service user's role, whoever grants it.
	_, err = e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Roles: &[]string{rbac.RoleBilling}})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("giving a bot user the billing role: %v", err)
	}
	// Clearing roles returns the bot to the developer default.
	none := []string{}
	got, err = e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Roles: &none})
	if err != nil || len(got.Roles) != 0 {
		t.Fatalf("clear roles = %+v, %v", got, err)
	}
}

func TestPlanWithoutBotUsers(t *testing.T) {
	e := newEnv(t)
	plans, _ := identity.NewCatalog(identity.Plan{Name: "nobots", Seats: 1})
	authz := testenv.Authz(t, e.Store, plans)
	dir := testenv.Directory(t, e.Store, authz)
	u, _ := dir.CreateUser(e.Ctx, "a@example.com", "")
	a, _ := dir.CreateAccount(e.Ctx, u.ID, "a", "nobots")
	p, _ := dir.Principal(e.Ctx, a.ID, u.ID, identity.SourceAPI, "")
	bots, err := botuser.New(e.Store, authz)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bots.Create(e.Ctx, p, botuser.CreateParams{Name: "ci"})
	var se *store.Error
	if !errors.As(err, &se) || !errors.Is(err, store.ErrFeatureUnavailable) || se.Field != string(identity.FeatureBotUsers) {
		t.Fatalf("bot on a plan without bot users: %v", err)
	}
}

// TestReads_NeedBotUsersRead: Get and List are authorized like writes: bot_users:read.
func TestReads_NeedBotUsersRead(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("a@example.com", "enterprise")
	bot := e.create(admin, "ci")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloperReadOnly) // bot_users:read
	tm := e.Member(admin, "tm@example.com", rbac.RoleTeamManager)         // no bot_users:read
	for _, p := range []identity.Principal{admin, dev} {
		if _, err := e.bots.Get(e.Ctx, p, bot.ID); err != nil {
			t.Errorf("Get by %s: %v", p.Subject, err)
		}
		if bs, err := e.bots.List(e.Ctx, p, store.Page{Limit: 10}); err != nil || len(bs) != 1 {
			t.Errorf("List by %s: %d, %v", p.Subject, len(bs), err)
		}
	}
	_, err := e.bots.Get(e.Ctx, tm, bot.ID)
	if code, perm := denial(err); code != rbac.CodeNoRole || perm != "bot_users:read" {
		t.Errorf("Get by a team manager: %v", err)
	}
	_, err = e.bots.List(e.Ctx, tm, store.Page{Limit: 10})
	if code, perm := denial(err); code != rbac.CodeNoRole || perm != "bot_users:read" {
		t.Errorf("List by a team manager: %v", err)
	}
}

// TestBotUserObject_IsTheAPIResource checks the bot user's public representation.
func TestBotUserObject_IsTheAPIResource(t *testing.T) {
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 678, time.UTC)
	obj := botuser.BotUserObjectOf(store.BotUser{ID: "bot_1", AccountID: "ac_1", Name: "ci", Roles: []string{"developer"}, CreatedAt: epoch})
	got, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"bot_1","name":"ci","active":false,"created_at":"2025-01-02T03:04:05Z","roles":["developer"]}`
	if string(got) != want || obj.Resource() != identity.ResourceBotUser {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestNew_RefusesMissingParts: the constructor validates instead of panicking.
func TestNew_RefusesMissingParts(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		field string
		new   func() (*botuser.Service, error)
	}{
		{"store", func() (*botuser.Service, error) { return botuser.New(nil, e.Authz) }},
		{"authorizer", func() (*botuser.Service, error) { return botuser.New(e.Store, nil) }},
		{"clock", func() (*botuser.Service, error) { return botuser.New(e.Store, e.Authz, botuser.WithClock(nil)) }},
		{"revocation_wait", func() (*botuser.Service, error) {
			return botuser.New(e.Store, e.Authz, botuser.WithRevocationWait(-1))
		}},
		{"revocation_wait", func() (*botuser.Service, error) {
			return botuser.New(e.Store, e.Authz, botuser.WithRevocationWait(identity.MaxRevocationWait+1))
		}},
	} {
		if s, err := c.new(); s != nil || invalidField(err) != c.field {
			t.Errorf("New without %s: %v, %v", c.field, s, err)
		}
	}
}
