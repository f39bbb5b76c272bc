package rbac_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

func TestPermissions_RoundTrip(t *testing.T) {
	ps := builtins(t)
	for _, p := range ps.All() {
		q, err := ps.Lookup(ps.Name(p))
		if err != nil || q != p {
			t.Errorf("Lookup(%q) = %v, %v", ps.Name(p), q, err)
		}
	}
	if _, err := ps.Lookup("credentials:fly"); !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != rbac.CodeUnknownPermission {
		t.Errorf("unknown permission: %v", err)
	}
	if s := rbac.SetOf(rbac.CredentialsRead, rbac.MembersInvite); !slices.Equal(ps.Names(s), []string{"members:invite", "credentials:read"}) || s.Len() != 2 {
		t.Errorf("Names = %v", ps.Names(s))
	}
	if ps.AllSet().Len() != len(ps.All()) || len(ps.All()) != 18 {
		t.Errorf("All has %d permissions", ps.AllSet().Len())
	}
}

// The built-in roles grant exactly what their ngrok counterparts do.
func TestBuiltinRoles(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "enterprise")
	R, W := rbac.CredentialsRead, rbac.CredentialsWrite
	ps := builtins(t)
	want := map[string]rbac.Set{
		rbac.RoleAdministrator:     ps.AllSet(),
		rbac.RoleDeveloper:         rbac.SetOf(rbac.AccountRead, rbac.BotUsersRead, R, W, rbac.EventsRead, rbac.TunnelStart),
		rbac.RoleDeveloperReadOnly: rbac.SetOf(rbac.AccountRead, rbac.BotUsersRead, R, rbac.EventsRead, rbac.TunnelStart),
		rbac.RoleTeamManager:       rbac.SetOf(rbac.AccountRead, rbac.MembersRead, rbac.MembersInvite, rbac.MembersManage, rbac.RolesRead),
		rbac.RoleTeamInvite:        rbac.SetOf(rbac.AccountRead, rbac.MembersRead, rbac.MembersInvite, rbac.RolesRead),
		rbac.RoleTeamReadOnly:      rbac.SetOf(rbac.AccountRead, rbac.MembersRead, rbac.RolesRead),
		rbac.RoleBilling:           rbac.SetOf(rbac.AccountRead, rbac.BillingRead, rbac.BillingManage),
	}
	if len(rbac.BuiltinRoles()) != len(want) {
		t.Fatalf("%d built-in roles", len(rbac.BuiltinRoles()))
	}
	for i, b := range rbac.BuiltinRoles() {
		p := admin
		if b.Name != rbac.RoleAdministrator {
			p = e.Member(admin, b.Name+"@example.com", b.Name)
		}
		for _, perm := range ps.All() {
			d := e.check(p, perm)
			if d.Allowed != want[b.Name].Has(perm) {
				t.Errorf("%s %s: %v", b.Name, d.Name, d)
			}
			if d.Allowed && d.Role != b.Name {
				t.Errorf("%s %s granted by %q", b.Name, d.Name, d.Role)
			}
		}
		_ = i
	}
}

func TestCheck_DenyReasons(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	gone := e.Member(admin, "gone@example.com", rbac.RoleDeveloper)
	if err := e.Dir.RemoveMember(e.Ctx, admin, gone.ID); err != nil {
		t.Fatal(err)
	}
	off := e.Member(admin, "off@example.com", rbac.RoleDeveloper)
	if _, err := e.Dir.DisableMember(e.Ctx, admin, off.ID); err != nil {
		t.Fatal(err)
	}
	ghost := dev
	ghost.AccountID = "ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"

	for _, c := range []struct {
		name string
		p    identity.Principal
		perm rbac.Permission
		want rbac.Reason
	}{
		{"no role", dev, rbac.MembersInvite, rbac.ReasonNoRole},
		{"removed member", gone, rbac.CredentialsRead, rbac.ReasonNotMember},
		{"disabled member", off, rbac.CredentialsRead, rbac.ReasonInactive},
		{"no account", ghost, rbac.CredentialsRead, rbac.ReasonNoAccount},
		{"not in plan", admin, rbac.SSOManage, rbac.ReasonNotInPlan},
	} {
		d, err := e.Authz.Check(e.Ctx, c.p, c.perm)
		if err != nil || d.Allowed || d.Reason != c.want {
			t.Errorf("%s: %v, %v; want deny for %q", c.name, d, err, c.want)
		}
		err = e.Authz.Require(e.Ctx, c.p, c.perm)
		if code, perm := denial(err); code != c.want.Code() || perm != e.Authz.Permissions().Name(c.perm) {
			t.Errorf("%s: Require = %v", c.name, err)
		}
	}
	// The account is always the principal's: a change whose account is another's is
	// refused as such by the Guard.
	b, _ := e.Account("other@example.com", "payg")
	err := e.Store.View(e.Ctx, func(r store.Reader) error {
		return e.Authz.Permit(e.Ctx, r, identity.Change{Op: identity.OpReadMembers, By: dev, Account: b})
	})
	denied(t, err, rbac.ReasonOtherAccount)
	_ = a
	if err := e.Authz.Require(e.Ctx, dev, rbac.CredentialsWrite); err != nil {
		t.Errorf("Require allowed: %v", err)
	}
	if _, err := e.Authz.Check(e.Ctx, dev, rbac.Permission(200)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown permission: %v", err)
	}
	bad := dev
	bad.ID = "inv_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	if _, err := e.Authz.Check(e.Ctx, bad, rbac.CredentialsRead); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("invitation ID as principal: %v", err)
	}
}

// Rule: nobody invites or grants with more permissions than they hold.
func TestRule_NoGrantBeyondOwnPermissions(t *testing.T) {
	for _, c := range []struct {
		name   string
		actor  []string
		grant  []string
		op     string // invite, add, set
		reason rbac.Reason
		ok     bool
	}{
		{"manager grants developer it holds", []string{rbac.RoleTeamManager, rbac.RoleDeveloper}, []string{rbac.RoleDeveloper}, "set", 0, true},
		{"manager grants billing it lacks", []string{rbac.RoleTeamManager, rbac.RoleDeveloper}, []string{rbac.RoleBilling}, "set", rbac.ReasonExceedsGrantor, false},
		{"inviter invites as read-only dev", []string{rbac.RoleTeamInvite, rbac.RoleDeveloper}, []string{rbac.RoleDeveloperReadOnly}, "invite", 0, true},
		{"inviter invites as team manager", []string{rbac.RoleTeamInvite, rbac.RoleDeveloper}, []string{rbac.RoleTeamManager}, "invite", rbac.ReasonExceedsGrantor, false},
		{"read-only dev invites read/write dev", []string{rbac.RoleTeamInvite, rbac.RoleDeveloperReadOnly}, []string{rbac.RoleDeveloper}, "invite", rbac.ReasonExceedsGrantor, false},
		{"default roles exceed the inviter", []string{rbac.RoleTeamInvite}, nil, "invite", rbac.ReasonExceedsGrantor, false},
		{"manager adds with roles it holds", []string{rbac.RoleTeamManager, rbac.RoleBilling}, []string{rbac.RoleBilling, rbac.RoleTeamReadOnly}, "add", 0, true},
		{"manager adds with roles it lacks", []string{rbac.RoleTeamManager}, []string{rbac.RoleDeveloper}, "add", rbac.ReasonExceedsGrantor, false},
		{"read-only team member cannot invite", []string{rbac.RoleTeamReadOnly, rbac.RoleDeveloper}, []string{rbac.RoleDeveloperReadOnly}, "invite", rbac.ReasonNoRole, false},
		{"inviter cannot change roles", []string{rbac.RoleTeamInvite, rbac.RoleDeveloper}, []string{rbac.RoleDeveloperReadOnly}, "set", rbac.ReasonNoRole, false},
		{"developer cannot add members", []string{rbac.RoleDeveloper}, []string{rbac.RoleDeveloperReadOnly}, "add", rbac.ReasonNoRole, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			_, admin := e.Account("admin@example.com", "payg")
			actor := e.Member(admin, "actor@example.com", c.actor...)
			target := e.Member(admin, "target@example.com", rbac.RoleDeveloperReadOnly)
			var err error
			switch c.op {
			case "invite":
				_, err = e.Dir.Invite(e.Ctx, actor, "new@example.com", c.grant)
			case "add":
				u, _ := e.Dir.CreateUser(e.Ctx, "new@example.com", "")
				_, err = e.Dir.AddMember(e.Ctx, actor, u.ID, c.grant)
			case "set":
				_, err = e.Dir.SetMemberRoles(e.Ctx, actor, target.ID, c.grant)
			}
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			denied(t, err, c.reason)
		})
	}
}

// Rule: only administrators invite, grant or change administrators.
func TestRule_OnlyAdministratorsGrantAdministrator(t *testing.T) {
	all := []string{rbac.RoleTeamManager, rbac.RoleDeveloper, rbac.RoleBilling}
	for _, c := range []struct {
		name  string
		admin bool // the actor is an administrator
		op    func(e *env, actor, targetAdmin, targetDev identity.Principal) error
	}{
		{"invite an administrator", false, func(e *env, actor, _, _ identity.Principal) error {
			_, err := e.Dir.Invite(e.Ctx, actor, "new@example.com", []string{rbac.RoleAdministrator})
			return err
		}},
		{"grant administrator", false, func(e *env, actor, _, dev identity.Principal) error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, actor, dev.ID, []string{rbac.RoleAdministrator})
			return err
		}},
		{"change an administrator's roles", false, func(e *env, actor, adm, _ identity.Principal) error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, actor, adm.ID, []string{rbac.RoleDeveloper})
			return err
		}},
		{"disable an administrator", false, func(e *env, actor, adm, _ identity.Principal) error {
			_, err := e.Dir.DisableMember(e.Ctx, actor, adm.ID)
			return err
		}},
		{"remove an administrator", false, func(e *env, actor, adm, _ identity.Principal) error {
			return e.Dir.RemoveMember(e.Ctx, actor, adm.ID)
		}},
		{"add an administrator", false, func(e *env, actor, _, _ identity.Principal) error {
			u, _ := e.Dir.CreateUser(e.Ctx, "new@example.com", "")
			_, err := e.Dir.AddMember(e.Ctx, actor, u.ID, []string{rbac.RoleAdministrator})
			return err
		}},
	} {
		for _, isAdmin := range []bool{false, true} {
			name := c.name + " as team manager"
			if isAdmin {
				name = c.name + " as administrator"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				_, founder := e.Account("founder@example.com", "payg")
				roles := all
				if isAdmin {
					roles = []string{rbac.RoleAdministrator}
				}
				actor := e.Member(founder, "actor@example.com", roles...)
				adm := e.Member(founder, "admin2@example.com", rbac.RoleAdministrator)
				dev := e.Member(founder, "dev@example.com", rbac.RoleDeveloper)
				err := c.op(e, actor, adm, dev)
				if isAdmin {
					if err != nil {
						t.Fatalf("administrator refused: %v", err)
					}
					return
				}
				denied(t, err, rbac.ReasonAdminOnly)
			})
		}
	}
}

// Rule: the last administrator cannot be removed, disabled or demoted, not even by itself.
func TestRule_LastAdministratorStays(t *testing.T) {
	for _, c := range []struct {
		name string
		op   func(e *env, admin identity.Principal) error
	}{
		{"remove", func(e *env, admin identity.Principal) error {
			return e.Dir.RemoveMember(e.Ctx, admin, admin.ID)
		}},
		{"disable", func(e *env, admin identity.Principal) error {
			_, err := e.Dir.DisableMember(e.Ctx, admin, admin.ID)
			return err
		}},
		{"demote", func(e *env, admin identity.Principal) error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, admin, admin.ID, []string{rbac.RoleTeamManager})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			_, admin := e.Account("admin@example.com", "payg")
			// A disabled second administrator does not count.
			other := e.Member(admin, "other@example.com", rbac.RoleAdministrator)
			if _, err := e.Dir.DisableMember(e.Ctx, admin, other.ID); err != nil {
				t.Fatal(err)
			}
			if err := c.op(e, admin); store.CodeOf(err) != identity.CodeLastAdministrator {
				t.Fatalf("error = %v, want ErrLastAdministrator", err)
			}
		})
	}
}

// Invariant 4 (the part RBAC owns): only an administrator may name another owner for a
// credential, and only on plans with owner assignment.
func TestInvariant4_OnlyAdministratorsAssignCredentialOwners(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper, rbac.RoleTeamManager, rbac.RoleBilling)
	bot := e.bot(admin, "ci")
	if d := e.check(admin, rbac.CredentialsAssignOwner); !d.Allowed {
		t.Errorf("admin: %v", d)
	}
	for _, p := range []identity.Principal{dev, bot} {
		if d := e.check(p, rbac.CredentialsAssignOwner); d.Allowed || d.Reason != rbac.ReasonNoRole {
			t.Errorf("%s: %v", p.Subject, d)
		}
	}
	// No custom role can carry it.
	_, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "owners", Permissions: []rbac.Permission{rbac.CredentialsAssignOwner}})
	if !errors.Is(err, store.ErrInvalid) && store.CodeOf(err) != identity.CodeFeatureUnavailable {
		t.Errorf("custom role with assign_owner: %v", err)
	}
	// A plan without the feature denies it even to administrators.
	_, freeAdmin := e.Account("free@example.com", "free")
	if d := e.check(freeAdmin, rbac.CredentialsAssignOwner); d.Allowed || d.Reason != rbac.ReasonNotInPlan {
		t.Errorf("free admin: %v", d)
	}
}

// Invariant 9: RBAC is a plan feature. Without it every member is an administrator (as on
// ngrok's plans without RBAC) and bot users are developers.
func TestInvariant9_WithoutRBACEveryMemberIsAdministrator(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "free")
	_, err := e.Dir.Invite(e.Ctx, admin, "b@example.com", []string{rbac.RoleDeveloper})
	if store.CodeOf(err) != identity.CodeFeatureUnavailable {
		t.Fatalf("roles on a plan without RBAC: %v", err)
	}
	// Give the account seats: an embedder's own plan without RBAC, with three seats.
	plans, _ := identity.NewCatalog(identity.Plan{Name: "starter", Seats: 3, Features: []identity.Feature{identity.FeatureBotUsers}}, identity.Free())
	authz := testenv.Authz(t, e.Store, plans)
	dir := testenv.Directory(t, e.Store, authz)
	if _, err := dir.ChangePlan(e.Ctx, admin, "starter"); err != nil {
		t.Fatal(err)
	}
	u, _ := dir.CreateUser(e.Ctx, "b@example.com", "")
	m, err := dir.AddMember(e.Ctx, admin, u.ID, nil)
	if err != nil || !identity.IsAdministrator(m.Roles) {
		t.Fatalf("member on a plan without RBAC: %+v, %v", m, err)
	}
	p := e.Principal(a.ID, u.ID)
	for _, perm := range []rbac.Permission{rbac.MembersManage, rbac.BillingManage, rbac.RolesRead, rbac.CredentialsWrite} {
		if d, _ := authz.Check(e.Ctx, p, perm); !d.Allowed {
			t.Errorf("member %s: %v", d.Name, d)
		}
	}
	// Roles a downgraded account had stored do not matter: members act as administrators.
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error {
		m.Roles = []string{rbac.RoleBilling}
		return tx.PutMembership(e.Ctx, m)
	}); err != nil {
		t.Fatal(err)
	}
	if d, _ := authz.Check(e.Ctx, p, rbac.MembersManage); !d.Allowed {
		t.Errorf("downgraded member: %v", d)
	}
	bots, err := botuser.New(e.Store, authz)
	if err != nil {
		t.Fatal(err)
	}
	bot, err := bots.Create(e.Ctx, admin, botuser.CreateParams{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	bp := e.Principal(a.ID, bot.ID)
	if d, _ := authz.Check(e.Ctx, bp, rbac.CredentialsWrite); !d.Allowed || d.Role != rbac.RoleDeveloper {
		t.Errorf("bot on free: %v", d)
	}
	if d, _ := authz.Check(e.Ctx, bp, rbac.MembersRead); d.Allowed {
		t.Errorf("bot reads members: %v", d)
	}
	if _, err := bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Roles: &[]string{rbac.RoleBilling}}); store.CodeOf(err) != identity.CodeFeatureUnavailable {
		t.Errorf("bot roles without RBAC: %v", err)
	}
}

// Invariant 9: custom roles are a plan feature, and behave like built-in ones.
func TestInvariant9_CustomRolesArePlanFeature(t *testing.T) {
	e := newEnv(t)
	_, paygAdmin := e.Account("payg@example.com", "payg")
	_, err := e.Authz.CreateRole(e.Ctx, paygAdmin, rbac.RoleSpec{Name: "auditor", Permissions: []rbac.Permission{rbac.EventsRead}})
	if store.CodeOf(err) != identity.CodeFeatureUnavailable {
		t.Fatalf("custom role on payg: %v", err)
	}

	_, admin := e.Account("ent@example.com", "enterprise")
	auditor, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "auditor", Description: "reads the log", Permissions: []rbac.Permission{rbac.EventsRead, rbac.MembersRead}})
	if err != nil {
		t.Fatal(err)
	}
	m := e.Member(admin, "aud@example.com", auditor.ID)
	if d := e.check(m, rbac.EventsRead); !d.Allowed || d.Role != auditor.ID {
		t.Fatalf("custom role grant: %v", d)
	}
	if d := e.check(m, rbac.CredentialsRead); d.Allowed {
		t.Fatalf("custom role over-grants: %v", d)
	}
	// Only administrators manage roles.
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper, rbac.RoleTeamManager)
	_, err = e.Authz.CreateRole(e.Ctx, dev, rbac.RoleSpec{Name: "x"})
	denied(t, err, rbac.ReasonNoRole)
	// Validation names the field and the limit.
	for _, spec := range []rbac.RoleSpec{
		{Name: ""},
		{Name: rbac.RoleDeveloper},
		{Name: string(make([]byte, 256))},
		{Name: "x", Permissions: []rbac.Permission{rbac.SSOManage}},
	} {
		if _, err := e.Authz.CreateRole(e.Ctx, admin, spec); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateRole(%q, %v) = %v", spec.Name, spec.Permissions, err)
		}
	}
	_, err = e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "auditor"})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate role name: %v", err)
	}
	// Updating the role changes what its members may do; deleting it leaves nothing.
	if _, err := e.Authz.UpdateRole(e.Ctx, admin, auditor.ID, rbac.RoleSpec{Name: "auditor", Permissions: []rbac.Permission{rbac.CredentialsRead}}); err != nil {
		t.Fatal(err)
	}
	if d := e.check(m, rbac.CredentialsRead); !d.Allowed {
		t.Fatalf("after update: %v", d)
	}
	if err := e.Authz.DeleteRole(e.Ctx, admin, auditor.ID); err != nil {
		t.Fatal(err)
	}
	if d := e.check(m, rbac.CredentialsRead); d.Allowed || d.Reason != rbac.ReasonNoRole {
		t.Fatalf("after delete: %v", d)
	}
	// An unknown role ID is refused when granting.
	_, err = e.Dir.SetMemberRoles(e.Ctx, admin, m.ID, []string{auditor.ID})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("granting a deleted role: %v", err)
	}
	_, err = e.Dir.SetMemberRoles(e.Ctx, admin, m.ID, []string{"superuser"})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("granting an unknown role name: %v", err)
	}
	roles, err := e.Authz.Roles(e.Ctx, admin, store.Page{Limit: 10})
	if err != nil || len(roles) != 0 {
		t.Fatalf("Roles = %v, %v", roles, err)
	}
}

// Bot users act as Developer read/write by default and may be given roles on RBAC plans.
func TestBotUsers_ActAsDevelopersUnlessGivenRoles(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	ci := e.bot(admin, "ci")
	for _, perm := range builtins(t).All() {
		rs, _ := rbac.BuiltinRoles()[1].Permissions, 0
		if d := e.check(ci, perm); d.Allowed != rs.Has(perm) {
			t.Errorf("default bot %s: %v", d.Name, d)
		}
	}
	readerBot := e.bot(admin, "read-sync", rbac.RoleDeveloperReadOnly)
	if d := e.check(readerBot, rbac.CredentialsRead); !d.Allowed {
		t.Errorf("bot with the developer_read_only role: %v", d)
	}
	if d := e.check(readerBot, rbac.CredentialsWrite); d.Allowed {
		t.Errorf("bot with roles keeps developer: %v", d)
	}
	_, err := e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: "root", Roles: []string{rbac.RoleAdministrator}})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("administrator bot: %v", err)
	}
}

// TestServiceUsers_RolesLimitedAsNgrok: a service (bot) user's roles are limited as ngrok
// limits them: developer, developer_read_only and team_manager, or custom roles that grant
// nothing else. Whatever a custom role grants later, a bot user never holds more than those
// three roles grant together.
func TestServiceUsers_RolesLimitedAsNgrok(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "enterprise")
	if got := rbac.ServiceUserRoles(); len(got) != 3 || got[0] != rbac.RoleDeveloper || got[1] != rbac.RoleDeveloperReadOnly || got[2] != rbac.RoleTeamManager {
		t.Fatalf("ServiceUserRoles() = %v", got)
	}
	reader, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "reader", Permissions: []rbac.Permission{rbac.CredentialsRead, rbac.MembersRead}})
	if err != nil {
		t.Fatal(err)
	}
	payer, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "payer", Permissions: []rbac.Permission{rbac.BillingManage}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		roles []string
		ok    bool
	}{
		{"developer", []string{rbac.RoleDeveloper}, true},
		{"developer_read_only", []string{rbac.RoleDeveloperReadOnly}, true},
		{"team_manager", []string{rbac.RoleTeamManager}, true},
		{"all_three", []string{rbac.RoleTeamManager, rbac.RoleDeveloper, rbac.RoleDeveloperReadOnly}, true},
		{"a_custom_role_within_them", []string{reader.ID}, true},
		{"billing", []string{rbac.RoleBilling}, false},
		{"team_invite", []string{rbac.RoleTeamInvite}, false},
		{"team_read_only", []string{rbac.RoleDeveloper, rbac.RoleTeamReadOnly}, false},
		{"administrator", []string{rbac.RoleAdministrator}, false},
		{"a_custom_role_beyond_them", []string{payer.ID}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.bots.Create(e.Ctx, admin, botuser.CreateParams{Name: "svc-" + c.name, Roles: c.roles})
			if c.ok != (err == nil) {
				t.Fatalf("Create with roles %v: %v", c.roles, err)
			}
			if !c.ok && invalidField(err) == "" {
				t.Fatalf("Create with roles %v: %v, want an invalid-argument error naming the role", c.roles, err)
			}
		})
	}
	// A custom role widened after it was given to a bot user grants the bot nothing new.
	svc := e.bot(admin, "svc-widened", reader.ID)
	if _, err := e.Authz.UpdateRole(e.Ctx, admin, reader.ID, rbac.RoleSpec{Name: "reader", Permissions: []rbac.Permission{rbac.CredentialsRead, rbac.BillingManage}}); err != nil {
		t.Fatal(err)
	}
	if d := e.check(svc, rbac.BillingManage); d.Allowed {
		t.Fatalf("a bot user whose custom role was widened to billing:manage: %v", d)
	}
	if d := e.check(svc, rbac.CredentialsRead); !d.Allowed {
		t.Fatalf("credentials:read through the custom role: %v", d)
	}
	// A team manager service user manages members, as ngrok's do.
	tm := e.bot(admin, "svc-tm", rbac.RoleTeamManager)
	if d := e.check(tm, rbac.MembersManage); !d.Allowed {
		t.Fatalf("team_manager service user, members:manage: %v", d)
	}
	if d := e.check(tm, rbac.CredentialsWrite); d.Allowed {
		t.Fatalf("team_manager service user, credentials:write: %v", d)
	}
}
