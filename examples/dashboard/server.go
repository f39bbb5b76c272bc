package main

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// deps are what the dashboard is built on.
type deps struct {
	// IAM is the library, built WithSSO (the dashboard's base URL) and WithDashboard.
	IAM *iamkit.IAM
	// BaseURL is the dashboard's external origin, such as https://dashboard.example.com:
	// what links in mail and the SAML endpoints are made of.
	BaseURL string
	// Mailer delivers invitations and password resets.
	Mailer Mailer
	// FallbackAccount is an account that sign-ins of unknown emails are checked against, so
	// that they cost what a real one costs (the bootstrapped account).
	FallbackAccount string
	Logger          *slog.Logger
}

// server is the dashboard: server-rendered pages on iamkit's facade.
type server struct {
	deps
	dash  *sso.Dashboard
	sso   *sso.Handler
	perms *rbac.Permissions
	pages *pages
	mux   *http.ServeMux
	// finders find the account a "Sign in with SSO" request means; see findAccount.
	finders []accountFinder
}

// newServer returns the dashboard's handler.
func newServer(d deps) (http.Handler, error) {
	if d.IAM == nil || d.IAM.Dashboard() == nil || d.IAM.SSO() == nil {
		return nil, errors.New("dashboard: the IAM must be built WithSSO and WithDashboard")
	}
	if d.Mailer == nil {
		return nil, errors.New("dashboard: a Mailer is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.BaseURL = strings.TrimRight(d.BaseURL, "/")
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &server{deps: d, dash: d.IAM.Dashboard(), perms: d.IAM.Authorizer().Permissions(), pages: pg, mux: http.NewServeMux()}
	s.finders = []accountFinder{s.findAccountByKeyOrID}
	if s.sso, err = sso.NewHandler(d.IAM.SSO(), s.ssoLoggedIn); err != nil {
		return nil, err
	}
	s.routes()
	return securityHeaders(s.mux), nil
}

func (s *server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	s.mux.Handle(s.sso.Pattern(), s.sso)

	// Sign-in and everything before a session.
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /login/second-factor", s.secondFactor)
	s.mux.HandleFunc("POST /login/enroll", s.confirmEnrollment)
	s.mux.HandleFunc("GET /login/sso", s.ssoDiscovery)
	s.mux.HandleFunc("GET /accounts", s.accountPicker)
	s.mux.HandleFunc("GET /reset", s.resetPage)
	s.mux.HandleFunc("POST /reset", s.requestReset)
	s.mux.HandleFunc("POST /reset/confirm", s.confirmReset)
	s.mux.HandleFunc("GET /invitations/accept", s.invitationPage)
	s.mux.HandleFunc("POST /invitations/accept", s.acceptInvitation)
	s.mux.HandleFunc("GET /a/{account}/login", s.loginPage)
	s.mux.HandleFunc("GET /a/{account}/sso", s.ssoChooser)

	// The account's pages, behind its session.
	s.page("GET /a/{account}/{$}", s.accountHome)
	s.page("POST /a/{account}/logout", s.logout)

	s.page("GET /a/{account}/members", s.membersPage)
	s.page("POST /a/{account}/members/invite", s.invite)
	s.page("GET /a/{account}/members/{user}", s.memberPage)
	s.page("POST /a/{account}/members/{user}/roles", s.setRoles)
	s.page("POST /a/{account}/members/{user}/disable", s.disableMember)
	s.page("POST /a/{account}/members/{user}/enable", s.enableMember)
	s.page("GET /a/{account}/members/{user}/remove", s.removeMemberPage)
	s.page("POST /a/{account}/members/{user}/remove", s.removeMember)
	s.page("POST /a/{account}/members/{user}/sessions/end", s.endMemberSessions)
	s.page("POST /a/{account}/invitations/{invitation}/resend", s.resendInvitation)
	s.page("POST /a/{account}/invitations/{invitation}/revoke", s.revokeInvitation)

	s.page("GET /a/{account}/bots", s.botsPage)
	s.page("POST /a/{account}/bots", s.createBot)
	s.page("GET /a/{account}/bots/{bot}", s.botPage)
	s.page("POST /a/{account}/bots/{bot}/rename", s.renameBot)
	s.page("POST /a/{account}/bots/{bot}/deactivate", s.deactivateBot)
	s.page("POST /a/{account}/bots/{bot}/activate", s.activateBot)
	s.page("GET /a/{account}/bots/{bot}/delete", s.deleteBotPage)
	s.page("POST /a/{account}/bots/{bot}/delete", s.deleteBot)

	s.page("GET /a/{account}/credentials", s.credentialsPage)
	s.page("GET /a/{account}/credentials/new", s.newCredentialPage)
	s.page("POST /a/{account}/credentials", s.createCredential)
	s.page("GET /a/{account}/credentials/{credential}/revoke", s.revokeCredentialPage)
	s.page("POST /a/{account}/credentials/{credential}/revoke", s.revokeCredential)

	s.page("GET /a/{account}/settings/sso", s.ssoSettingsPage)
	s.page("POST /a/{account}/settings/sso", s.updateSSOSettings)
	s.page("GET /a/{account}/settings/sso/new", s.newIdPPage)
	s.page("POST /a/{account}/settings/sso/new", s.createIdP)
	s.page("GET /a/{account}/settings/sso/new-oidc", s.newOIDCPage)
	s.page("POST /a/{account}/settings/sso/new-oidc", s.createOIDC)
	s.page("GET /a/{account}/settings/sso/{idp}", s.idpPage)
	s.page("POST /a/{account}/settings/sso/{idp}", s.updateIdP)
	s.page("POST /a/{account}/settings/sso/{idp}/role-rules", s.setRoleRules)
	s.page("GET /a/{account}/settings/sso/{idp}/delete", s.deleteIdPPage)
	s.page("POST /a/{account}/settings/sso/{idp}/delete", s.deleteIdP)
	s.page("GET /a/{account}/settings/domains", s.domainsPage)
	s.page("POST /a/{account}/settings/domains", s.claimDomain)
	s.page("POST /a/{account}/settings/domains/{domain}/verify", s.verifyDomain)
	s.page("POST /a/{account}/settings/domains/{domain}/require-sso", s.requireDomainSSO)
	s.page("POST /a/{account}/settings/domains/{domain}/delete", s.deleteDomain)

	s.page("GET /a/{account}/security", s.securityPage)
	s.page("POST /a/{account}/security/password", s.changePassword)
	s.page("POST /a/{account}/security/totp", s.beginTOTP)
	s.page("POST /a/{account}/security/totp/confirm", s.confirmTOTP)
	s.page("POST /a/{account}/security/totp/disable", s.disableTOTP)
	s.page("POST /a/{account}/security/recovery-codes", s.regenerateRecoveryCodes)
	s.page("POST /a/{account}/security/require-second-factor", s.setRequireSecondFactor)
	s.page("POST /a/{account}/security/sessions/{session}/end", s.endSession)
	s.page("POST /a/{account}/security/sessions/end-others", s.endOtherSessions)

	s.page("GET /a/{account}/audit", s.auditPage)

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, nil, http.StatusNotFound, "Page not found",
			"There is no page at this address. Check the address, or go back to the start.")
	})
}

// call is one request to an account's page, by a member signed in to it.
type call struct {
	p       identity.Principal
	session sso.Session
	account store.Account
	held    rbac.Set // what p may do in the account
}

// may reports whether the member may use perm.
func (c *call) may(perm rbac.Permission) bool { return c.held.Has(perm) }

// base is the path of the account's pages.
func (c *call) base() string { return "/a/" + c.account.ID }

// pageFunc serves an account's page; an error it returns is rendered as an error page.
type pageFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// page registers an account page behind the account's session (iamkit.SessionAuth with one
// cookie per account), which signs the member in again when it has none.
func (s *server) page(pattern string, h pageFunc) {
	auth := s.IAM.SessionAuth(func(r *http.Request) string { return r.PathValue("account") },
		iamkit.WithSessionCookieName(sessionCookieName), iamkit.WithSessionFailure(s.sessionFailure))
	s.mux.Handle(pattern, auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.newCall(r)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			s.fail(w, r, c, err)
		}
	})))
}

// newCall loads what every account page shows: the account and what the member may do.
func (s *server) newCall(r *http.Request) (*call, error) {
	p, _ := iamkit.PrincipalFrom(r.Context())
	sess, _ := iamkit.SessionFrom(r.Context())
	c := &call{p: p, session: sess}
	var err error
	if c.account, err = s.IAM.Directory().Account(r.Context(), p); err != nil {
		return nil, err
	}
	err = s.IAM.Store().View(r.Context(), func(rd store.Reader) error {
		c.held, err = s.IAM.Authorizer().HeldIn(r.Context(), rd, p)
		return err
	})
	return c, err
}

// sessionFailure answers a request to an account page without a usable session: the sign-in
// page of the account, saying why, for a session that ended or never was; an error page for
// anything else (a cross-origin form, a store that does not answer).
func (s *server) sessionFailure(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, store.ErrUnauthenticated) {
		s.fail(w, r, nil, err)
		return
	}
	accountID := r.PathValue("account")
	q := url.Values{}
	if r.Method == http.MethodGet {
		q.Set("next", r.URL.RequestURI())
	}
	if c, cerr := r.Cookie(sessionCookieName(accountID)); cerr == nil && c.Value != "" {
		// The browser had a session here, which has ended: say so, and why.
		q.Set("ended", endedReason(err))
		clearSessionCookie(w, accountID)
	}
	target := "/a/" + url.PathEscape(accountID) + "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// endedReason says, in one word for the sign-in page, why a session ended.
func endedReason(err error) string {
	var reason sso.LoginReason
	if errors.As(err, &reason) && (reason == sso.ReasonSSOEnforced || reason == sso.ReasonSSORequired) {
		return "sso"
	}
	return "ended"
}

// sessionCookieName is the cookie of a session in one account: one cookie per account, so
// that a person signed in to several accounts keeps a tab open on each.
func sessionCookieName(accountID string) string { return sessionCookiePrefix + accountID }

const sessionCookiePrefix = "__Host-iamkit_s_"

// setSessionCookie sets the cookie of a new session, with the attributes
// sso.Dashboard.SetCookie gives the Dashboard's own: __Host-, Secure, HttpOnly, SameSite=Lax,
// Path=/, expiring with the session.
func setSessionCookie(w http.ResponseWriter, res sso.SignInResult) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookieName(res.Session.AccountID), Value: res.Token.Reveal(), Path: "/", Expires: res.Session.ExpiresAt,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func clearSessionCookie(w http.ResponseWriter, accountID string) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookieName(accountID), Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// sync waits, briefly, until the library's caches have seen the request's change, so that
// the next page (and the credentials of the people it changed) reflect it.
func (s *server) sync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.IAM.Sync(ctx); err != nil {
		s.Logger.Warn("sync after a change", "err", err)
	}
}

// redirect answers a form post with 303 See Other to target, with a notice for the next
// page.
func (s *server) redirect(w http.ResponseWriter, r *http.Request, target, notice string) {
	if notice != "" {
		setFlash(w, notice)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// securityHeaders sets the headers every page has: a content security policy that allows
// the dashboard's own script and style only, no framing, no sniffing.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		if !strings.HasPrefix(r.URL.Path, "/sso/") { // the SSO handler sets its own
			hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
			hd.Set("X-Frame-Options", "DENY")
			hd.Set("X-Content-Type-Options", "nosniff")
			hd.Set("Referrer-Policy", "same-origin")
		}
		h.ServeHTTP(w, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}
