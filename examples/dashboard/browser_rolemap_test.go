package main

import (
	"net/http"
	"slices"
	"testing"

	"github.com/iamkit/iamkit/internal/browsertest"
	"github.com/iamkit/iamkit/internal/oidctest"
	"github.com/iamkit/iamkit/internal/samltest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// setRulesInBrowser sets an IdP's groups attribute (or claim) and role rules on its page.
func setRulesInBrowser(t *testing.T, e *env, b *browsertest.Browser, idpID, attr, rules string) {
	t.Helper()
	b.Navigate(e.URL + "/a/" + e.account() + "/settings/sso/" + idpID)
	setValue(t, b, "#groups_attribute", attr)
	setValue(t, b, "#role_rules", rules)
	if status := b.ClickAndWait("#save-role-rules"); status != http.StatusOK {
		t.Fatalf("saving the role rules: status %d: %s", status, b.Text("main"))
	}
	contains(t, "saved", b.Text(".notice"), "Role rules saved")
}

// wantRoles fails the test unless the member with email has exactly roles.
func (e *env) wantRoles(t *testing.T, email string, roles ...string) {
	t.Helper()
	if got := e.member(email).Roles; !slices.Equal(got, roles) {
		t.Errorf("%s has roles %v, want %v", email, got, roles)
	}
}

// explanation opens a member's page in b and returns why the page says they have their
// roles.
func (e *env) explanation(b *browsertest.Browser, email string) string {
	e.t.Helper()
	u, err := e.app.IAM.Directory().UserByEmail(e.ctx, email)
	if err != nil {
		e.t.Fatal(err)
	}
	b.Navigate(e.URL + "/a/" + e.account() + "/members/" + u.ID)
	return b.Text("#roles-explained")
}

// jitOn makes the account provision members just in time.
func (e *env) jitOn() {
	e.t.Helper()
	jit, off := sso.ProvisioningJIT, sso.EnforcementOff
	if _, err := e.app.IAM.SSO().UpdateSettings(e.ctx, e.app.Boot.Admin, sso.SettingsUpdate{Provisioning: &jit, Enforcement: &off}); err != nil {
		e.t.Fatal(err)
	}
	e.sync()
}

// TestBrowserSAMLGroupMappedRoles: an administrator maps the SimpleSAMLphp group
// Engineering to Developer on the IdP's page; a person whose groups attribute holds
// Engineering signs in through SimpleSAMLphp, joins just in time as a developer, and their
// member page says the rule gave it; moved to Sales at the IdP, they sign in again and get
// the IdP's default roles, which the page now names.
func TestBrowserSAMLGroupMappedRoles(t *testing.T) {
	e := newEnv(t)
	grace := samltest.User{Username: "grace", Password: password, Email: "grace@example.test", DisplayName: "Grace Hopper", Groups: []string{"Engineering"}}
	idp := samltest.Start(t, samltest.Options{Users: []samltest.User{grace}})
	base := e.URL + "/a/" + e.account()

	b := browsers.New(t)
	e.signInBrowser(b, adminEmail)
	b.Navigate(base + "/settings/domains")
	e.verifyDomainInBrowser(t, b, "example.test", false)
	p, err := e.app.IAM.SSO().CreateIdentityProvider(e.ctx, e.app.Boot.Admin, sso.IdPParams{
		Description: "Example SimpleSAMLphp", MetadataXML: string(idp.Metadata), Domains: []string{"example.test"},
		DefaultRoles: []string{rbac.RoleDeveloperReadOnly},
	})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := e.app.IAM.SSO().ServiceProvider(e.ctx, e.account(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.RegisterSP(samltest.SP{EntityID: sp.EntityID, ACSURL: sp.ACSURL}); err != nil {
		t.Fatal(err)
	}
	e.jitOn()

	// An unknown role is refused with the line named; then the rules are saved.
	b.Navigate(base + "/settings/sso/" + p.ID)
	setValue(t, b, "#role_rules", "Engineering = developer\nSales = wizard")
	if status := b.ClickAndWait("#save-role-rules"); status != http.StatusBadRequest {
		t.Errorf("an unknown role: status %d, want 400", status)
	}
	contains(t, "refusal", b.Text("#error-summary"), "Line 2: this account has no role “wizard”")
	setRulesInBrowser(t, e, b, p.ID, samltest.AttrGroups, "Engineering = developer\nOps = team_manager")
	contains(t, "the rules", b.Text("#role-rules-list"), "Engineering → Developer", "Ops → Team manager")
	checkPage(t, b, "idp-role-rules")

	gb := browsers.New(t)
	gb.Navigate(base + "/sso")
	signInAtIdP(t, e, gb, grace)
	e.wantRoles(t, grace.Email, rbac.RoleDeveloper)
	contains(t, "why", e.explanation(b, grace.Email), "Engineering", "Developer", "Rule 1 of Example SimpleSAMLphp: group “Engineering”")
	checkPage(t, b, "member-roles-explained")

	// Moved to Sales at the IdP: no rule matches at the next sign-in (in a new browser, with
	// no IdP session that remembers the old groups), so the IdP's default roles apply.
	grace.Groups = []string{"Sales"}
	if err := idp.SetUser(grace); err != nil {
		t.Fatal(err)
	}
	gb2 := browsers.New(t)
	gb2.Navigate(base + "/sso")
	signInAtIdP(t, e, gb2, grace)
	e.wantRoles(t, grace.Email, rbac.RoleDeveloperReadOnly)
	contains(t, "why after the move", e.explanation(b, grace.Email), "Sales", "Developer (read-only)", "Default roles of Example SimpleSAMLphp")
}

// TestBrowserOIDCGroupMappedRoles: the same through a real OpenID Connect provider, whose
// groups claim carries Engineering; moved to Ops there, the next sign-in gives Team manager
// by the second rule.
func TestBrowserOIDCGroupMappedRoles(t *testing.T) {
	e := newEnv(t)
	ada := oidctest.User{Subject: "u-ada", Username: "ada", Password: password, Email: "ada@example.test", EmailVerified: true,
		Name: "Ada Lovelace", Groups: []string{"Engineering"}}
	prov := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{ada}})
	base := e.URL + "/a/" + e.account()
	p := e.newOIDCProviderFor(prov.Issuer)
	if err := prov.AddClient(oidctest.Client{ID: "iamkit-dashboard", Secret: "client-secret",
		RedirectURIs: []string{e.app.IAM.SSO().OIDCRedirectURL(e.account(), p.ID)}}); err != nil {
		t.Fatal(err)
	}
	e.jitOn()

	b := browsers.New(t)
	e.signInBrowser(b, adminEmail)
	setRulesInBrowser(t, e, b, p.ID, "groups", "Engineering = developer\nOps = team_manager")
	contains(t, "the claim", b.Text("label[for=groups_attribute]"), "Groups claim")

	signIn := func(u oidctest.User) {
		t.Helper()
		ab := browsers.New(t)
		ab.Navigate(base + "/sso")
		ab.WaitVisible("#username")
		ab.Fill("#username", u.Username)
		ab.Fill("#password", u.Password)
		ab.ClickAndWait("#submit")
		ab.WaitURL(browsertest.HasPrefix(base + "/"))
	}
	signIn(ada)
	e.wantRoles(t, ada.Email, rbac.RoleDeveloper)
	contains(t, "why", e.explanation(b, ada.Email), "Developer", "Rule 1 of Example OpenID Connect: group “Engineering”")

	ada.Groups = []string{"Ops"}
	if err := prov.SetUser(ada); err != nil {
		t.Fatal(err)
	}
	signIn(ada)
	e.wantRoles(t, ada.Email, rbac.RoleTeamManager)
	contains(t, "why after the move", e.explanation(b, ada.Email), "Team manager", "Rule 2 of Example OpenID Connect: group “Ops”")
	if m := e.member(ada.Email); m.Status != store.MemberActive {
		t.Errorf("ada: %+v", m)
	}
}
