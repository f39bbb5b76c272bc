package sso_test

import (
	"slices"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// withGroups makes the IdP assert groups for its current user from now on.
func (p *testIdP) withGroups(groups ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user.Groups = groups
}

// loginWith signs email in through p asserting groups and returns the member's roles.
func (e *env) loginWith(p *testIdP, email string, groups ...string) []string {
	e.t.Helper()
	p.asUser(email)
	p.withGroups(groups...)
	lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, p.rec.ID, "/")
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := lr.AuthnRequest.RedirectURL(lr.RelayState)
	if err != nil {
		e.t.Fatal(err)
	}
	form, relay := p.idpRespond(e.t, u)
	l, err := e.svc.CompleteLogin(e.ctx, sso.ACSRequest{
		AccountID: e.acct.ID, IdPID: p.rec.ID, SAMLResponse: form, RelayState: relay, BrowserState: lr.RelayState,
	})
	if err != nil {
		e.t.Fatalf("login of %s with groups %v: %v", email, groups, err)
	}
	if !slices.Equal(l.Groups, groups) && len(groups) > 0 {
		e.t.Fatalf("the login carries groups %v, want %v", l.Groups, groups)
	}
	m, err := e.dir.Member(e.ctx, e.admin, l.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	return m.Roles
}

var testRules = []store.RoleRule{
	{Group: "ops", Roles: []string{rbac.RoleTeamManager}},
	{Group: "devs", Roles: []string{rbac.RoleDeveloper}},
	{Group: "staff", Roles: []string{rbac.RoleDeveloper, rbac.RoleBilling}},
}

// TestRoleRulesAtSAMLSignIn: the IdP's rules give a just-in-time member the roles of its
// groups, and every later sign-in recalculates them from the groups asserted then; a member
// in none of the rules' groups gets the IdP's default roles.
func TestRoleRulesAtSAMLSignIn(t *testing.T) {
	e := newEnv(t, identity.Enterprise().Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	p := e.newIdP(sso.IdPParams{DefaultRoles: []string{rbac.RoleDeveloperReadOnly}})
	if _, err := e.svc.SetRoleRules(e.ctx, e.admin, p.rec.ID, testRules); err != nil {
		t.Fatal(err)
	}
	p.rec, _ = e.svc.IdentityProvider(e.ctx, e.admin, p.rec.ID)
	for _, c := range []struct {
		groups []string
		want   []string
	}{
		{[]string{"devs"}, []string{rbac.RoleDeveloper}}, // just in time
		{[]string{"devs", "ops"}, []string{rbac.RoleDeveloper, rbac.RoleTeamManager}},
		{[]string{"staff", "unmapped"}, []string{rbac.RoleBilling, rbac.RoleDeveloper}},
		{nil, []string{rbac.RoleDeveloperReadOnly}},
	} {
		if got := e.loginWith(p, "alice@example.com", c.groups...); !slices.Equal(got, c.want) {
			t.Errorf("groups %v: roles %v, want %v", c.groups, got, c.want)
		}
	}
	why := sso.ExplainRoles(testRules, nil, []string{"staff", "devs"})
	want := []sso.RoleReason{{Role: rbac.RoleDeveloper, Rule: 1, Group: "devs"}, {Role: rbac.RoleBilling, Rule: 2, Group: "staff"}}
	if !slices.Equal(why, want) {
		t.Errorf("ExplainRoles: %+v, want %+v", why, want)
	}
	if why := sso.ExplainRoles(testRules, nil, nil); len(why) == 0 || !why[0].Default {
		t.Errorf("ExplainRoles without a matching group: %+v, want the defaults", why)
	}
}

// TestRoleRulesNeverExceedTheirAuthor: rules are refused when their author may not grant
// them (here an administrator acting through a token scoped to SSO only), and rules whose
// author has since been demoted are not applied at sign-in.
func TestRoleRulesNeverExceedTheirAuthor(t *testing.T) {
	e := newEnv(t, identity.Enterprise().Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	p := e.newIdP(sso.IdPParams{DefaultRoles: []string{rbac.RoleDeveloperReadOnly}})

	scoped := e.admin
	scoped.Scope = identity.ScopeOf(rbac.SetOf(rbac.SSOManage, rbac.SSORead))
	_, err := e.svc.SetRoleRules(e.ctx, scoped, p.rec.ID, testRules)
	wantCode(t, err, sso.CodeRoleRulesExceedAuthor)

	second := e.member("second@example.com", rbac.RoleAdministrator)
	if _, err := e.svc.SetRoleRules(e.ctx, e.principal(second.ID), p.rec.ID, testRules); err != nil {
		t.Fatal(err)
	}
	if got := e.loginWith(p, "bob@example.com", "ops"); !slices.Equal(got, []string{rbac.RoleTeamManager}) {
		t.Fatalf("before the author's demotion: %v", got)
	}
	if _, err := e.dir.SetMemberRoles(e.ctx, e.admin, second.ID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	e.tick()
	// The author no longer holds members:manage: its rules change nothing now.
	if got := e.loginWith(p, "bob@example.com", "devs"); !slices.Equal(got, []string{rbac.RoleTeamManager}) {
		t.Errorf("after the author's demotion, roles %v; want them unchanged", got)
	}
}
