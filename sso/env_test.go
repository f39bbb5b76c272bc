package sso_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/logger"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/dnstest"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// This file builds a complete environment for the Service, Sessions and Handler tests:
// memstore, identity, rbac, an SSO-enabled account with an administrator, an httptest
// server for iamkit's SSO endpoints, and crewjam/saml IdentityProviders (an independent IdP
// implementation, signing with RSA-SHA256) on their own httptest servers.
//
// The clock is a fake one started at the wall time: crewjam stamps assertions with the wall
// clock, so tests advance the fake clock only by seconds, well within the Validator's skew.

// ssoPlan is an enterprise-like plan with three seats, for seat-limit tests.
var ssoPlan = identity.Plan{Name: "sso3", Seats: 3, Features: []identity.Feature{
	identity.FeatureRBAC, identity.FeatureSSO, identity.FeatureBotUsers,
}}

type env struct {
	t        testing.TB
	ctx      context.Context
	clk      *clock.Fake
	st       store.Store
	authz    *rbac.Authorizer
	dir      *identity.Directory
	svc      *sso.Service
	sessions *sso.Sessions
	key      ed25519.PrivateKey
	sp       *httptest.Server // serves the Handler
	handler  *sso.Handler
	acct     store.Account
	admin    identity.Principal
	dns      *dnstest.Server // answers the TXT records that verify domains
}

func newEnv(t testing.TB, plan string) *env {
	t.Helper()
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	st := testenv.Mem(t, clk)
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise(), ssoPlan)
	if err != nil {
		t.Fatal(err)
	}
	authz := testenv.Authz(t, st, plans, rbac.WithClock(clk))
	e := &env{t: t, ctx: t.Context(), clk: clk, st: st, authz: authz,
		dir: testenv.Directory(t, st, authz, identity.WithClock(clk))}

	mux := http.NewServeMux()
	e.sp = httptest.NewServer(mux)
	t.Cleanup(e.sp.Close)
	e.dns = dnstest.Start(t)
	e.svc, err = sso.New(st, authz, e.sp.URL, sso.WithClock(clk), sso.WithResolver(e.dns.Resolver()))
	if err != nil {
		t.Fatal(err)
	}
	_, e.key, err = ed25519.GenerateKey(rand.Reader) // tests only: the library never generates keys
	if err != nil {
		t.Fatal(err)
	}
	if e.sessions, err = sso.NewSessions(e.svc, e.key, sso.WithSessionTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if e.handler, err = sso.NewHandler(e.svc, e.sessions.CookieLogin()); err != nil {
		t.Fatal(err)
	}
	mux.Handle(e.handler.Pattern(), e.handler)

	founder := e.user("founder@example.com")
	if e.acct, err = e.dir.CreateAccount(e.ctx, founder.ID, "acme", plan); err != nil {
		t.Fatal(err)
	}
	e.admin = e.principal(founder.ID)
	e.verifyDomains("example.com", "example.org")
	e.tick()
	return e
}

// verifyDomains claims and verifies domains for the environment's account through DNS, as
// an administrator would: a domain it already has is left alone, and nothing is done on a
// plan without SSO.
func (e *env) verifyDomains(names ...string) {
	e.t.Helper()
	for _, n := range names {
		d, err := e.svc.ClaimDomain(e.ctx, e.admin, n)
		switch {
		case errors.Is(err, store.ErrFeatureUnavailable):
			return
		case store.CodeOf(err) == store.CodeAlreadyExists:
			continue
		case err != nil:
			e.t.Fatalf("claiming %s: %v", n, err)
		}
		rec := sso.DomainRecordOf(d)
		if err := e.dns.SetTXT(rec.Name, rec.Value); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.svc.VerifyDomain(e.ctx, e.admin, d.ID); err != nil {
			e.t.Fatalf("verifying %s: %v", n, err)
		}
	}
}

// tick advances the fake clock by a second, so records made before and after are ordered.
func (e *env) tick() { e.clk.Advance(time.Second) }

func (e *env) user(email string) store.User {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) principal(id string) identity.Principal {
	e.t.Helper()
	p, err := e.dir.Principal(e.ctx, e.acct.ID, id, identity.SourceDashboard, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// member adds a new user as a member with roles.
func (e *env) member(email string, roles ...string) store.User {
	e.t.Helper()
	u := e.user(email)
	if _, err := e.dir.AddMember(e.ctx, e.admin, u.ID, roles); err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	return u
}

// bots returns a bot-user service on the environment's store.
func (e *env) bots() *botuser.Service {
	e.t.Helper()
	bots, err := botuser.New(e.st, e.authz, botuser.WithClock(e.clk))
	if err != nil {
		e.t.Fatal(err)
	}
	return bots
}

func (e *env) setSettings(p sso.Provisioning, enf sso.Enforcement) sso.Settings {
	e.t.Helper()
	s, err := e.svc.UpdateSettings(e.ctx, e.admin, sso.SettingsUpdate{Provisioning: &p, Enforcement: &enf})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	return s
}

// testIdP is a crewjam/saml IdentityProvider on its own server. Its session (the user it
// asserts) can be changed between logins.
type testIdP struct {
	e   *env
	srv *httptest.Server
	idp *saml.IdentityProvider
	rec store.IdentityProvider

	mu   sync.Mutex
	user *saml.Session
}

func (p *testIdP) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := *p.user
	return &s
}

// GetServiceProvider fetches the SP metadata from its entity ID, which is iamkit's metadata
// URL: the IdP learns about iamkit as a real one would.
func (p *testIdP) GetServiceProvider(_ *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	if !strings.HasPrefix(entityID, p.e.sp.URL+"/") {
		return nil, os.ErrNotExist
	}
	res, err := p.e.sp.Client().Get(entityID)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, os.ErrNotExist
	}
	var md saml.EntityDescriptor
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &md, xml.Unmarshal(b, &md)
}

// asUser makes the IdP assert email (as NameID and mail attribute) from now on.
func (p *testIdP) asUser(email string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.user = &saml.Session{
		ID: "s-" + email, CreateTime: now, ExpireTime: now.Add(time.Hour), Index: "idx1",
		NameID: email, NameIDFormat: sso.NameIDFormatEmail,
		UserEmail: email, UserCommonName: "Test User", Groups: []string{"devs"},
	}
}

func loadSigner(t testing.TB) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "idp.key"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	crtPEM, err := os.ReadFile(filepath.Join("testdata", "idp.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ = pem.Decode(crtPEM)
	crt, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(crypto.Signer), crt
}

// newIdP starts a crewjam IdP and configures it in the account (metadata fetched from the
// IdP itself) with p's fields; MetadataXML and Domains default to the IdP's and
// ["example.com"].
func (e *env) newIdP(p sso.IdPParams) *testIdP {
	e.t.Helper()
	key, crt := loadSigner(e.t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	ti := &testIdP{e: e, srv: srv}
	ti.idp = &saml.IdentityProvider{
		Key: key, Certificate: crt, Logger: logger.DefaultLogger,
		MetadataURL: *base.JoinPath("/metadata"), SSOURL: *base.JoinPath("/sso"),
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		ServiceProviderProvider: ti, SessionProvider: ti,
	}
	ti.asUser("alice@example.com")
	mux.HandleFunc("/metadata", ti.idp.ServeMetadata)
	mux.HandleFunc("/sso", ti.idp.ServeSSO)
	if p.MetadataXML == "" {
		res, err := srv.Client().Get(srv.URL + "/metadata")
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		p.MetadataXML = string(b)
	}
	if p.Domains == nil {
		p.Domains = []string{"example.com"}
	}
	e.verifyDomains(p.Domains...)
	if p.GroupsAttribute == "" {
		p.GroupsAttribute = "eduPersonAffiliation" // where crewjam puts groups
	}
	rec, err := e.svc.CreateIdentityProvider(e.ctx, e.admin, p)
	if err != nil {
		e.t.Fatal(err)
	}
	ti.rec = rec
	e.tick()
	return ti
}

var formField = regexp.MustCompile(`name="(SAMLResponse|RelayState)" value="([^"]*)"`)

// postedForm extracts the auto-submit form an IdP answers with.
func postedForm(t testing.TB, page []byte) (samlResponse, relayState string) {
	t.Helper()
	for _, m := range formField.FindAllSubmatch(page, -1) {
		v := html.UnescapeString(string(m[2]))
		if string(m[1]) == "SAMLResponse" {
			samlResponse = v
		} else {
			relayState = v
		}
	}
	if samlResponse == "" {
		t.Fatalf("no SAMLResponse in IdP page:\n%s", page)
	}
	return samlResponse, relayState
}

// idpRespond has the IdP answer an SP-initiated request (HTTP-Redirect binding).
func (p *testIdP) idpRespond(t testing.TB, redirectURL string) (samlResponse, relayState string) {
	t.Helper()
	res, err := p.srv.Client().Get(redirectURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("IdP answered %s:\n%s", res.Status, b)
	}
	return postedForm(t, b)
}

// unsolicited has the IdP start a login (IdP-initiated) with relayState.
func (p *testIdP) unsolicited(t testing.TB, relayState string) string {
	t.Helper()
	sp, err := p.e.svc.ServiceProvider(p.e.ctx, p.e.acct.ID, p.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.idp.ServeIDPInitiated(rec, httptest.NewRequest(http.MethodGet, "/login", nil), sp.EntityID, relayState)
	if rec.Code != http.StatusOK {
		t.Fatalf("IdP answered %d: %s", rec.Code, rec.Body)
	}
	form, _ := postedForm(t, rec.Body.Bytes())
	return form
}

// login runs an SP-initiated login through the Service API (no HTTP handler) as email.
func (e *env) login(p *testIdP, email, returnTo string) (*sso.Login, error) {
	e.t.Helper()
	p.asUser(email)
	lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, p.rec.ID, returnTo)
	if err != nil {
		return nil, err
	}
	u, err := lr.AuthnRequest.RedirectURL(lr.RelayState)
	if err != nil {
		e.t.Fatal(err)
	}
	form, relay := p.idpRespond(e.t, u)
	return e.svc.CompleteLogin(e.ctx, sso.ACSRequest{
		AccountID: e.acct.ID, IdPID: p.rec.ID, SAMLResponse: form, RelayState: relay, BrowserState: lr.RelayState,
	})
}

// wantErr fails unless err matches target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func wantDenied(t *testing.T, err error, reason sso.LoginReason) {
	t.Helper()
	if !errors.Is(err, store.ErrDenied) || store.CodeOf(err) != string(reason) {
		t.Fatalf("error %v, want login denied: %s", err, reason)
	}
}

// wantCode fails unless err has code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if store.CodeOf(err) != code {
		t.Fatalf("error %v (code %q), want code %q", err, store.CodeOf(err), code)
	}
}

// invalidField returns the field an error matching store.ErrInvalid names, or "" for any
// other error.
func invalidField(err error) string {
	var se *store.Error
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) {
		return ""
	}
	return se.Field
}

// isMetadataErr reports whether err is rejected IdP metadata: store.ErrInvalid on a part of
// metadata_xml.
func isMetadataErr(err error) bool {
	return strings.HasPrefix(invalidField(err), "metadata_xml.")
}

// isResponseErr reports whether err is a rejected SAML response: store.ErrUnauthenticated
// with one of the saml_ codes.
func isResponseErr(err error) bool {
	return errors.Is(err, store.ErrUnauthenticated) && strings.HasPrefix(store.CodeOf(err), "saml_")
}
