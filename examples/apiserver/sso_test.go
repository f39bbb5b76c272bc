package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store/memstore"
)

type idpOutT struct {
	ID                string   `json:"id"`
	Protocol          string   `json:"protocol"`
	URI               string   `json:"uri"`
	Description       string   `json:"description"`
	EntityID          string   `json:"entity_id"`
	SSOURL            string   `json:"sso_url"`
	MetadataXML       string   `json:"metadata_xml"`
	AllowIDPInitiated bool     `json:"allow_idp_initiated"`
	DefaultRoles      []string `json:"default_roles"`
	EmailAttribute    string   `json:"email_attribute"`
	NameAttribute     string   `json:"name_attribute"`
	GroupsAttribute   string   `json:"groups_attribute"`
	Domains           []string `json:"domains"`
	RoleRules         []struct {
		Group string   `json:"group"`
		Roles []string `json:"roles"`
	} `json:"role_rules"`
	RoleRulesBy   string `json:"role_rules_by"`
	SPEntityID    string `json:"sp_entity_id"`
	SPMetadataURL string `json:"sp_metadata_url"`
	ACSURL        string `json:"acs_url"`
	LoginURL      string `json:"login_url"`
	CreatedAt     string `json:"created_at"`
}

type ssoSettingsT struct {
	URI          string  `json:"uri"`
	Provisioning string  `json:"provisioning"`
	Enforcement  string  `json:"enforcement"`
	Since        *string `json:"since"`
}

// idpMetadata returns SAML metadata of a made-up IdP with a fresh signing certificate.
func idpMetadata(t *testing.T, entityID string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + entityID + `">` +
		`<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(der) +
		`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>` +
		`</IDPSSODescriptor></EntityDescriptor>`
}

// TestSSO configures an identity provider and SSO settings through the API and checks that
// the SAML endpoints it points the IdP at are served under /sso/.
func TestSSO(t *testing.T) {
	e := newEnv(t)
	e.verifyDomains("example.com")
	var idp idpOutT
	e.req("POST", "/identity_providers", map[string]any{
		"description": "Okta", "metadata_xml": idpMetadata(t, "https://idp.example.com/metadata"), "domains": []string{"example.com"},
	}).want(http.StatusCreated, &idp)
	prefix := e.srv.URL + "/sso/" + e.boot.AccountID + "/" + idp.ID
	if !strings.HasPrefix(idp.ID, "idp_") || idp.EntityID != "https://idp.example.com/metadata" ||
		idp.ACSURL != prefix+"/acs" || idp.SPMetadataURL != prefix+"/metadata" || idp.LoginURL != prefix+"/login" ||
		idp.URI != e.srv.URL+"/identity_providers/"+idp.ID {
		t.Fatalf("identity provider %+v", idp)
	}

	// The SAML endpoints: SP metadata for the IdP, and an SP-initiated login redirecting to it.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(idp.SPMetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), idp.ACSURL) {
		t.Fatalf("SP metadata: %d %s", resp.StatusCode, body)
	}
	resp, err = client.Get(idp.LoginURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, "https://idp.example.com/sso?") {
		t.Fatalf("login: %d to %q", resp.StatusCode, loc)
	}
	// The login state cookie is a __Host- cookie: host-only and Secure, so that no sibling
	// subdomain can plant one; SameSite=None, to come back with the IdP's cross-site POST.
	if cs := resp.Cookies(); len(cs) != 1 || !strings.HasPrefix(cs[0].Name, "__Host-") || !cs[0].Secure || !cs[0].HttpOnly ||
		cs[0].Path != "/" || cs[0].Domain != "" || cs[0].SameSite != http.SameSiteNoneMode {
		t.Fatalf("login state cookie %+v", cs)
	}

	// Listing, updating.
	var idps struct {
		IdentityProviders []idpOutT `json:"identity_providers"`
		URI               string    `json:"uri"`
		NextPageURI       *string   `json:"next_page_uri"`
	}
	e.req("GET", "/identity_providers", nil).want(http.StatusOK, &idps)
	if len(idps.IdentityProviders) != 1 || idps.IdentityProviders[0].ID != idp.ID {
		t.Fatalf("identity providers %+v", idps)
	}
	e.req("PATCH", "/identity_providers/"+idp.ID, map[string]any{"description": "Okta (prod)"}).want(http.StatusOK, &idp)
	if idp.Description != "Okta (prod)" || len(idp.Domains) != 1 {
		t.Fatalf("updated identity provider %+v", idp)
	}

	// Settings: enforcing SSO keeps the last IdP from being deleted.
	var st ssoSettingsT
	e.req("GET", "/sso_settings", nil).want(http.StatusOK, &st)
	if st.Enforcement != "off" || st.Provisioning != "invite_only" || st.Since != nil {
		t.Fatalf("settings %+v", st)
	}
	e.req("PATCH", "/sso_settings", map[string]any{"enforcement": "enforced", "provisioning": "jit"}).want(http.StatusOK, &st)
	if st.Enforcement != "enforced" || st.Provisioning != "jit" || st.Since == nil || !rfc3339Z.MatchString(*st.Since) {
		t.Fatalf("settings %+v", st)
	}
	before := e.snapshot()
	e.req("DELETE", "/identity_providers/"+idp.ID, nil).wantError(http.StatusBadRequest, "ERR_NGROK_4702")
	e.req("PATCH", "/sso_settings", map[string]any{"enforcement": "sometimes"}).wantError(http.StatusBadRequest, "ERR_NGROK_215")
	e.req("PATCH", "/sso_settings", map[string]any{}).wantError(http.StatusBadRequest, "ERR_NGROK_606")
	e.req("POST", "/identity_providers", map[string]any{"metadata_xml": "<nope/>", "domains": []string{"example.com"}}).wantError(http.StatusBadRequest, "ERR_NGROK_10027")
	e.req("POST", "/identity_providers", map[string]any{"metadata_xml": strings.Repeat(" ", 17<<10), "domains": []string{"example.com"}}).wantError(http.StatusBadRequest, "ERR_NGROK_10031")
	dev := e.createAPIKey(e.addMember("dev@example.com", rbac.RoleDeveloper))
	before.events++ // the member and the key each recorded an event
	before.events++
	before.apiKeys++
	e.reqAs(*dev.Token, "PATCH", "/sso_settings", map[string]any{"enforcement": "off"}).wantError(http.StatusForbidden, "ERR_NGROK_1220")
	if after := e.snapshot(); after != before {
		t.Fatalf("store changed by refused requests: %+v -> %+v", before, after)
	}
	e.req("PATCH", "/sso_settings", map[string]any{"enforcement": "off"}).want(http.StatusOK, &st)
	e.req("DELETE", "/identity_providers/"+idp.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/identity_providers/"+idp.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
}

// TestSSOSessionCookie: the session cookie this server sets after an SSO login is a __Host-
// cookie (host-only, Secure, Path=/), HttpOnly and SameSite=Lax, and verifies for its account.
func TestSSOSessionCookie(t *testing.T) {
	e := newEnv(t)
	e.verifyDomains("example.com")
	var idp idpOutT
	e.req("POST", "/identity_providers", map[string]any{
		"metadata_xml": idpMetadata(t, "https://idp.example.com/metadata"), "domains": []string{"example.com"},
	}).want(http.StatusCreated, &idp)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := sso.NewSessions(e.iam.SSO(), key)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	loggedIn(sessions)(rec, httptest.NewRequest(http.MethodPost, idp.ACSURL, nil),
		&sso.Login{AccountID: e.boot.AccountID, UserID: e.boot.AdminUserID, IdPID: idp.ID, Email: "admin@example.com"})
	cs := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cs) != 1 {
		t.Fatalf("%d, cookies %v: %s", rec.Code, cs, rec.Body)
	}
	c := cs[0]
	if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", c)
	}
	if _, err := sessions.VerifySession(t.Context(), e.boot.AccountID, c.Value); err != nil {
		t.Fatal(err)
	}
}

// TestSSOLeftOutWithoutHTTPS: on a base URL the sso package refuses (plain http off loopback)
// the server runs without SSO, says so in its log, and serves neither the SSO resources nor
// the SAML endpoints.
func TestSSOLeftOutWithoutHTTPS(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plans, err := identity.NewCatalog(examplePlans()...)
	if err != nil {
		t.Fatal(err)
	}
	const base = "http://api.example.com"
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	iam, ssoBase, err := newIAM(st, plans, base, logger)
	if err != nil || iam.SSO() != nil || iam.Sessions() != nil || ssoBase != "" {
		t.Fatalf("newIAM on %s: SSO %v under %q (%v), want none", base, iam.SSO(), ssoBase, err)
	}
	if !strings.Contains(logs.String(), "SSO disabled") {
		t.Fatalf("no warning in the log:\n%s", logs)
	}
	ctx := t.Context()
	if err := iam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer iam.Close(context.Background())
	b, err := iam.Bootstrap(ctx, bootstrapSpec("admin@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := newServer(deps{IAM: iam, Logger: logger, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &env{t: t, srv: srv, key: resultOf(b).APIKey}
	e.req("GET", "/bot_users", nil).want(http.StatusOK, nil)
	e.req("GET", "/identity_providers", nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("GET", "/sso_settings", nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("GET", "/sso/"+b.Account.ID+"/idp_x/login", nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
}

// TestRoleRulesEndpoint: PUT /identity_providers/{id}/role_rules replaces an IdP's
// group-to-role rules, which the IdP's representation (and its event) then carries; a body
// without role_rules changes nothing (400), an unknown role is refused (400).
func TestRoleRulesEndpoint(t *testing.T) {
	e := newEnv(t)
	e.verifyDomains("example.com")
	var idp idpOutT
	e.req("POST", "/identity_providers", map[string]any{
		"description": "Okta", "metadata_xml": idpMetadata(e.t, "https://idp.example.com/metadata"), "domains": []string{"example.com"},
	}).want(http.StatusCreated, &idp)
	if idp.RoleRules == nil || len(idp.RoleRules) != 0 {
		t.Fatalf("a new IdP's role_rules: %#v, want []", idp.RoleRules)
	}
	var got idpOutT
	e.req("PUT", "/identity_providers/"+idp.ID+"/role_rules", map[string]any{"role_rules": []map[string]any{
		{"group": "Engineering", "roles": []string{"developer"}},
		{"group": "Ops", "roles": []string{"team_manager", "developer"}},
	}}).want(http.StatusOK, &got)
	if len(got.RoleRules) != 2 || got.RoleRules[1].Group != "Ops" || len(got.RoleRules[1].Roles) != 2 || got.RoleRulesBy != e.boot.AdminUserID {
		t.Fatalf("after PUT: %+v by %q", got.RoleRules, got.RoleRulesBy)
	}
	e.req("PUT", "/identity_providers/"+idp.ID+"/role_rules", map[string]any{}).want(http.StatusBadRequest, nil)
	e.req("PUT", "/identity_providers/"+idp.ID+"/role_rules", map[string]any{"role_rules": []map[string]any{
		{"group": "x", "roles": []string{"no_such_role"}},
	}}).want(http.StatusBadRequest, nil)
	var removed idpOutT
	e.req("PUT", "/identity_providers/"+idp.ID+"/role_rules", map[string]any{"role_rules": []any{}}).want(http.StatusOK, &removed)
	if removed.RoleRules == nil || len(removed.RoleRules) != 0 || removed.RoleRulesBy != "" {
		t.Fatalf("after removing the rules: %+v by %q", removed.RoleRules, removed.RoleRulesBy)
	}
}

// TestDomains: an account claims a domain, is told the TXT record to publish, and verifies
// it; until then an IdP cannot be trusted for it, and while one is, it cannot be deleted.
func TestDomains(t *testing.T) {
	e := newEnv(t)
	var d domainOutT
	e.req("POST", "/domains", map[string]any{"domain": "Corp.Example.com"}).want(http.StatusCreated, &d)
	if d.Domain != "corp.example.com" || d.Verified || d.RecordName != "_iamkit.corp.example.com" ||
		!strings.HasPrefix(d.Record, "iamkit-domain-verification=") || d.URI != e.srv.URL+"/domains/"+d.ID {
		t.Fatalf("claimed domain %+v", d)
	}
	md := idpMetadata(t, "https://idp.example.com/metadata")
	e.req("POST", "/identity_providers", map[string]any{"metadata_xml": md, "domains": []string{"corp.example.com"}}).wantError(http.StatusBadRequest, "ERR_NGROK_215")
	e.req("POST", "/domains/"+d.ID+"/verify", nil).wantError(http.StatusConflict, "ERR_NGROK_90409")
	if err := e.dns.SetTXT(d.RecordName, d.Record); err != nil {
		t.Fatal(err)
	}
	e.req("POST", "/domains/"+d.ID+"/verify", nil).want(http.StatusOK, &d)
	if !d.Verified || d.VerifiedAt == "" {
		t.Fatalf("verified domain %+v", d)
	}
	var idp idpOutT
	e.req("POST", "/identity_providers", map[string]any{"metadata_xml": md, "domains": []string{"corp.example.com"}}).want(http.StatusCreated, &idp)
	e.req("PATCH", "/domains/"+d.ID, map[string]any{"require_sso": true}).want(http.StatusOK, &d)
	var list struct {
		Domains []domainOutT `json:"domains"`
		URI     string       `json:"uri"`
		Next    *string      `json:"next_page_uri"`
	}
	e.req("GET", "/domains", nil).want(http.StatusOK, &list)
	if len(list.Domains) != 1 || !list.Domains[0].RequireSSO {
		t.Fatalf("domains %+v", list.Domains)
	}
	e.req("DELETE", "/domains/"+d.ID, nil).wantError(http.StatusConflict, "ERR_NGROK_90409")
	e.req("DELETE", "/identity_providers/"+idp.ID, nil).want(http.StatusNoContent, nil)
	e.req("DELETE", "/domains/"+d.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/domains/"+d.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
}

// TestOIDCIdentityProvider: an OpenID Connect provider is created through the same resource
// with protocol "oidc"; the response gives the redirect URI to register, and neither it nor
// the audit log ever shows the client secret.
func TestOIDCIdentityProvider(t *testing.T) {
	e := newEnv(t)
	e.verifyDomains("example.com")
	const secret = "client-secret-s3cret"
	resp := e.req("POST", "/identity_providers", map[string]any{
		"protocol": "oidc", "issuer": "https://login.example.com", "client_id": "iamkit", "client_secret": secret,
		"description": "Zitadel", "domains": []string{"example.com"},
	}).want(http.StatusCreated, nil)
	got := resp.raw()
	id, _ := got["id"].(string)
	if got["protocol"] != "oidc" || got["entity_id"] != "https://login.example.com" || got["client_id"] != "iamkit" ||
		got["redirect_uri"] != e.srv.URL+"/sso/"+e.boot.AccountID+"/"+id+"/callback" || got["acs_url"] != nil {
		t.Fatalf("OIDC identity provider %v", got)
	}
	_, log := e.eventsAs(e.key)
	if strings.Contains(string(resp.body), secret) || strings.Contains(log, secret) {
		t.Fatal("the client secret was shown")
	}
	resp = e.req("PATCH", "/identity_providers/"+id, map[string]any{"client_secret": "rotated-" + secret}).want(http.StatusOK, nil)
	if strings.Contains(string(resp.body), secret) {
		t.Fatal("the rotated client secret was shown")
	}
	e.req("POST", "/identity_providers", map[string]any{"protocol": "ws-fed", "domains": []string{"example.com"}}).wantError(http.StatusBadRequest, "ERR_NGROK_215")
	e.req("POST", "/identity_providers", map[string]any{
		"protocol": "oidc", "issuer": "http://login.example.com", "client_id": "iamkit", "client_secret": secret, "domains": []string{"example.com"},
	}).wantError(http.StatusBadRequest, "ERR_NGROK_215")
}
