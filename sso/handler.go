package sso

import (
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// LoginFunc finishes a completed SSO login, typically by issuing a session and redirecting
// to l.ReturnTo (Sessions.CookieLogin does both). It writes the whole response.
type LoginFunc func(w http.ResponseWriter, r *http.Request, l *Login)

// Handler serves iamkit's SSO endpoints under "<base path>/sso/", where the base path is the
// path of the Service's base URL:
//
//	GET  /sso/{account_id}/login[?return_to=/path]   one IdP: redirect to it; several: a chooser page
//	GET  /sso/{account_id}/{idp_id}/login[?return_to] start a login with that IdP
//	GET  /sso/{account_id}/{idp_id}/metadata         SP metadata to give the IdP (its entity ID)
//	POST /sso/{account_id}/{idp_id}/acs              assertion consumer service
//
// Mount it with mux.Handle(h.Pattern(), h) (not behind http.StripPrefix). A completed
// login is handed to the LoginFunc; every failure is an HTML error page with a fitting
// status code, a fixed message (no stack trace, secret or unescaped input) and headers that
// forbid caching and framing. An SP-initiated login keeps its RelayState in a short-lived
// cookie, "__Host-iamkit_sso_" and the first 8 characters of the key (host-only, Secure,
// Path=/, HttpOnly, SameSite=None, since the IdP posts cross-site), so the ACS accepts the
// response only in the browser that began the login. Browsers keep such a cookie from a
// plain-HTTP origin only if they treat it as secure (some do for http://localhost): try
// the endpoints over https.
//
// A Handler is immutable and safe for concurrent use.
type Handler struct {
	svc     *Service
	onLogin LoginFunc
	prefix  string // "<base path>/sso/"
}

// NewHandler returns the HTTP endpoints of svc; onLogin finishes each successful login.
func NewHandler(svc *Service, onLogin LoginFunc) (*Handler, error) {
	switch {
	case svc == nil:
		return nil, required("service")
	case onLogin == nil:
		return nil, required("login_func")
	}
	u, err := url.Parse(svc.base)
	if err != nil {
		return nil, configErr("base_url", "unparsable", nil)
	}
	return &Handler{svc: svc, onLogin: onLogin, prefix: strings.TrimSuffix(u.Path, "/") + "/sso/"}, nil
}

// Pattern returns the path prefix to mount the Handler at, such as "/sso/".
func (h *Handler) Pattern() string { return h.prefix }

// route is a parsed request path.
type route struct {
	accountID, idpID, action string
}

// parseRoute splits a path below the prefix into account, IdP and action. It accepts only
// "{account}/login" and "{account}/{idp}/{login|metadata|acs}" with well-formed IDs.
func parseRoute(rest string) (route, bool) {
	parts := strings.Split(rest, "/")
	var r route
	switch len(parts) {
	case 2:
		r = route{accountID: parts[0], action: parts[1]}
		if r.action != "login" {
			return route{}, false
		}
	case 3:
		r = route{accountID: parts[0], idpID: parts[1], action: parts[2]}
		if r.action != "login" && r.action != "metadata" && r.action != "acs" && r.action != "callback" {
			return route{}, false
		}
		if id.Check(r.idpID, id.IdentityProvider) != nil {
			return route{}, false
		}
	default:
		return route{}, false
	}
	if id.Check(r.accountID, id.Account) != nil {
		return route{}, false
	}
	return r, true
}

// ServeHTTP routes a request to the endpoints above.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		h.fail(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	rt, ok := parseRoute(rest)
	if !ok {
		h.fail(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	want := http.MethodGet
	if rt.action == "acs" {
		want = http.MethodPost
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		h.fail(w, r, http.StatusMethodNotAllowed, "This address does not accept this kind of request.")
		return
	}
	switch {
	case rt.action == "login" && rt.idpID == "":
		h.chooser(w, r, rt.accountID)
	case rt.action == "login":
		h.begin(w, r, rt.accountID, rt.idpID, r.URL.Query().Get("return_to"))
	case rt.action == "metadata":
		h.metadata(w, r, rt)
	case rt.action == "callback":
		h.callback(w, r, rt)
	default:
		h.acs(w, r, rt)
	}
}

func (h *Handler) chooser(w http.ResponseWriter, r *http.Request, accountID string) {
	returnTo := r.URL.Query().Get("return_to")
	if returnTo != "" {
		if _, err := RelayStatePath(returnTo); err != nil {
			h.fail(w, r, http.StatusBadRequest, msgBadReturn)
			return
		}
	}
	choices, err := h.svc.LoginChoices(r.Context(), accountID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	switch len(choices) {
	case 0:
		h.fail(w, r, http.StatusNotFound, msgNotFound)
		return
	case 1:
		h.begin(w, r, accountID, choices[0].ID, returnTo)
		return
	}
	type link struct{ Description, URL string }
	data := struct {
		Title string
		Links []link
	}{Title: "Choose how to sign in"}
	for _, c := range choices {
		u := h.prefix + accountID + "/" + c.ID + "/login"
		if returnTo != "" {
			u += "?" + url.Values{"return_to": {returnTo}}.Encode()
		}
		data.Links = append(data.Links, link{Description: c.Description, URL: u})
	}
	renderPage(w, http.StatusOK, h.svc.pages.chooser, data)
}

func (h *Handler) begin(w http.ResponseWriter, r *http.Request, accountID, idpID, returnTo string) {
	lr, err := h.svc.BeginLogin(r.Context(), accountID, idpID, returnTo)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	http.SetCookie(w, stateCookie(lr.RelayState, h.svc.loginTTL))
	if lr.AuthnRequest == nil { // OIDC: the authorization request
		securityHeaders(w, "")
		w.Header().Set("Location", lr.RedirectURL)
		w.WriteHeader(http.StatusFound)
		return
	}
	if u, err := lr.AuthnRequest.RedirectURL(lr.RelayState); err == nil {
		securityHeaders(w, "")
		w.Header().Set("Location", u)
		w.WriteHeader(http.StatusFound)
		return
	}
	nonce, err := randomKey(h.svc.rand)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	body, err := lr.AuthnRequest.PostFormHTML(lr.RelayState, nonce)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	securityHeaders(w, "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // nothing to do about a failed write
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request, rt route) {
	sp, err := h.svc.ServiceProvider(r.Context(), rt.accountID, rt.idpID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(sp.SPMetadataXML()) // nothing to do about a failed write
}

func (h *Handler) acs(w http.ResponseWriter, r *http.Request, rt route) {
	r.Body = http.MaxBytesReader(w, r.Body, h.svc.v.maxFormBody())
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, msgBadResponse)
			return
		}
		h.fail(w, r, http.StatusBadRequest, msgBadResponse)
		return
	}
	in := ACSRequest{
		AccountID: rt.accountID, IdPID: rt.idpID,
		SAMLResponse: r.PostForm.Get("SAMLResponse"), RelayState: r.PostForm.Get("RelayState"),
	}
	if in.SAMLResponse == "" {
		h.fail(w, r, http.StatusBadRequest, msgBadResponse)
		return
	}
	if isRelayKey(in.RelayState) {
		name := stateCookieName(in.RelayState)
		if c, err := r.Cookie(name); err == nil {
			in.BrowserState = c.Value
		}
		http.SetCookie(w, clearStateCookie(in.RelayState))
	}
	l, err := h.svc.CompleteLogin(r.Context(), in)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	h.onLogin(w, r, l)
}

// callback completes an OIDC login: the provider redirects the browser here with the code
// and the state, which must match the state cookie the login began with.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	in := OIDCCallback{AccountID: rt.accountID, IdPID: rt.idpID, State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error")}
	if isRelayKey(in.State) {
		if c, err := r.Cookie(stateCookieName(in.State)); err == nil {
			in.BrowserState = c.Value
		}
		http.SetCookie(w, clearStateCookie(in.State))
	}
	l, err := h.svc.CompleteOIDCLogin(r.Context(), in)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	h.onLogin(w, r, l)
}

// Fixed messages of the error pages.
const (
	msgNotFound    = "Single sign-on is not set up for this account, or this sign-in address does not exist."
	msgBadReturn   = "The page to return to after signing in is not a page of this site."
	msgBadResponse = "The response from your identity provider could not be accepted. If this keeps happening, ask your administrator to check the single sign-on configuration."
	msgStale       = "This sign-in has expired or was already used. Please sign in again."
	msgNotBrowser  = "This sign-in was not started in this browser, or it was already completed. Please sign in again from the sign-in page."
	msgUnsolicited = "This identity provider may not start sign-ins here. Please sign in from the sign-in page."
	msgInternal    = "Something went wrong on our side. Please try again in a moment."
	msgSeats       = "This account has no free seats. Ask an administrator of the account for one."
	msgDenied      = "You are not allowed to do this."
	msgSession     = "Your session has ended. Please sign in again."
)

// deniedMessage is the error page message for a refused login.
func deniedMessage(r LoginReason) string {
	switch r {
	case ReasonNotInvited:
		return "You have not been invited to this account. Ask an administrator of the account for an invitation."
	case ReasonInvitationExpired:
		return "Your invitation to this account has expired. Ask an administrator of the account for a new one."
	case ReasonMemberDisabled:
		return "Your membership of this account is disabled. Ask an administrator of the account."
	case ReasonBotUser:
		return "Bot users cannot sign in."
	case ReasonUntrustedDomain:
		return "This identity provider is not trusted for your email address's domain. Ask your administrator to check the single sign-on configuration."
	case ReasonInvalidEmail:
		return "Your identity provider did not send a usable email address. Ask your administrator to check the single sign-on configuration."
	case ReasonIdPSessionEnded:
		return "Your session at the identity provider has ended. Please sign in again."
	case ReasonSSORequired, ReasonSSOEnforced, ReasonDomainSSO:
		return "This account requires single sign-on."
	case ReasonEmailNotVerified:
		return "Your identity provider has not verified your email address. Verify it there, then sign in again."
	case ReasonNotMember:
		return "You are not a member of this account."
	}
	return msgDenied
}

// Error writes the error page for err, with the status code its kind calls for: 400 for
// invalid input and rejected SAML responses, 403 for refused logins, 404 for unknown
// accounts and IdPs or a plan without SSO, 401 for sessions, 500 otherwise. The page shows a
// fixed message chosen by the error's kind, never the error text; the error itself goes to
// the Service's logger (store failures at error level). LoginFuncs use it for their own
// failures.
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, err error) {
	h.svc.writeError(w, r, err)
}

func (h *Handler) fail(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	h.svc.pages.renderError(w, status, msg)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	log := s.log
	status, msg := classify(err)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if isResponseCode(store.CodeOf(err)) {
		// The cause may quote the message; log the failed check only.
		var se *store.Error
		errors.As(err, &se)
		log.Log(r.Context(), level, "sso: request refused", "path", r.URL.Path, "status", status, "check", se.Code, "reason", se.Msg)
	} else {
		log.Log(r.Context(), level, "sso: request refused", "path", r.URL.Path, "status", status, "error", err)
	}
	s.pages.renderError(w, status, msg)
}

// isResponseCode reports whether code is that of a rejected SAML response.
func isResponseCode(code string) bool {
	switch code {
	case CodeResponseTooLarge, CodeUnsafeXML, CodeMalformedResponse, CodeEncryptedAssertion, CodeSignature,
		CodeAlgorithm, CodeStatus, CodeDestination, CodeIssuer, CodeAudience, CodeRecipient, CodeExpired,
		CodeNotYetValid, CodeUnknownRequest, CodeUnsolicited, CodeReplay, CodeNoEmail, CodeRelayState,
		CodeOIDCError, CodeOIDCExchange, CodeOIDCToken, CodeOIDCNonce:
		return true
	}
	return false
}

// classify chooses the status and fixed message of an error page by the error's kind and
// code.
func classify(err error) (int, string) {
	code := store.CodeOf(err)
	switch kind := store.KindOf(err); {
	case kind == store.ErrDenied && isLoginReason(LoginReason(code)):
		return http.StatusForbidden, deniedMessage(LoginReason(code))
	case code == CodeRelayState, code == CodeOIDCState:
		return http.StatusBadRequest, msgNotBrowser
	case code == CodeUnsolicited:
		return http.StatusForbidden, msgUnsolicited
	case code == CodeUnknownRequest, code == CodeReplay, code == CodeExpired, code == CodeNotYetValid:
		return http.StatusBadRequest, msgStale
	case isResponseCode(code):
		return http.StatusBadRequest, msgBadResponse
	case code == identity.CodeSeatLimit:
		return http.StatusForbidden, msgSeats
	case code == CodeSessionInvalid, code == CodeSessionRevoked:
		return http.StatusUnauthorized, msgSession
	case kind == store.ErrFeatureUnavailable, kind == store.ErrNotFound:
		return http.StatusNotFound, msgNotFound
	case kind == store.ErrInvalid && invalidField(err) == "return_to":
		return http.StatusBadRequest, msgBadReturn
	case kind == store.ErrInvalid:
		return http.StatusBadRequest, msgNotFound
	case kind == store.ErrDenied:
		return http.StatusForbidden, msgDenied
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, msgInternal
	}
	return http.StatusInternalServerError, msgInternal
}

// invalidField returns the field an invalid-argument error names.
func invalidField(err error) string {
	var se *store.Error
	if !errors.As(err, &se) {
		return ""
	}
	return se.Field
}

const basePageCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func securityHeaders(w http.ResponseWriter, csp string) {
	if csp == "" {
		csp = basePageCSP
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", csp)
}

const pageLayout = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}a.idp{display:block;margin:.5rem 0;padding:.75rem 1rem;border:1px solid #bbb;border-radius:.4rem;text-decoration:none;color:inherit}</style>
</head><body>{{template "body" .}}</body></html>
`

// pages are the HTML templates of the handler, parsed once per Service.
type pages struct {
	error, chooser *template.Template
}

func newPages() pages {
	parse := func(name, body string) *template.Template {
		return template.Must(template.Must(template.New(name).Parse(pageLayout)).Parse(body))
	}
	return pages{
		error:   parse("error", `{{define "body"}}<h1>{{.Title}}</h1><p>{{.Message}}</p>{{end}}`),
		chooser: parse("chooser", `{{define "body"}}<h1>{{.Title}}</h1>{{range .Links}}<a class="idp" href="{{.URL}}">{{.Description}}</a>{{end}}{{end}}`),
	}
}

func (p pages) renderError(w http.ResponseWriter, status int, msg string) {
	title := "Sign-in failed"
	if status >= 500 {
		title = "Something went wrong"
	}
	renderPage(w, status, p.error, struct{ Title, Message string }{title, msg})
}

func renderPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		status, b = http.StatusInternalServerError, strings.Builder{}
		b.WriteString("Something went wrong.")
	}
	securityHeaders(w, "")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String()) // nothing to do about a failed write
}
