package sso_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/oidctest"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// The people of the OIDC provider: they sign in with their username and oidcPassword.
const oidcPassword = "correct horse battery"

var (
	oidcAda      = oidctest.User{Subject: "u-ada", Username: "ada", Password: oidcPassword, Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace", Groups: []string{"devs"}}
	oidcUnproven = oidctest.User{Subject: "u-eve", Username: "eve", Password: oidcPassword, Email: "eve@example.com", EmailVerified: false, Name: "Eve"}
	oidcOutsider = oidctest.User{Subject: "u-oz", Username: "oz", Password: oidcPassword, Email: "oz@elsewhere.test", EmailVerified: true, Name: "Oz"}
)

// oidcIdP is a real OIDC provider (internal/oidctest: zitadel/oidc's op) configured as an
// identity provider of the environment's account, with the client iamkit is there.
type oidcIdP struct {
	e    *env
	prov *oidctest.Provider
	rec  store.IdentityProvider
}

// newOIDCIdP starts a provider with the test users and configures it, trusted for
// example.com, with client "dashboard".
func (e *env) newOIDCIdP() *oidcIdP {
	e.t.Helper()
	prov := oidctest.Start(e.t, oidctest.Options{Users: []oidctest.User{oidcAda, oidcUnproven, oidcOutsider}})
	rec, err := e.svc.CreateOIDCProvider(e.ctx, e.admin, sso.OIDCParams{
		Description: "Zitadel", Issuer: prov.Issuer, ClientID: "dashboard", ClientSecret: sso.NewSecret("client-secret"),
		Scopes: []string{"email", "profile", oidctest.ScopeGroups}, Domains: []string{"example.com"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range []string{"dashboard", "other"} {
		if err := prov.AddClient(oidctest.Client{ID: c, Secret: "client-secret", RedirectURIs: []string{e.svc.OIDCRedirectURL(e.acct.ID, rec.ID)}}); err != nil {
			e.t.Fatal(err)
		}
	}
	return &oidcIdP{e: e, prov: prov, rec: rec}
}

// oidcBrowser is a cookie-keeping HTTP client that stops at iamkit's callback.
type oidcBrowser struct {
	t *testing.T
	c *http.Client
}

func newOIDCBrowser(t *testing.T, callbackPrefix string) *oidcBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 15 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callbackPrefix) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &oidcBrowser{t: t, c: c}
}

func (b *oidcBrowser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var authRequestField = regexp.MustCompile(`name="authRequestID" value="([^"]*)"`)

// signIn follows an authorization request to the provider's login form, signs in as u and
// returns the callback URL the provider redirects to (not followed).
func (b *oidcBrowser) signIn(p *oidcIdP, start string, u oidctest.User) *url.URL {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodGet, start, nil)
	resp, body := b.do(req)
	m := authRequestField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s ended at %s (%d) without the login form: %s", start, resp.Request.URL, resp.StatusCode, body)
	}
	form := url.Values{"authRequestID": {m[1]}, "username": {u.Username}, "password": {u.Password}}
	req, _ = http.NewRequestWithContext(b.t.Context(), http.MethodPost, p.prov.LoginURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body = b.do(req)
	loc, err := resp.Location()
	if err != nil {
		b.t.Fatalf("after the login form: %d %s, want a redirect to the callback", resp.StatusCode, body)
	}
	return loc
}

// begin starts a login through the Service and signs u in at the provider: the callback
// query and the state the browser keeps.
func (p *oidcIdP) begin(t *testing.T, u oidctest.User) (url.Values, string) {
	t.Helper()
	lr, err := p.e.svc.BeginLogin(p.e.ctx, p.e.acct.ID, p.rec.ID, "/after")
	if err != nil {
		t.Fatal(err)
	}
	if lr.AuthnRequest != nil || lr.RedirectURL == "" {
		t.Fatalf("BeginLogin of an OIDC provider: %+v", lr)
	}
	q, _ := url.Parse(lr.RedirectURL)
	for k, want := range map[string]string{"code_challenge_method": "S256", "client_id": "dashboard", "response_type": "code", "state": lr.RelayState} {
		if got := q.Query().Get(k); got != want {
			t.Errorf("authorization request %s = %q, want %q", k, got, want)
		}
	}
	if q.Query().Get("nonce") == "" || q.Query().Get("code_challenge") == "" {
		t.Errorf("authorization request without nonce or code challenge: %s", lr.RedirectURL)
	}
	b := newOIDCBrowser(t, p.e.svc.OIDCRedirectURL(p.e.acct.ID, p.rec.ID))
	return b.signIn(p, lr.RedirectURL, u).Query(), lr.RelayState
}

func (p *oidcIdP) complete(q url.Values, browserState string) (*sso.Login, error) {
	return p.e.svc.CompleteOIDCLogin(p.e.ctx, sso.OIDCCallback{
		AccountID: p.e.acct.ID, IdPID: p.rec.ID, State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), BrowserState: browserState,
	})
}

// tamper rewrites the server-side state of a login in progress.
func (p *oidcIdP) tamper(t *testing.T, state string, f func(map[string]any)) {
	t.Helper()
	key := "sso:oidc:" + state
	raw, err := p.e.st.TakeSingleUse(p.e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	f(v)
	raw, _ = json.Marshal(v)
	if err := p.e.st.PutSingleUse(p.e.ctx, key, raw, p.e.clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// TestOIDCLogin signs in through a real OIDC provider: authorization code with PKCE (S256),
// state and nonce; the ID token checked by go-oidc; the subject provisioned just in time as a
// SAML subject would be, linked by (IdP, sub), with the name and groups of the token.
func TestOIDCLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	p := e.newOIDCIdP()
	if p.rec.Protocol != sso.ProtocolOIDC || p.rec.EntityID != p.prov.Issuer {
		t.Fatalf("record %+v", p.rec)
	}
	obj := sso.IdentityProviderObjectOf(p.rec)
	if b, _ := json.Marshal(obj); strings.Contains(string(b), "client-secret") || obj.Protocol != "oidc" || obj.ClientID != "dashboard" {
		t.Fatalf("object %s", b)
	}

	q, state := p.begin(t, oidcAda)
	l, err := p.complete(q, state)
	if err != nil {
		t.Fatal(err)
	}
	if l.Email != oidcAda.Email || l.Name != oidcAda.Name || l.NameID != oidcAda.Subject || !slices.Equal(l.Groups, oidcAda.Groups) ||
		!l.UserCreated || !l.Joined || l.ReturnTo != "/after" || l.IdPID != p.rec.ID {
		t.Fatalf("login %+v", l)
	}
	err = e.st.View(e.ctx, func(r store.Reader) error {
		x, err := r.ExternalIdentity(e.ctx, p.rec.ID, oidcAda.Subject)
		if err == nil && x.UserID != l.UserID {
			err = errors.New("linked to another user")
		}
		return err
	})
	if err != nil {
		t.Fatalf("the subject's link: %v", err)
	}
	// A second login: the same user, no longer created.
	q, state = p.begin(t, oidcAda)
	if again, err := p.complete(q, state); err != nil || again.UserID != l.UserID || again.UserCreated || again.Joined {
		t.Fatalf("second login %+v, %v", again, err)
	}
	// A callback is good once.
	if _, err := p.complete(q, state); store.CodeOf(err) != sso.CodeOIDCState {
		t.Fatalf("the callback again: %v, want %s", err, sso.CodeOIDCState)
	}

	// The client secret is what the token endpoint checks: a wrong one fails the exchange,
	// the rotated one works. A SAML IdP has no client to change.
	for _, c := range []struct{ secret, code string }{{"not-the-secret", sso.CodeOIDCExchange}, {"client-secret", ""}} {
		secret := sso.NewSecret(c.secret)
		if _, err := e.svc.UpdateIdentityProvider(e.ctx, e.admin, p.rec.ID, sso.IdPUpdate{ClientSecret: &secret}); err != nil {
			t.Fatal(err)
		}
		q, state = p.begin(t, oidcAda)
		if _, err := p.complete(q, state); store.CodeOf(err) != c.code {
			t.Fatalf("secret %q: %v, want code %q", c.secret, err, c.code)
		}
	}
	saml := e.newIdP(sso.IdPParams{})
	cid := "x"
	if _, err := e.svc.UpdateIdentityProvider(e.ctx, e.admin, saml.rec.ID, sso.IdPUpdate{ClientID: &cid}); invalidField(err) != "client_id" {
		t.Fatalf("a client ID for a SAML IdP: %v", err)
	}
}

// TestOIDCLoginRefusals: each broken part of the flow refuses the login, with its code.
func TestOIDCLoginRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	p := e.newOIDCIdP()
	cases := []struct {
		name string
		user oidctest.User
		prep func(t *testing.T, q url.Values, state string) (url.Values, string)
		code string
	}{
		{"wrong state in the browser", oidcAda, func(t *testing.T, q url.Values, state string) (url.Values, string) {
			return q, strings.Repeat("A", len(state))
		}, sso.CodeOIDCState},
		{"state of no login", oidcAda, func(t *testing.T, q url.Values, _ string) (url.Values, string) {
			other := strings.Repeat("B", 22)
			q.Set("state", other)
			return q, other
		}, sso.CodeOIDCState},
		{"wrong nonce", oidcAda, func(t *testing.T, q url.Values, state string) (url.Values, string) {
			p.tamper(t, state, func(v map[string]any) { v["n"] = "another-nonce" })
			return q, state
		}, sso.CodeOIDCNonce},
		{"missing PKCE verifier", oidcAda, func(t *testing.T, q url.Values, state string) (url.Values, string) {
			p.tamper(t, state, func(v map[string]any) { v["v"] = "" })
			return q, state
		}, sso.CodeOIDCExchange},
		{"wrong PKCE verifier", oidcAda, func(t *testing.T, q url.Values, state string) (url.Values, string) {
			p.tamper(t, state, func(v map[string]any) { v["v"] = strings.Repeat("x", 43) })
			return q, state
		}, sso.CodeOIDCExchange},
		{"provider error", oidcAda, func(t *testing.T, q url.Values, state string) (url.Values, string) {
			q.Set("error", "access_denied")
			q.Del("code")
			return q, state
		}, sso.CodeOIDCError},
		{"unverified email", oidcUnproven, nil, string(sso.ReasonEmailNotVerified)},
		{"email outside the IdP's verified domains", oidcOutsider, nil, string(sso.ReasonUntrustedDomain)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, state := p.begin(t, c.user)
			if c.prep != nil {
				q, state = c.prep(t, q, state)
			}
			l, err := p.complete(q, state)
			if store.CodeOf(err) != c.code || l != nil {
				t.Fatalf("login %+v, %v; want code %s", l, err, c.code)
			}
		})
	}
	for _, email := range []string{oidcUnproven.Email, oidcOutsider.Email} {
		if _, err := e.dir.UserByEmail(e.ctx, email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused login created %s: %v", email, err)
		}
	}
}

// TestOIDCWrongAudience: a code the provider issued to another client (an ID token for
// another audience) is refused: the token endpoint will not give it to iamkit's client.
func TestOIDCWrongAudience(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	p := e.newOIDCIdP()
	lr, err := e.svc.BeginLogin(e.ctx, e.acct.ID, p.rec.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(lr.RedirectURL)
	q := u.Query()
	q.Set("client_id", "other")
	u.RawQuery = q.Encode()
	b := newOIDCBrowser(t, e.svc.OIDCRedirectURL(e.acct.ID, p.rec.ID))
	cb := b.signIn(p, u.String(), oidcAda).Query()
	if l, err := p.complete(cb, lr.RelayState); store.CodeOf(err) != sso.CodeOIDCExchange || l != nil {
		t.Fatalf("login with another client's code: %+v, %v", l, err)
	}
}

// TestOIDCThroughHandler: the Handler's login address sends the browser to the provider with
// a state cookie, and its callback ends in a session; the chooser lists OIDC and SAML IdPs
// alike; SAML endpoints do not exist for an OIDC provider.
func TestOIDCThroughHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementOff)
	saml := e.newIdP(sso.IdPParams{Description: "Okta"})
	p := e.newOIDCIdP()
	choices, err := e.svc.LoginChoices(e.ctx, e.acct.ID)
	if err != nil || len(choices) != 2 {
		t.Fatalf("chooser %+v, %v", choices, err)
	}
	if !slices.ContainsFunc(choices, func(c sso.IdPChoice) bool { return c.ID == p.rec.ID && c.Description == "Zitadel" }) ||
		!slices.ContainsFunc(choices, func(c sso.IdPChoice) bool { return c.ID == saml.rec.ID }) {
		t.Fatalf("chooser %+v", choices)
	}
	callback := e.svc.OIDCRedirectURL(e.acct.ID, p.rec.ID)
	b := newOIDCBrowser(t, callback)
	cb := b.signIn(p, e.sp.URL+"/sso/"+e.acct.ID+"/"+p.rec.ID+"/login", oidcAda)
	if !strings.HasPrefix(cb.String(), callback+"?") {
		t.Fatalf("the provider sent the browser to %s", cb)
	}
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, cb.String(), nil)
	resp, body := b.do(req)
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	var session bool
	for _, c := range resp.Cookies() {
		session = session || (c.Name == sso.DefaultSessionCookie && c.Value != "")
	}
	if !session {
		t.Fatalf("no session cookie after the callback: %v", resp.Header["Set-Cookie"])
	}
	// The same callback again, or from a browser that did not begin the login: refused.
	resp, _ = b.do(req)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback replayed: %d, want 400", resp.StatusCode)
	}
	for _, path := range []string{"/metadata", "/acs"} {
		method := http.MethodGet
		if path == "/acs" {
			method = http.MethodPost
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, e.sp.URL+"/sso/"+e.acct.ID+"/"+p.rec.ID+path, strings.NewReader("SAMLResponse=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, _ := b.do(req); resp.StatusCode < 400 {
			t.Errorf("%s of an OIDC provider: %d", path, resp.StatusCode)
		}
	}
}
