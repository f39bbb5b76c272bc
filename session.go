package iamkit

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// CodeAccountRequired is the code of the ErrUnauthenticated that SessionAuth answers when the
// request names no account: a session is only ever verified for the account of the URL.
const CodeAccountRequired = "account_required"

// SessionOption configures SessionAuth.
type SessionOption func(*sessionConfig)

type sessionConfig struct {
	cookie  func(accountID string) string
	onError func(w http.ResponseWriter, r *http.Request, err error)
}

// WithSessionCookieName makes SessionAuth read the session token from the cookie that
// name(accountID) names, for the account of the request, instead of the Dashboard's one
// cookie (sso.WithDashboardCookie). A dashboard whose URLs name the account, and that lets one
// person hold sessions in several accounts at once (a tab per account), keeps one cookie per
// account: each name must start with "__Host-" (a request is refused with store.ErrInvalid,
// Field "session_cookie", otherwise), and the embedder sets the cookie with the attributes
// sso.Dashboard.SetCookie gives its own (Secure, HttpOnly, SameSite=Lax, Path=/).
func WithSessionCookieName(name func(accountID string) string) SessionOption {
	return func(c *sessionConfig) { c.cookie = name }
}

// WithSessionFailure sets how SessionAuth answers a request without a usable session (no
// cookie, an ended or invalid session, a cross-origin state change, a store failure): a
// dashboard redirects to its sign-in page, say. f gets the error, which matches one of the
// store's sentinels (see SessionAuth). Default: the IAM's ErrorFormat.
func WithSessionFailure(f func(w http.ResponseWriter, r *http.Request, err error)) SessionOption {
	return func(c *sessionConfig) { c.onError = f }
}

// hostCookiePrefix is the prefix of the cookies browsers keep host-only, Secure and on Path=/.
const hostCookiePrefix = "__Host-"

// sessionKey is the request context key of the verified dashboard session.
type sessionKey struct{}

// SessionFrom returns the dashboard session SessionAuth verified for the request whose context
// ctx is, and false if there is none.
func SessionFrom(ctx context.Context) (sso.Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(sso.Session)
	return s, ok
}

// SessionAuth returns middleware that authenticates every request by its dashboard session
// (WithDashboard), in the account that account(r) names: from the request's URL, never from
// the session, so that a session is only ever good in its own account. It refuses a
// state-changing request that a browser sent from another origin (http.CrossOriginProtection:
// store.ErrDenied, code sso.CodeCrossOrigin), reads the session cookie, verifies the session
// (sso.Dashboard.Verify: its member still active, its login method still allowed by the
// account's SSO enforcement, its identity provider still there, ...), and hands the request to
// next with the session's user as the Principal in its context (PrincipalFrom: source
// dashboard, no credential, its subject the user's email) and the session itself (SessionFrom).
//
// A request without a usable session never reaches next. It is answered by the failure
// handler (WithSessionFailure; default the IAM's ErrorFormat) with an error that matches
// store.ErrUnauthenticated (no account in the URL, CodeAccountRequired; no cookie, or a session that
// is not valid in the account, sso.CodeSessionInvalid; one that something has ended,
// sso.CodeSessionRevoked), store.ErrDenied (a cross-origin state change), or the store's
// failure. Without WithDashboard every request is answered with store.ErrNotFound, code
// CodeNotEnabled.
func (i *IAM) SessionAuth(account func(*http.Request) string, opts ...SessionOption) func(http.Handler) http.Handler {
	c := sessionConfig{onError: i.WriteError}
	for _, o := range opts {
		o(&c)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, p, err := i.verifySession(r, account, c.cookie)
			if err != nil {
				c.onError(w, r, err)
				return
			}
			ctx := context.WithValue(WithPrincipal(r.Context(), p), sessionKey{}, s)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// verifySession verifies the session of r in the account account(r) names, reading its token
// from the cookie cookie names (the Dashboard's own when cookie is nil), and returns it with
// its user's principal.
func (i *IAM) verifySession(r *http.Request, account func(*http.Request) string, cookie func(string) string) (sso.Session, Principal, error) {
	if i.dash == nil {
		return sso.Session{}, Principal{}, store.NewError(store.ErrNotFound, CodeNotEnabled, "dashboard sessions are not enabled")
	}
	accountID := ""
	if account != nil {
		accountID = account(r)
	}
	if accountID == "" {
		return sso.Session{}, Principal{}, store.NewError(store.ErrUnauthenticated, CodeAccountRequired, "the request names no account to verify a session in")
	}
	var s sso.Session
	var err error
	if cookie == nil {
		s, err = i.dash.VerifyRequest(r, accountID)
	} else {
		s, err = i.verifyNamedCookie(r, accountID, cookie(accountID))
	}
	if err != nil {
		return sso.Session{}, Principal{}, err
	}
	p, err := i.dir.Principal(r.Context(), accountID, s.UserID, identity.SourceDashboard, "")
	if errors.Is(err, store.ErrNotFound) {
		// The membership went between the session's check and this read: the session ended.
		return sso.Session{}, Principal{}, store.Wrap(store.ErrUnauthenticated, sso.CodeSessionRevoked, err, "the session's membership has ended")
	}
	if err != nil {
		return sso.Session{}, Principal{}, err
	}
	if err := i.guard.Check(r.Context(), iprestrict.Dashboard, p, i.addrOf(r)); err != nil {
		return sso.Session{}, Principal{}, err
	}
	return s, p, nil
}

// verifyNamedCookie is sso.Dashboard.VerifyRequest with the token read from the cookie name,
// which must be a "__Host-" cookie's (host-only, Secure, Path=/: no sibling subdomain can
// plant it).
func (i *IAM) verifyNamedCookie(r *http.Request, accountID, name string) (sso.Session, error) {
	if !strings.HasPrefix(name, hostCookiePrefix) {
		return sso.Session{}, store.Invalid("session_cookie", store.CodeInvalidValue, 0,
			"WithSessionCookieName must name __Host- cookies")
	}
	if err := i.dash.CheckRequest(r); err != nil {
		return sso.Session{}, err
	}
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return sso.Session{}, store.NewError(store.ErrUnauthenticated, sso.CodeSessionInvalid, "no session cookie")
	}
	return i.dash.Verify(r.Context(), accountID, c.Value)
}
