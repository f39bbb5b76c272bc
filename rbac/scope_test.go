package rbac_test

import (
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// scoped returns p acting with an access token limited to perms.
func scoped(p identity.Principal, perms ...rbac.Permission) identity.Principal {
	p.CredentialID = "pat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	p.Scope = identity.ScopeOf(rbac.SetOf(perms...))
	return p
}

// TestScope_IsANDedWithTheGrants: a principal acting with an access token may do what its
// roles grant and its scope allows, no more: with the cache warm or cold, through a
// transaction (CheckIn) or not. Its scope never adds to its roles, and a demoted owner's
// token shrinks with it. A principal acting with an access token but carrying no scope may
// do nothing.
func TestScope_IsANDedWithTheGrants(t *testing.T) {
	for _, cached := range []bool{false, true} {
		name := "cold"
		if cached {
			name = "warm"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if cached {
				e.run()
			}
			_, admin := e.Account("admin@example.com", "payg")
			dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
			tok := scoped(dev, rbac.CredentialsRead, rbac.MembersManage)
			unscoped := dev
			unscoped.CredentialID = tok.CredentialID
			cases := []struct {
				name   string
				p      identity.Principal
				perm   rbac.Permission
				allow  bool
				reason rbac.Reason
			}{
				{"in_scope_and_granted", tok, rbac.CredentialsRead, true, rbac.ReasonGranted},
				{"granted_but_out_of_scope", tok, rbac.CredentialsWrite, false, rbac.ReasonOutOfScope},
				{"in_scope_but_not_granted", tok, rbac.MembersManage, false, rbac.ReasonNoRole},
				{"the_owner_without_the_token", dev, rbac.CredentialsWrite, true, rbac.ReasonGranted},
				{"a_token_without_its_scope", unscoped, rbac.CredentialsRead, false, rbac.ReasonOutOfScope},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					for i := range 2 { // the second is answered from the cache when warm
						d := e.check(c.p, c.perm)
						if d.Allowed != c.allow || d.Reason != c.reason {
							t.Fatalf("Check #%d = %v (reason %v), want allowed %v, reason %v", i+1, d, d.Reason, c.allow, c.reason)
						}
					}
					var d rbac.Decision
					err := e.Store.View(e.Ctx, func(r store.Reader) error {
						var err error
						d, err = e.Authz.CheckIn(e.Ctx, r, c.p, c.perm)
						return err
					})
					if err != nil || d.Allowed != c.allow || d.Reason != c.reason {
						t.Fatalf("CheckIn = %v, %v; want allowed %v, reason %v", d, err, c.allow, c.reason)
					}
					if err := e.Authz.Require(e.Ctx, c.p, c.perm); c.allow != (err == nil) {
						t.Fatalf("Require = %v", err)
					} else if !c.allow {
						denied(t, err, c.reason)
					}
				})
			}
			// Demoted to read-only, the owner's token loses nothing it had in scope and
			// granted but credentials:write, which it never had; promoted back, it regains
			// only what its scope allows.
			broad := scoped(dev, rbac.CredentialsRead, rbac.CredentialsWrite)
			if d := e.check(broad, rbac.CredentialsWrite); !d.Allowed {
				t.Fatalf("before the demotion: %v", d)
			}
			if _, err := e.Dir.SetMemberRoles(e.Ctx, admin, dev.ID, []string{rbac.RoleDeveloperReadOnly}); err != nil {
				t.Fatal(err)
			}
			if cached {
				e.sync()
			}
			if d := e.check(broad, rbac.CredentialsWrite); d.Allowed || d.Reason != rbac.ReasonNoRole {
				t.Fatalf("after the demotion, credentials:write: %v, want denied (no role)", d)
			}
			if d := e.check(broad, rbac.CredentialsRead); !d.Allowed {
				t.Fatalf("after the demotion, credentials:read: %v", d)
			}
		})
	}
}

// TestScope_LimitsGrantsAndTheLog: what a scoped principal may grant, and which events it
// sees, are limited by its scope as well as its roles: an administrator's token scoped to
// members:manage is no administrator, cannot grant a role holding more than its scope, and
// reads no event without events:read in scope.
func TestScope_LimitsGrantsAndTheLog(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	m := e.Member(admin, "m@example.com", rbac.RoleTeamReadOnly)
	tok := scoped(admin, rbac.MembersManage, rbac.MembersRead, rbac.AccountRead, rbac.RolesRead)
	if _, err := e.Dir.SetMemberRoles(e.Ctx, tok, m.ID, []string{rbac.RoleAdministrator}); err == nil {
		t.Fatal("a members:manage token of an administrator made another administrator")
	} else if code, _ := denial(err); code != rbac.CodeAdminOnly && code != rbac.CodeExceedsGrantor {
		t.Fatalf("granting administrator through a token: %v", err)
	}
	if _, err := e.Dir.SetMemberRoles(e.Ctx, tok, m.ID, []string{rbac.RoleDeveloper}); err == nil {
		t.Fatal("a members:manage token granted developer, which its scope does not hold")
	} else if code, _ := denial(err); code != rbac.CodeExceedsGrantor {
		t.Fatalf("granting developer through a token: %v", err)
	}
	if _, err := e.Dir.SetMemberRoles(e.Ctx, tok, m.ID, []string{rbac.RoleTeamReadOnly}); err != nil {
		t.Fatalf("granting a role within the scope: %v", err)
	}
	_, err := e.Authz.Events(e.Ctx, tok, store.Page{Limit: 10})
	denied(t, err, rbac.ReasonOutOfScope)
	reader := scoped(admin, rbac.EventsRead, rbac.AccountRead)
	page, err := e.Authz.Events(e.Ctx, reader, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range page.Events {
		if p, ok := rbac.EventPermission(ev.Type); !ok || (p != rbac.AccountRead && p != rbac.EventsRead) {
			t.Errorf("a token scoped to events:read and account:read sees %s", ev.Type)
		}
	}
}

// TestHeldIn: what a principal holds is its roles' grants within its plan and its scope.
func TestHeldIn(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	held := func(p identity.Principal) rbac.Set {
		t.Helper()
		var s rbac.Set
		err := e.Store.View(e.Ctx, func(r store.Reader) error {
			var err error
			s, err = e.Authz.HeldIn(e.Ctx, r, p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	devGrants, _ := builtins(t).RoleGrants(rbac.RoleDeveloper)
	for _, c := range []struct {
		name string
		p    identity.Principal
		want rbac.Set
	}{
		{"developer", dev, devGrants},
		{"developer_token", scoped(dev, rbac.CredentialsWrite, rbac.MembersManage), rbac.SetOf(rbac.CredentialsWrite)},
		{"token_without_its_scope", func() identity.Principal { p := dev; p.CredentialID = scoped(dev).CredentialID; return p }(), rbac.Set{}},
		{"administrator_on_payg", admin, builtins(t).AllSet().Minus(rbac.SetOf(rbac.SSORead, rbac.SSOManage, rbac.RolesManage))},
	} {
		if got := held(c.p); got != c.want {
			t.Errorf("%s: HeldIn = %v, want %v", c.name, builtins(t).Names(got), builtins(t).Names(c.want))
		}
	}
}

// TestScope_WarmCheckDoesNotAllocate: with the cache warm, a scoped principal's Check is
// still a bit test without allocation, allowed or out of scope.
func TestScope_WarmCheckDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	e.run()
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	tok := scoped(dev, rbac.CredentialsRead)
	for _, perm := range []rbac.Permission{rbac.CredentialsRead, rbac.CredentialsWrite} {
		e.check(tok, perm)
		if n := testing.AllocsPerRun(1000, func() { e.Authz.Check(e.Ctx, tok, perm) }); n != 0 {
			t.Errorf("%v: a warm scoped Check allocates %v times", perm, n)
		}
	}
}
