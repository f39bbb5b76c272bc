package sso_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
)

// browser is a minimal user agent: it does not follow redirects and keeps cookies by name
// (Secure ones too, since the test servers are plain-HTTP loopback).
type browser struct {
	t       *testing.T
	client  *http.Client
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T) *browser {
	return &browser{t: t, cookies: map[string]*http.Cookie{}, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	for _, c := range b.cookies {
		if strings.HasPrefix(req.URL.Path, c.Path) {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		if c.Path == "" {
			c.Path = "/"
		}
		b.cookies[c.Name] = c
	}
	return page{res.StatusCode, res.Header, string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// acsURL is the ACS of an IdP in the env's account.
func (e *env) acsURL(idp *testIdP) string {
	return e.sp.URL + "/sso/" + e.acct.ID + "/" + idp.rec.ID + "/acs"
}

func wantPage(t *testing.T, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d:\n%s", p.status, status, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("page lacks %q:\n%s", c, p.body)
		}
	}
	if ct := p.header.Get("Content-Type"); status != http.StatusFound && status != http.StatusSeeOther && !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q", ct)
	}
	if status >= 400 {
		if p.header.Get("Cache-Control") != "no-store" || !strings.Contains(p.header.Get("Content-Security-Policy"), "default-src 'none'") ||
			p.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("security headers missing: %v", p.header)
		}
		for _, leak := range []string{"goroutine", ".go:", "panic", "sso:", "store:"} {
			if strings.Contains(p.body, leak) {
				t.Fatalf("error page leaks %q:\n%s", leak, p.body)
			}
		}
	}
}

// TestHandlerSPInitiatedRoundTrip: dashboard -> /sso/{account}/login -> crewjam IdP -> ACS
// -> session cookie -> VerifyRequest, all over HTTP.
func TestHandlerSPInitiatedRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{Description: "Crewjam"})
	e.setSettings(sso.ProvisioningJIT, sso.EnforcementEnforced)
	b := newBrowser(t)

	p := b.get(e.sp.URL + "/sso/" + e.acct.ID + "/login?return_to=" + url.QueryEscape("/projects/42?tab=1"))
	wantPage(t, p, http.StatusFound)
	loc := p.header.Get("Location")
	if !strings.HasPrefix(loc, idp.srv.URL+"/sso?") {
		t.Fatalf("redirected to %s", loc)
	}
	form, relay := idp.idpRespond(t, loc)
	if strings.Contains(relay, "projects") {
		t.Fatalf("RelayState %q carries the return path", relay)
	}

	p = b.post(e.acsURL(idp), url.Values{"SAMLResponse": {form}, "RelayState": {relay}})
	wantPage(t, p, http.StatusSeeOther)
	if got := p.header.Get("Location"); got != "/projects/42?tab=1" {
		t.Fatalf("landed on %q", got)
	}
	c := b.cookies[sso.DefaultSessionCookie]
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", c)
	}
	if len(b.cookies) != 1 {
		t.Fatalf("cookies %v: the login state cookie was not cleared", b.cookies)
	}
	req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	s, err := e.sessions.VerifyRequest(req, e.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.dir.UserByEmail(e.ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if s.UserID != u.ID || s.Method != sso.MethodSSO || s.IdPID != idp.rec.ID || s.AccountID != e.acct.ID {
		t.Fatalf("session %+v", s)
	}

	// Posting the same response again is a replay.
	p = b.post(e.acsURL(idp), url.Values{"SAMLResponse": {form}, "RelayState": {relay}})
	wantPage(t, p, http.StatusBadRequest)
}

func TestHandlerIdPInitiated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{AllowIdPInitiated: true})
	e.member("alice@example.com")
	for relay, want := range map[string]string{
		"/projects":              "/projects",
		"":                       "/",
		"https://evil.example/x": "/",
		"//evil.example":         "/",
		"/\\evil.example":        "/",
		"/%09/evil.example":      "/%09/evil.example", // percent-encoded: a path on this site
		"javascript:alert(1)//":  "/",
		"\t/\t/evil.example":     "/",
		"/ok\r\nSet-Cookie: x=1": "/",
	} {
		b := newBrowser(t)
		p := b.post(e.acsURL(idp), url.Values{"SAMLResponse": {idp.unsolicited(t, relay)}, "RelayState": {relay}})
		wantPage(t, p, http.StatusSeeOther)
		if got := p.header.Get("Location"); got != want {
			t.Fatalf("RelayState %q: redirected to %q, want %q", relay, got, want)
		}
		if b.cookies[sso.DefaultSessionCookie] == nil {
			t.Fatal("no session")
		}
	}

	// An IdP that does not allow IdP-initiated login.
	strict := e.newIdP(sso.IdPParams{})
	p := newBrowser(t).post(e.acsURL(strict), url.Values{"SAMLResponse": {strict.unsolicited(t, "/x")}})
	wantPage(t, p, http.StatusForbidden)
}

func TestHandlerChooser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	okta := e.newIdP(sso.IdPParams{Description: "Okta <staff>"})
	entra := e.newIdP(sso.IdPParams{Description: `Entra "contractors" & partners`})
	e.member("alice@example.com")
	b := newBrowser(t)

	p := b.get(e.sp.URL + "/sso/" + e.acct.ID + "/login?return_to=/reports")
	wantPage(t, p, http.StatusOK, "Okta &lt;staff&gt;", "Entra &#34;contractors&#34; &amp; partners")
	if strings.Contains(p.body, "<staff>") {
		t.Fatal("description not escaped")
	}
	for _, idp := range []*testIdP{okta, entra} {
		link := "/sso/" + e.acct.ID + "/" + idp.rec.ID + "/login?return_to=%2Freports"
		if !strings.Contains(p.body, `href="`+link+`"`) {
			t.Fatalf("no link %s in:\n%s", link, p.body)
		}
	}
	if len(b.cookies) != 0 {
		t.Fatal("the chooser began a login")
	}

	// Choosing the second IdP logs in through it.
	p = b.get(e.sp.URL + "/sso/" + e.acct.ID + "/" + entra.rec.ID + "/login?return_to=/reports")
	wantPage(t, p, http.StatusFound)
	loc := p.header.Get("Location")
	if !strings.HasPrefix(loc, entra.srv.URL) {
		t.Fatalf("redirected to %s", loc)
	}
	form, relay := entra.idpRespond(t, loc)
	p = b.post(e.acsURL(entra), url.Values{"SAMLResponse": {form}, "RelayState": {relay}})
	wantPage(t, p, http.StatusSeeOther)
	if p.header.Get("Location") != "/reports" {
		t.Fatalf("landed on %s", p.header.Get("Location"))
	}
	// That response is not accepted at the other IdP's ACS.
	form, relay = entra.idpRespond(t, b.get(e.sp.URL+"/sso/"+e.acct.ID+"/"+entra.rec.ID+"/login").header.Get("Location"))
	wantPage(t, b.post(e.acsURL(okta), url.Values{"SAMLResponse": {form}, "RelayState": {relay}}), http.StatusBadRequest)
}

// TestHandlerOpenRedirect: no request makes the SP redirect off-site.
func TestHandlerOpenRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.member("alice@example.com")
	for _, bad := range []string{"https://evil.example", "//evil.example", "/\\evil.example", "evil", "/a\nb", "%2F%2Fevil.example"} {
		for _, path := range []string{"/login", "/" + idp.rec.ID + "/login"} {
			p := newBrowser(t).get(e.sp.URL + "/sso/" + e.acct.ID + path + "?return_to=" + url.QueryEscape(bad))
			wantPage(t, p, http.StatusBadRequest)
			if strings.Contains(p.body, "evil") {
				t.Fatalf("input reflected:\n%s", p.body)
			}
		}
	}

	// A response from one browser's login posted by another browser (login CSRF), or with a
	// RelayState swapped for a URL, is refused.
	victim, attacker := newBrowser(t), newBrowser(t)
	p := attacker.get(e.sp.URL + "/sso/" + e.acct.ID + "/login?return_to=/x")
	form, relay := idp.idpRespond(t, p.header.Get("Location"))
	wantPage(t, victim.post(e.acsURL(idp), url.Values{"SAMLResponse": {form}, "RelayState": {relay}}), http.StatusBadRequest,
		"not started in this browser")
	p = attacker.get(e.sp.URL + "/sso/" + e.acct.ID + "/login")
	form, _ = idp.idpRespond(t, p.header.Get("Location"))
	wantPage(t, attacker.post(e.acsURL(idp), url.Values{"SAMLResponse": {form}, "RelayState": {"https://evil.example"}}), http.StatusBadRequest)
}

func TestHandlerErrorsAndMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	b := newBrowser(t)
	base := e.sp.URL + "/sso/" + e.acct.ID

	p := b.get(base + "/" + idp.rec.ID + "/metadata")
	if p.status != http.StatusOK || !strings.Contains(p.body, `entityID="`+base+"/"+idp.rec.ID+`/metadata"`) ||
		!strings.Contains(p.body, base+"/"+idp.rec.ID+"/acs") {
		t.Fatalf("metadata %d:\n%s", p.status, p.body)
	}

	wantPage(t, b.get(e.sp.URL+"/sso/ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ/login"), http.StatusNotFound)
	wantPage(t, b.get(base+"/idp_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ/metadata"), http.StatusNotFound)
	wantPage(t, b.get(base+"/"+idp.rec.ID+"/nope"), http.StatusNotFound)
	wantPage(t, b.get(e.sp.URL+"/sso/<script>/login"), http.StatusNotFound)
	p = b.get(base + "/" + idp.rec.ID + "/acs")
	wantPage(t, p, http.StatusMethodNotAllowed)
	if p.header.Get("Allow") != http.MethodPost {
		t.Fatalf("Allow %q", p.header.Get("Allow"))
	}
	wantPage(t, b.post(base+"/"+idp.rec.ID+"/acs", url.Values{}), http.StatusBadRequest)
	p = b.post(base+"/"+idp.rec.ID+"/acs", url.Values{"SAMLResponse": {"<script>alert(1)</script>"}})
	wantPage(t, p, http.StatusBadRequest)
	if strings.Contains(p.body, "alert") {
		t.Fatal("input reflected")
	}
	wantPage(t, b.post(base+"/"+idp.rec.ID+"/acs", url.Values{"SAMLResponse": {strings.Repeat("A", 2<<20)}}), http.StatusRequestEntityTooLarge)

	// Not invited (invite-only is the default): 403 with a clear message.
	p = b.get(base + "/login")
	idp.asUser("stranger@example.com")
	form, relay := idp.idpRespond(t, p.header.Get("Location"))
	wantPage(t, b.post(e.acsURL(idp), url.Values{"SAMLResponse": {form}, "RelayState": {relay}}), http.StatusForbidden, "not been invited")

	// A plan without SSO: the endpoints do not exist.
	f := newEnv(t, identity.PayAsYouGo().Name)
	wantPage(t, newBrowser(t).get(f.sp.URL+"/sso/"+f.acct.ID+"/login"), http.StatusNotFound)
}
