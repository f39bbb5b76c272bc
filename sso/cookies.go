package sso

import (
	"net/http"
	"strings"
	"time"
)

// Every cookie this package sets is here, and every one is a "__Host-" cookie: host-only
// (no Domain), Secure and Path=/, which browsers require of the prefix, so that no sibling
// subdomain can plant one in a user's browser (cookie tossing). All are HttpOnly.
//
// Browsers keep a Secure cookie set over plain HTTP only from an origin they treat as
// secure: Chromium-based browsers and recent Firefox do so for http://localhost, some for
// 127.0.0.1, others not at all, and then an SP-initiated login over plain HTTP fails as
// "not started in this browser". Try the endpoints over https, or on http://localhost in
// such a browser. Go's net/http/cookiejar treats localhost and loopback addresses as
// secure, like those browsers, so tests against an httptest server work with it.

// stateCookiePrefix names the cookies that bind an SP-initiated login to the browser that
// began it (login CSRF protection). Each holds the login's RelayState key and is named after
// its first 8 characters, so that logins begun in several tabs do not overwrite each other;
// the ACS clears the one it uses, and abandoned ones expire with the login TTL.
//
// The __Host- prefix forbids a Path other than "/", so the cookie, which used to be scoped
// to the ACS URL of its IdP, now goes with every request to the host while it lives. It
// holds only the opaque single-use key, which is worth nothing without the IdP's response
// to that very request, and the key's server-side record binds it to its account, IdP and
// request: the binding never relied on the path. Without the prefix, an attacker holding
// any sibling subdomain could plant his own login's cookie in a victim's browser and then
// have it post his SAML response, logging the victim into the attacker's account.
const stateCookiePrefix = "__Host-iamkit_sso_"

func stateCookieName(relayKey string) string { return stateCookiePrefix + relayKey[:8] }

// stateCookie keeps relayKey in the browser that begins the login, for ttl. It is
// SameSite=None: it must come back with the IdP's cross-site POST to the ACS.
func stateCookie(relayKey string, ttl time.Duration) *http.Cookie {
	return &http.Cookie{
		Name: stateCookieName(relayKey), Value: relayKey, Path: "/", MaxAge: int(ttl / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	}
}

// clearStateCookie removes the state cookie of relayKey.
func clearStateCookie(relayKey string) *http.Cookie {
	c := stateCookie(relayKey, 0)
	c.Value, c.MaxAge = "", -1
	return c
}

// DefaultSessionCookie is the default name of the session cookie (see WithSessionCookie).
const DefaultSessionCookie = "__Host-iamkit_session"

// maxCookieName bounds the name WithSessionCookie accepts.
const maxCookieName = 64

// WithSessionCookie sets the name of the session cookie that CookieLogin sets,
// VerifyRequest reads and SessionCookie builds (default DefaultSessionCookie). It must
// start with "__Host-" and be a valid cookie name of at most 64 bytes; NewSessions refuses
// any other (store.ErrInvalid, code CodeConfigInvalid).
func WithSessionCookie(name string) SessionOption {
	return func(c *sessionConfig) { c.cookie = name }
}

func checkSessionCookieName(name string) error {
	if !strings.HasPrefix(name, "__Host-") || len(name) > maxCookieName || (&http.Cookie{Name: name}).Valid() != nil {
		return configErr("session_cookie", `must be a cookie name starting with "__Host-", at most 64 bytes`, nil)
	}
	return nil
}

// SessionCookie returns the cookie that carries the session token of s: the configured
// name, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, expiring with the session. It is
// the cookie CookieLogin sets; a LoginFunc of the embedder's own sets it with
// http.SetCookie.
func (ss *Sessions) SessionCookie(token string, s Session) *http.Cookie {
	return &http.Cookie{
		Name: ss.cookie, Value: token, Path: "/", Expires: s.ExpiresAt,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// CookieLogin returns a LoginFunc that issues the session of a completed SSO login
// (IssueLoginSession), stores it in the session cookie (SessionCookie) and redirects to the
// login's return path with 303 See Other. Failures are error pages, as Handler.Error
// writes them.
func (ss *Sessions) CookieLogin() LoginFunc {
	return func(w http.ResponseWriter, r *http.Request, l *Login) {
		tok, sess, err := ss.IssueLoginSession(r.Context(), l)
		if err != nil {
			ss.svc.writeError(w, r, err)
			return
		}
		http.SetCookie(w, ss.SessionCookie(tok, sess))
		returnTo, err := RelayStatePath(l.ReturnTo)
		if err != nil {
			returnTo = DefaultReturnPath
		}
		securityHeaders(w, "")
		w.Header().Set("Location", returnTo)
		w.WriteHeader(http.StatusSeeOther)
	}
}

// VerifyRequest verifies the session token in r's session cookie for the account
// accountID, as VerifySession. A missing cookie is store.ErrUnauthenticated with code
// CodeSessionInvalid.
func (ss *Sessions) VerifyRequest(r *http.Request, accountID string) (Session, error) {
	c, err := r.Cookie(ss.cookie)
	if err != nil {
		return Session{}, invalidSession("no session cookie", nil)
	}
	return ss.VerifySession(r.Context(), accountID, c.Value)
}
