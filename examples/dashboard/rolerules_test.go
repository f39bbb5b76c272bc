package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// testRoles are the roles the rules parser knows in its tests: a built-in role and a custom
// one, by name and label.
var testRoles = roles{names: map[string]string{rbac.RoleDeveloper: "Developer", rbac.RoleTeamManager: "Team manager", "rol_1": "On call"}}

func TestParseRules(t *testing.T) {
	for _, c := range []struct {
		text    string
		want    []store.RoleRule
		problem string // part of the message; "" for none
	}{
		{"", nil, ""},
		{"Engineering = developer\n\n  Ops=team manager, On Call \r\n", []store.RoleRule{
			{Group: "Engineering", Roles: []string{rbac.RoleDeveloper}},
			{Group: "Ops", Roles: []string{rbac.RoleTeamManager, "rol_1"}}}, ""},
		{"a=b = developer", []store.RoleRule{{Group: "a=b", Roles: []string{rbac.RoleDeveloper}}}, ""},
		{"Engineering developer", nil, "Line 1: write a group"},
		{"x = developer\n = developer", nil, "Line 2: name the group"},
		{"Engineering = wizard", nil, "no role “wizard”"},
		{"Engineering = , ", nil, "at least one role"},
	} {
		got, problem := parseRules(c.text, testRoles)
		if !slices.EqualFunc(got, c.want, func(a, b store.RoleRule) bool { return a.Group == b.Group && slices.Equal(a.Roles, b.Roles) }) ||
			(c.problem == "") != (problem == "") || !strings.Contains(problem, c.problem) {
			t.Errorf("parseRules(%q) = %v, %q; want %v, %q", c.text, got, problem, c.want, c.problem)
		}
	}
}

// FuzzParseRules: the rules text gives rules with a trimmed group and known roles, which
// write back to a text that reads the same, or a problem and no rules.
func FuzzParseRules(f *testing.F) {
	for _, seed := range []string{"Engineering = developer", "a = b = c", "=", "x=\n=y", "Ops = team manager, rol_1\n\n", "é = On call"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rules, problem := parseRules(text, testRoles)
		if problem != "" {
			if rules != nil {
				t.Fatalf("parseRules(%q): rules %v with problem %q", text, rules, problem)
			}
			return
		}
		for _, r := range rules {
			if r.Group == "" || r.Group != strings.TrimSpace(r.Group) || len(r.Roles) == 0 {
				t.Fatalf("parseRules(%q): rule %+v", text, r)
			}
			for _, role := range r.Roles {
				if _, ok := testRoles.names[role]; !ok {
					t.Fatalf("parseRules(%q): unknown role %q", text, role)
				}
			}
		}
		again, problem := parseRules(rulesText(rules), testRoles)
		if problem != "" || !slices.EqualFunc(again, rules, func(a, b store.RoleRule) bool { return a.Group == b.Group && slices.Equal(a.Roles, b.Roles) }) {
			t.Fatalf("parseRules(%q) = %v, which reads back as %v, %q", text, rules, again, problem)
		}
	})
}

// newOIDCProviderFor verifies example.test (with the test's DNS server) and adds an OIDC
// provider trusted for it, with Developer (read-only) as its default roles. The issuer is
// not contacted until someone signs in.
func (e *env) newOIDCProviderFor(issuer string) store.IdentityProvider {
	e.t.Helper()
	by := e.app.Boot.Admin
	d, err := e.app.IAM.SSO().ClaimDomain(e.ctx, by, "example.test")
	if err != nil {
		e.t.Fatal(err)
	}
	rec := sso.DomainRecordOf(d)
	if err := e.dns.SetTXT(rec.Name, rec.Value); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.IAM.SSO().VerifyDomain(e.ctx, by, d.ID); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.app.IAM.SSO().CreateOIDCProvider(e.ctx, by, sso.OIDCParams{
		Description: "Example OpenID Connect", Issuer: issuer, ClientID: "iamkit-dashboard", ClientSecret: sso.NewSecret("client-secret"),
		Scopes: []string{"email", "profile", "groups"}, DefaultRoles: []string{rbac.RoleDeveloperReadOnly}, Domains: []string{"example.test"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.sync()
	return p
}

// TestRoleRulesForm: an administrator sets an IdP's groups claim and ordered role rules on
// its page, which lists them back; a malformed line and an unknown role are refused with
// the line named and nothing saved; a developer may not set rules at all.
func TestRoleRulesForm(t *testing.T) {
	e := newEnv(t)
	p := e.newOIDCProviderFor("https://login.example.test")
	admin := e.signInHTTP(adminEmail)
	page := "/a/" + e.account() + "/settings/sso/" + p.ID
	if res := admin.get(page); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `id="role-rules-none"`) || !strings.Contains(res.Body, `id="role_rules"`) {
		t.Fatalf("the IdP's page without rules: status %d, %.300s", res.StatusCode, res.Body)
	}
	res := admin.post(page+"/role-rules", url.Values{"groups_attribute": {"roles"}, "role_rules": {"Engineering = developer\nOps = team_manager, developer\n"}})
	if res.StatusCode != http.StatusSeeOther || res.Location != page {
		t.Fatalf("saving the rules: status %d to %q: %.300s", res.StatusCode, res.Location, res.Body)
	}
	want := []store.RoleRule{{Group: "Engineering", Roles: []string{rbac.RoleDeveloper}}, {Group: "Ops", Roles: []string{rbac.RoleDeveloper, rbac.RoleTeamManager}}}
	got := e.idp(p.ID)
	if got.GroupsAttribute != "roles" || !slices.EqualFunc(got.RoleRules, want, func(a, b store.RoleRule) bool { return a.Group == b.Group && slices.Equal(a.Roles, b.Roles) }) ||
		got.RoleRulesBy != e.app.Boot.Admin.ID {
		t.Fatalf("saved: groups claim %q, rules %v by %q", got.GroupsAttribute, got.RoleRules, got.RoleRulesBy)
	}
	body := admin.get(page).Body
	contains(t, "the IdP's page", body, `id="role-rules-list"`, "<strong>Engineering</strong> → Developer", "<strong>Ops</strong> → Developer, Team manager",
		`value="roles"`, "Engineering = developer\nOps = developer, team_manager")

	for _, c := range []struct{ text, says string }{
		{"Engineering developer", "Line 1: write a group"},
		{"Engineering = developer\nSales = wizard", "Line 2: this account has no role “wizard”"},
	} {
		res := admin.post(page+"/role-rules", url.Values{"groups_attribute": {"other"}, "role_rules": {c.text}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, `id="error-summary"`) || !strings.Contains(res.Body, c.says) ||
			!strings.Contains(res.Body, `id="role_rules-error"`) {
			t.Errorf("rules %q: status %d, want 400 saying %q", c.text, res.StatusCode, c.says)
		}
		if !strings.Contains(res.Body, `value="Example OpenID Connect"`) {
			t.Errorf("rules %q: the IdP's other settings are not shown as they are", c.text)
		}
	}
	if got := e.idp(p.ID); got.GroupsAttribute != "roles" || len(got.RoleRules) != 2 {
		t.Errorf("after refused forms: groups claim %q, rules %v", got.GroupsAttribute, got.RoleRules)
	}

	e.addMember("dev@example.test", rbac.RoleDeveloper)
	dev := e.signInHTTP("dev@example.test")
	if res := dev.post(page+"/role-rules", url.Values{"role_rules": {"Everyone = administrator"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a developer setting rules: status %d, want 403", res.StatusCode)
	}
	if got := e.idp(p.ID); len(got.RoleRules) != 2 || got.RoleRules[0].Group != "Engineering" {
		t.Errorf("after the developer's try: rules %v", got.RoleRules)
	}

	res = admin.post(page+"/role-rules", url.Values{"groups_attribute": {""}, "role_rules": {""}})
	if got := e.idp(p.ID); res.StatusCode != http.StatusSeeOther || len(got.RoleRules) != 0 || got.RoleRulesBy != "" {
		t.Errorf("emptying the rules: status %d, rules %v by %q", res.StatusCode, got.RoleRules, got.RoleRulesBy)
	}
}

// TestRoleRulesRefusalMessage: rules above their author are refused with a message that
// says what to do (the dashboard's administrators may grant every role, so only a scoped
// principal meets it; the message is checked here).
func TestRoleRulesRefusalMessage(t *testing.T) {
	err := &store.Error{Kind: store.ErrDenied, Code: sso.CodeRoleRulesExceedAuthor, Field: "role_rules"}
	contains(t, "message", message(err), "roles you may not grant yourself")
	if fe := formErrors(err, map[string]string{"": "role_rules"}); len(fe) != 1 || fe[0].Field != "role_rules" {
		t.Errorf("form errors: %+v", fe)
	}
}

// TestMemberRolesSetByAnAdministrator: a member whose roles no identity provider's rules
// gave is explained as such on their page.
func TestMemberRolesSetByAnAdministrator(t *testing.T) {
	e := newEnv(t)
	dev := e.addMember("dev@example.test", rbac.RoleDeveloper, rbac.RoleTeamInvite)
	admin := e.signInHTTP(adminEmail)
	body := admin.get("/a/" + e.account() + "/members/" + dev.ID).Body
	contains(t, "member page", body, `id="roles-explained"`, "<td>Developer</td><td>Set by an administrator</td>")
	if strings.Contains(body, "roles-explained-partial") {
		t.Error("an administrator is told the explanation is partial")
	}

	// A team manager may read members but not the audit log, where sign-ins record their
	// groups: the page says it cannot tell.
	e.addMember("manager@example.test", rbac.RoleTeamManager)
	res := e.signInHTTP("manager@example.test").get("/a/" + e.account() + "/members/" + dev.ID)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the member page for a team manager: status %d", res.StatusCode)
	}
	contains(t, "member page for a team manager", res.Body, `id="roles-explained-partial"`,
		"<td>Developer</td><td>Set by an administrator, or by an identity provider&#39;s rules at a sign-in</td>")
}

// idp reads an identity provider of the account.
func (e *env) idp(id string) store.IdentityProvider {
	e.t.Helper()
	p, err := e.app.IAM.SSO().IdentityProvider(e.ctx, e.app.Boot.Admin, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}
