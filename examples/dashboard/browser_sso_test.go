package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/iamkit/iamkit/internal/browsertest"
	"github.com/iamkit/iamkit/internal/oidctest"
	"github.com/iamkit/iamkit/internal/samltest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// People of the identity provider: they sign in at SimpleSAMLphp with these usernames and
// the tests' password.
var (
	idpAdmin    = samltest.User{Username: "admin", Password: password, Email: adminEmail, DisplayName: "Administrator"}
	idpJiT      = samltest.User{Username: "jit", Password: password, Email: "jit@example.test", DisplayName: "Just In Time"}
	idpStranger = samltest.User{Username: "stranger", Password: password, Email: "stranger@example.test"}
	idpNewcomer = samltest.User{Username: "newcomer", Password: password, Email: "newcomer@example.test"}
)

// setValue sets a form field's value at once, as pasting would (Fill types key by key, too
// slow for a metadata document).
func setValue(t *testing.T, b *browsertest.Browser, sel, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), browsertest.DefaultTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		t.Fatalf("setting %s: %v", sel, err)
	}
}

// value reads a form field's value.
func value(t *testing.T, b *browsertest.Browser, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), browsertest.DefaultTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return v
}

// signInAtIdP signs in on SimpleSAMLphp's own form and waits to land on the dashboard: the
// IdP's response form posts itself to the ACS, which redirects into the account.
func signInAtIdP(t *testing.T, e *env, b *browsertest.Browser, u samltest.User) string {
	t.Helper()
	b.WaitVisible("#username")
	b.Fill("#username", u.Username)
	b.Fill("#password", u.Password)
	b.ClickAndWait("#submit_button")
	return b.WaitURL(browsertest.HasPrefix(e.URL + "/a/" + e.account() + "/"))
}

// TestBrowserSSO drives the dashboard's single sign-on with Chromium and a real SimpleSAMLphp
// identity provider: an administrator adds the IdP from its uploaded metadata and gives it
// the service provider's details; enforcing is refused until that administrator has signed
// in through it; SP-initiated login through SimpleSAMLphp's own form, through the chooser of
// two IdPs found by the account's name; IdP-initiated login from SimpleSAMLphp landing in the
// account; just-in-time provisioning with the IdP's default roles; invite-only refusing a
// stranger with a clear page; mixed mode letting a member from before use the password and
// sending an invited newcomer through SSO; enforced mode refusing the password and ending a
// password session open in another browser.
func TestBrowserSSO(t *testing.T) {
	e := newEnv(t)
	idp := samltest.Start(t, samltest.Options{Users: []samltest.User{idpAdmin, idpJiT, idpStranger, idpNewcomer}})
	old := e.addMember("old@example.test", rbac.RoleDeveloper) // a member from before single sign-on
	base := e.URL + "/a/" + e.account()

	// The administrator signs in with the password and adds the IdP by uploading its
	// metadata, trusting it for example.test, with IdP-initiated sign-in and Developer
	// (read-only) for the members it adds.
	b := browsers.New(t)
	e.signInBrowser(b, adminEmail)
	b.Navigate(base + "/settings/sso")
	checkPage(t, b, "sso-settings-empty")

	// An IdP may be trusted only for a verified domain: the administrator claims
	// example.test, publishes the TXT record the page gives (at the test's DNS server) and
	// verifies it.
	b.ClickAndWait("#domains-link")
	e.verifyDomainInBrowser(t, b, "example.test", true)
	b.Navigate(base + "/settings/sso")
	b.ClickAndWait("#new-idp")
	metadataFile := filepath.Join(t.TempDir(), "idp-metadata.xml")
	if err := os.WriteFile(metadataFile, idp.Metadata, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.Context(), chromedp.SetUploadFiles(chromedp.CSS("#metadata_file"), []string{metadataFile})); err != nil {
		t.Fatal(err)
	}
	b.Fill("#description", "Example SimpleSAMLphp")
	b.Fill("#domains", "example.test")
	b.Click("#allow_idp_initiated")
	b.Click("#default-role-developer")
	b.Click("#default-role-team_invite")
	b.Click("#default-role-developer_read_only")
	checkPage(t, b, "idp-new")
	if status := b.ClickAndWait("#add-idp"); status != http.StatusOK {
		t.Fatalf("adding the IdP: status %d: %s", status, b.Text("main"))
	}
	contains(t, "IdP page", b.Text("main"), "Identity provider added", "Enter these in your identity provider")
	spEntityID, acsURL := value(t, b, "#sp-entity-id"), value(t, b, "#sp-acs-url")
	if !strings.HasPrefix(spEntityID, e.URL+"/sso/"+e.account()+"/") || !strings.HasSuffix(acsURL, "/acs") {
		t.Fatalf("SP entity ID %q, ACS URL %q", spEntityID, acsURL)
	}
	checkPage(t, b, "idp")
	if err := idp.RegisterSP(samltest.SP{EntityID: spEntityID, ACSURL: acsURL}); err != nil {
		t.Fatal(err)
	}

	// A second IdP, pasted, so that the sign-in page has two to choose from.
	b.Navigate(base + "/settings/sso/new")
	setValue(t, b, "#metadata_xml", string(bytes.ReplaceAll(idp.Metadata, []byte(idp.EntityID), []byte(idp.EntityID+"?backup"))))
	b.Fill("#description", "Backup identity provider")
	b.Fill("#domains", "example.test")
	if status := b.ClickAndWait("#add-idp"); status != http.StatusOK {
		t.Fatalf("adding the second IdP: status %d: %s", status, b.Text("main"))
	}

	// Enforcing is refused to an administrator signed in with a password, and the page says
	// why before and after.
	b.Navigate(base + "/settings/sso")
	contains(t, "SSO settings", b.Text("#enforce-needs-sso"), "first sign in to Example through one of its identity providers")
	b.Click("#enforcement-enforced")
	if status := b.ClickAndWait("#save-sso"); status != http.StatusConflict {
		t.Errorf("enforcing from a password session: status %d, want 409", status)
	}
	contains(t, "refusal", b.Text("#error-summary"), "Sign in to this account through one of its identity providers first")
	checkPage(t, b, "sso-enforce-refused")
	if s := e.settings(); s.Enforcement != sso.EnforcementOff {
		t.Fatalf("enforcement is %s after the refusal", s.Enforcement)
	}

	// "Sign in with SSO" finds the account by its name and shows the chooser of its two
	// IdPs by their descriptions; the administrator signs in through SimpleSAMLphp's form.
	// The round trip is timed from the click on the IdP to the dashboard's page.
	b.Navigate(e.URL + "/login")
	b.ClickAndWait("#sso")
	b.Fill("#account", "no-such-account")
	if status := b.ClickAndWait("#continue"); status != http.StatusNotFound {
		t.Errorf("an unknown account: status %d, want 404", status)
	}
	contains(t, "unknown account", b.Text("#error-summary"), "We could not find an account called")
	checkPage(t, b, "sso-discovery")
	b.Fill("#account", accountKey)
	b.ClickAndWait("#continue")
	contains(t, "chooser", b.Text("main"), "Example SimpleSAMLphp", "Backup identity provider")
	checkPage(t, b, "sso-chooser")
	start := time.Now()
	b.Click(".choice[href*='" + e.idpID(idp.EntityID) + "']")
	landed := signInAtIdP(t, e, b, idpAdmin)
	t.Logf("SSO round trip (click on the IdP, SimpleSAMLphp's form, back on %s): %v", pathOf(t, landed), time.Since(start).Round(time.Millisecond))
	b.WaitVisible("h1")
	if got := b.Text("h1"); got != "Team members" {
		t.Errorf("after SSO the administrator is on %q", got)
	}

	// Now enforcement may be set, from this SSO session: first just-in-time provisioning.
	b.Navigate(base + "/settings/sso")
	if b.Text("main"); strings.Contains(b.Text("main"), "To enforce single sign-on you must first") {
		t.Error("the SSO session still gets the warning")
	}
	b.Click("#provisioning-jit")
	b.ClickAndWait("#save-sso")
	contains(t, "saved", b.Text(".notice"), "Single sign-on settings saved")
	checkPage(t, b, "sso-settings")

	// IdP-initiated sign-in from SimpleSAMLphp's page lands in the account; just in time, a
	// new person becomes a member with the IdP's default roles.
	jit := browsers.New(t)
	jit.Navigate(idp.IdPInitiatedURL(spEntityID))
	signInAtIdP(t, e, jit, idpJiT)
	jit.WaitVisible("h1")
	m := e.member(idpJiT.Email)
	if strings.Join(m.Roles, ",") != rbac.RoleDeveloperReadOnly || m.Status != store.MemberActive {
		t.Errorf("the just-in-time member: %+v, want active with the IdP's default roles", m)
	}

	// Invite-only: a stranger the IdP vouches for is refused, with a page that says what to
	// do.
	b.Navigate(base + "/settings/sso")
	b.Click("#provisioning-invite_only")
	b.ClickAndWait("#save-sso")
	stranger := browsers.New(t)
	stranger.Navigate(base + "/sso")
	stranger.Click(".choice[href*='" + e.idpID(idp.EntityID) + "']")
	stranger.WaitVisible("#username")
	stranger.Fill("#username", idpStranger.Username)
	stranger.Fill("#password", idpStranger.Password)
	stranger.ClickAndWait("#submit_button")
	stranger.WaitURL(browsertest.HasPrefix(e.URL + "/sso/"))
	contains(t, "refusal", stranger.Text("body"), "You have not been invited to this account", "Ask an administrator")
	checkPage(t, stranger, "sso-not-invited")

	// Mixed: the member from before keeps the password (and keeps its session open in its
	// browser); an invited newcomer is sent through single sign-on.
	b.Navigate(base + "/settings/sso")
	b.Click("#enforcement-mixed")
	b.ClickAndWait("#save-sso")
	contains(t, "saved", b.Text(".notice"), "Single sign-on settings saved")
	oldB := browsers.New(t)
	e.signInBrowser(oldB, old.Email)
	oldB.WaitVisible("h1")
	if !strings.HasPrefix(oldB.CurrentURL(), base+"/") {
		t.Fatalf("in mixed mode the member from before signs in with the password: at %s", oldB.CurrentURL())
	}
	b.Navigate(base + "/members")
	b.Fill("#email", idpNewcomer.Email)
	b.ClickAndWait("#send-invitation")
	newcomer := browsers.New(t)
	newcomer.Navigate(e.mail.last(t, idpNewcomer.Email).Link)
	newcomer.ClickAndWait("#accept")
	contains(t, "after accepting", newcomer.Text("main"), "You have joined Example. It uses single sign-on")
	newcomer.Click(".choice[href*='" + e.idpID(idp.EntityID) + "']")
	signInAtIdP(t, e, newcomer, idpNewcomer)
	if m := e.member(idpNewcomer.Email); m.Status != store.MemberActive {
		t.Errorf("the newcomer: %+v", m)
	}

	// Enforced: the password session of the member from before ends at its next click, and
	// its password is refused, with the way in.
	b.Navigate(base + "/settings/sso")
	b.Click("#enforcement-enforced")
	if status := b.ClickAndWait("#save-sso"); status != http.StatusOK {
		t.Fatalf("enforcing from an SSO session: status %d: %s", status, b.Text("main"))
	}
	oldB.ClickAndWait("nav.menu a[href$='/credentials']")
	contains(t, "the ended session", oldB.Text("main"), "Example now requires single sign-on, so your session has ended")
	oldB.Fill("#email", old.Email)
	oldB.Fill("#password", password)
	if status := oldB.ClickAndWait("#sign-in"); status != http.StatusForbidden {
		t.Errorf("a password sign-in under enforcement: status %d, want 403", status)
	}
	contains(t, "refused password", oldB.Text("#error-summary"), "requires single sign-on")
	oldB.WaitVisible("#sso")
	checkPage(t, oldB, "login-sso-required")
}

// verifyDomainInBrowser claims a domain on the Domains page, tries to verify it before its
// TXT record exists (refused, with the page saying so), publishes the record the page shows
// and verifies it. shots: check the pages (and take their screenshots).
func (e *env) verifyDomainInBrowser(t *testing.T, b *browsertest.Browser, name string, shots bool) string {
	t.Helper()
	b.Fill("#domain", name)
	if status := b.ClickAndWait("#add-domain"); status != http.StatusOK {
		t.Fatalf("adding %s: status %d: %s", name, status, b.Text("main"))
	}
	id := e.domainID(name)
	recName, recValue := value(t, b, "#record-name-"+id), value(t, b, "#record-value-"+id)
	if recName != "_iamkit."+name || !strings.HasPrefix(recValue, sso.DomainRecordPrefix) {
		t.Fatalf("the page shows the record %q = %q", recName, recValue)
	}
	if status := b.ClickAndWait("#verify-" + id); status != http.StatusConflict {
		t.Errorf("verifying before the record exists: status %d, want 409", status)
	}
	contains(t, "unproven", b.Text("#error-summary"), "did not find the TXT record")
	if shots {
		checkPage(t, b, "domain-unverified")
	}
	if err := e.dns.SetTXT(recName, recValue); err != nil {
		t.Fatal(err)
	}
	if status := b.ClickAndWait("#verify-" + id); status != http.StatusOK {
		t.Fatalf("verifying %s: status %d: %s", name, status, b.Text("main"))
	}
	contains(t, "verified", b.Text(".notice"), name+" is verified")
	contains(t, "status", b.Text("#status-"+id), "Verified")
	if shots {
		checkPage(t, b, "domains")
	}
	return id
}

// domainID returns the ID of the account's domain called name.
func (e *env) domainID(name string) string {
	e.t.Helper()
	ds, err := e.app.IAM.SSO().Domains(e.ctx, e.app.Boot.Admin, store.Page{Limit: 50})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range ds {
		if d.Name == name {
			return d.ID
		}
	}
	e.t.Fatalf("no domain %s", name)
	return ""
}

// TestBrowserDomainForcesSSO: once the account requires single sign-on for its verified
// domain, a member with an address there cannot use the password form (whatever the
// enforcement, off here) and is sent to the identity provider, through which they sign in.
func TestBrowserDomainForcesSSO(t *testing.T) {
	e := newEnv(t)
	idpKim := samltest.User{Username: "kim", Password: password, Email: "kim@example.test", DisplayName: "Kim"}
	idp := samltest.Start(t, samltest.Options{Users: []samltest.User{idpKim}})
	kim := e.addMember(idpKim.Email, rbac.RoleDeveloper)
	base := e.URL + "/a/" + e.account()

	b := browsers.New(t)
	e.signInBrowser(b, adminEmail)
	b.Navigate(base + "/settings/domains")
	id := e.verifyDomainInBrowser(t, b, "example.test", false)
	p, err := e.app.IAM.SSO().CreateIdentityProvider(e.ctx, e.app.Boot.Admin, sso.IdPParams{
		Description: "Example SimpleSAMLphp", MetadataXML: string(idp.Metadata), Domains: []string{"example.test"},
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
	b.Navigate(base + "/settings/domains")
	if status := b.ClickAndWait("#require-" + id); status != http.StatusOK {
		t.Fatalf("requiring SSO: status %d: %s", status, b.Text("main"))
	}
	contains(t, "required", b.Text(".notice"), "now sign in through single sign-on only")
	checkPage(t, b, "domains-require-sso")

	kb := browsers.New(t)
	kb.Navigate(e.URL + "/login")
	kb.Fill("#email", kim.Email)
	kb.Fill("#password", password)
	if status := kb.ClickAndWait("#sign-in"); status != http.StatusForbidden {
		t.Errorf("kim's password sign-in: status %d, want 403", status)
	}
	contains(t, "refused password", kb.Text("#error-summary"), "requires single sign-on for your email domain")
	checkPage(t, kb, "login-domain-sso")
	kb.Click("#sso-after-refusal")
	landed := signInAtIdP(t, e, kb, idpKim)
	if !strings.HasPrefix(landed, base+"/") {
		t.Fatalf("after the IdP kim is at %s", landed)
	}

	// "Sign in with SSO" by work email: the verified domain leads to the account's IdP.
	kb2 := browsers.New(t)
	kb2.Navigate(e.URL + "/login/sso")
	kb2.Fill("#account", "nobody@unverified.example")
	if status := kb2.ClickAndWait("#continue"); status != http.StatusNotFound {
		t.Errorf("an email of no verified domain: status %d, want 404", status)
	}
	contains(t, "unknown domain", kb2.Text("#error-summary"), "No account signs in people of this email address's domain")
	kb2.Fill("#account", kim.Email)
	kb2.Click("#continue")
	if landed := signInAtIdP(t, e, kb2, idpKim); !strings.HasPrefix(landed, base+"/") {
		t.Fatalf("after discovery by email kim is at %s", landed)
	}
}

// settings reads the account's SSO settings.
func (e *env) settings() sso.Settings {
	e.t.Helper()
	s, err := e.app.IAM.SSO().Settings(e.ctx, e.app.Boot.Admin)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// idpID returns the ID of the account's IdP with an entity ID.
func (e *env) idpID(entityID string) string {
	e.t.Helper()
	ps, err := e.app.IAM.SSO().IdentityProviders(e.ctx, e.app.Boot.Admin, store.Page{Limit: 20})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range ps {
		if p.EntityID == entityID {
			return p.ID
		}
	}
	e.t.Fatalf("no IdP %s", entityID)
	return ""
}

// member returns the membership of the user with an email.
func (e *env) member(email string) store.Membership {
	e.t.Helper()
	u, err := e.app.IAM.Directory().UserByEmail(e.ctx, email)
	if err != nil {
		e.t.Fatalf("user %s: %v", email, err)
	}
	m, err := e.app.IAM.Directory().Member(e.ctx, e.app.Boot.Admin, u.ID)
	if err != nil {
		e.t.Fatalf("member %s: %v", email, err)
	}
	return m
}

// TestBrowserOIDC drives single sign-on through a real OpenID Connect provider
// (internal/oidctest: zitadel/oidc's op) with Chromium: the administrator verifies the domain,
// adds the provider by issuer, client ID and secret, and is given the redirect URI to
// register there; a person the provider vouches for then signs in from the account's sign-in
// address, on the provider's own form, and joins just in time.
func TestBrowserOIDC(t *testing.T) {
	e := newEnv(t)
	ada := oidctest.User{Subject: "u-ada", Username: "ada", Password: password, Email: "ada@example.test", EmailVerified: true, Name: "Ada Lovelace"}
	prov := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{ada}})
	base := e.URL + "/a/" + e.account()

	b := browsers.New(t)
	e.signInBrowser(b, adminEmail)
	b.Navigate(base + "/settings/domains")
	e.verifyDomainInBrowser(t, b, "example.test", false)
	b.Navigate(base + "/settings/sso")
	b.ClickAndWait("#new-oidc")
	b.Fill("#description", "Example OpenID Connect")
	b.Fill("#issuer", prov.Issuer)
	b.Fill("#client_id", "iamkit-dashboard")
	b.Fill("#client_secret", "client-secret")
	b.Fill("#domains", "example.test")
	checkPage(t, b, "idp-new-oidc")
	if status := b.ClickAndWait("#add-oidc"); status != http.StatusOK {
		t.Fatalf("adding the OIDC provider: status %d: %s", status, b.Text("main"))
	}
	contains(t, "IdP page", b.Text("main"), "OpenID Connect provider added", "Redirect URI")
	redirectURI := value(t, b, "#redirect-uri")
	if !strings.HasPrefix(redirectURI, e.URL+"/sso/"+e.account()+"/idp_") || !strings.HasSuffix(redirectURI, "/callback") {
		t.Fatalf("redirect URI %q", redirectURI)
	}
	checkPage(t, b, "idp-oidc")
	if err := prov.AddClient(oidctest.Client{ID: "iamkit-dashboard", Secret: "client-secret", RedirectURIs: []string{redirectURI}}); err != nil {
		t.Fatal(err)
	}
	b.Navigate(base + "/settings/sso")
	b.Click("#provisioning-jit")
	b.ClickAndWait("#save-sso")

	ab := browsers.New(t)
	ab.Navigate(base + "/sso")
	ab.WaitVisible("#username")
	if !strings.HasPrefix(ab.CurrentURL(), prov.Issuer+"/") {
		t.Fatalf("the sign-in address sent the browser to %s, not the provider", ab.CurrentURL())
	}
	ab.Fill("#username", ada.Username)
	ab.Fill("#password", ada.Password)
	ab.ClickAndWait("#submit")
	landed := ab.WaitURL(browsertest.HasPrefix(base + "/"))
	ab.WaitVisible("h1")
	m := e.member(ada.Email)
	if m.Status != store.MemberActive {
		t.Fatalf("ada after signing in at %s: %+v", landed, m)
	}
}
