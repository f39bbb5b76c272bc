package sso_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// setCookies sends req without following redirects and returns the response's Set-Cookie
// headers, parsed.
func setCookies(t *testing.T, client *http.Client, req *http.Request) (*http.Response, []*http.Cookie) {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	var out []*http.Cookie
	for _, line := range res.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		out = append(out, c)
	}
	return res, out
}

// wantHostCookie fails unless c is a __Host- cookie as browsers require one to be (Secure,
// Path=/, no Domain), HttpOnly, with an explicit SameSite.
func wantHostCookie(t *testing.T, where string, c *http.Cookie, sameSite http.SameSite) {
	t.Helper()
	if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != sameSite {
		t.Fatalf("%s: cookie %q: Secure=%v Path=%q Domain=%q HttpOnly=%v SameSite=%v; want __Host-, Secure, Path=/, no Domain, HttpOnly, SameSite=%v",
			where, c.Name, c.Secure, c.Path, c.Domain, c.HttpOnly, c.SameSite, sameSite)
	}
}

// TestEveryCookieIsHostPrefixed: every Set-Cookie the handlers write, the login state
// (SameSite=None: it must come back with the IdP's cross-site POST) and the session
// (SameSite=Lax), when set and when cleared, on success and on failure, is a __Host- cookie:
// host-only and Secure, so that no sibling subdomain can plant one (cookie tossing).
func TestEveryCookieIsHostPrefixed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	e.newIdP(sso.IdPParams{}) // two IdPs: the account's login page is a chooser
	e.member("alice@example.com")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	post := func(form url.Values, cookies ...*http.Cookie) *http.Request {
		req, err := http.NewRequest(http.MethodPost, e.acsURL(idp), strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		return req
	}

	seen := 0
	check := func(where string, cs []*http.Cookie) {
		t.Helper()
		for _, c := range cs {
			seen++
			want := http.SameSiteNoneMode
			if c.Name == sso.DefaultSessionCookie {
				want = http.SameSiteLaxMode
			}
			wantHostCookie(t, where, c, want)
		}
	}

	// Begin: the login state cookie.
	res, state := setCookies(t, client, get(e.sp.URL+"/sso/"+e.acct.ID+"/"+idp.rec.ID+"/login"))
	if len(state) != 1 || res.StatusCode != http.StatusFound {
		t.Fatalf("begin: %d, cookies %v", res.StatusCode, state)
	}
	check("begin", state)
	form, relay := idp.idpRespond(t, res.Header.Get("Location"))

	// A failed ACS post clears the state cookie it was given.
	_, cs := setCookies(t, client, post(url.Values{"SAMLResponse": {"bm90IHhtbA=="}, "RelayState": {relay}}, state...))
	if len(cs) != 1 || cs[0].Name != state[0].Name || cs[0].MaxAge >= 0 {
		t.Fatalf("failed ACS: cookies %v", cs)
	}
	check("failed ACS", cs)

	// A successful one clears it too and sets the session cookie.
	res, state = setCookies(t, client, get(e.sp.URL+"/sso/"+e.acct.ID+"/"+idp.rec.ID+"/login"))
	check("begin again", state)
	form, relay = idp.idpRespond(t, res.Header.Get("Location"))
	res, cs = setCookies(t, client, post(url.Values{"SAMLResponse": {form}, "RelayState": {relay}}, state...))
	if res.StatusCode != http.StatusSeeOther || len(cs) != 2 {
		t.Fatalf("ACS: %d, cookies %v", res.StatusCode, cs)
	}
	check("ACS", cs)
	if seen != 5 {
		t.Fatalf("checked %d cookies, want 5", seen)
	}

	// Go's cookie jar, like current browsers, keeps and sends Secure cookies over plain
	// HTTP to a loopback host: a whole login works against the httptest server.
	t.Run("GoCookieJarOverLoopbackHTTP", func(t *testing.T) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Jar: jar, CheckRedirect: client.CheckRedirect}
		res, _ := setCookies(t, c, get(e.sp.URL+"/sso/"+e.acct.ID+"/"+idp.rec.ID+"/login"))
		form, relay := idp.idpRespond(t, res.Header.Get("Location"))
		req := post(url.Values{"SAMLResponse": {form}, "RelayState": {relay}})
		res, _ = setCookies(t, c, req)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("ACS through a cookie jar: %d", res.StatusCode)
		}
		u, _ := url.Parse(e.sp.URL + "/dashboard")
		var names []string
		for _, c := range jar.Cookies(u) {
			names = append(names, c.Name)
		}
		if len(names) != 1 || names[0] != sso.DefaultSessionCookie {
			t.Fatalf("jar holds %v, want only the session cookie", names)
		}
	})
}

// TestSessionCookieName: the session cookie's name is configurable, always with the
// __Host- prefix, and CookieLogin, SessionCookie and VerifyRequest agree on it.
func TestSessionCookieName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	for _, bad := range []string{"", "session", "__Secure-session", "__host-session", "__Host-a b", "__Host-a;b", "__Host-" + strings.Repeat("x", 60)} {
		_, err := sso.NewSessions(e.svc, e.key, sso.WithSessionCookie(bad))
		wantCode(t, err, sso.CodeConfigInvalid)
	}
	ss, err := sso.NewSessions(e.svc, e.key, sso.WithSessionCookie("__Host-dash"))
	if err != nil {
		t.Fatal(err)
	}
	u := e.member("alice@example.com")
	tok, sess, err := ss.IssueSession(e.ctx, e.principal(u.ID), sso.MethodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	c := ss.SessionCookie(tok, sess)
	if c.Name != "__Host-dash" || !c.Expires.Equal(sess.ExpiresAt) {
		t.Fatalf("cookie %+v", c)
	}
	wantHostCookie(t, "SessionCookie", c, http.SameSiteLaxMode)
	for name, want := range map[string]string{"__Host-dash": "", sso.DefaultSessionCookie: sso.CodeSessionInvalid} {
		r, _ := http.NewRequest(http.MethodGet, "/dashboard", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: tok})
		_, err := ss.VerifyRequest(r, e.acct.ID)
		if want == "" && err != nil || want != "" && store.CodeOf(err) != want {
			t.Fatalf("cookie %s: %v, want %v", name, err, want)
		}
	}
}
