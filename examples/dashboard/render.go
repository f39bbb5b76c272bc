package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// pages are the dashboard's templates: one layout, the parts pages share (_partials.html),
// and one file per page.
type pages struct {
	t map[string]*template.Template
}

// parsePages parses every page of templateFS with the layout.
func parsePages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{t: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html", "templates/_partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", base, err)
		}
		p.t[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// view is what the layout shows around a page's own data.
type view struct {
	Title string
	// Account and Email: the account and the member signed in to it, on account pages.
	Account *store.Account
	Email   string
	Nav     []navLink
	Flash   string
	// Errors are the form's problems, summarised at the top of the page and shown by each
	// field they concern (Field, the id of its input; empty for the form as a whole).
	Errors []formError
	// Form holds the values the person sent, to fill the form in again.
	Form url.Values
	Data any
}

type navLink struct {
	Label, URL string
	Current    bool
}

type formError struct {
	Field, Message string
}

// fieldError returns the message about the field with id, or "".
func (v *view) fieldError(id string) string {
	for _, e := range v.Errors {
		if e.Field == id {
			return e.Message
		}
	}
	return ""
}

// templateFuncs are the functions the templates call.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"fieldError": func(v *view, id string) string { return v.fieldError(id) },
		"val": func(v *view, name string) string {
			if v.Form == nil {
				return ""
			}
			return v.Form.Get(name)
		},
		"checked": func(v *view, name, value string) bool {
			return v.Form != nil && slices.Contains(v.Form[name], value)
		},
		"when":      when,
		"date":      func(t time.Time) string { return dateOf(t) },
		"roleLabel": roleLabel,
		"plural":    plural,
		"kindLabel": kindLabel,
		"join":      strings.Join,
		"lower":     lowerLabel,
	}
}

// when formats a time for people, in UTC; the zero time is "never".
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// roleLabel returns a built-in role's name for people, as ngrok's dashboard calls it.
func roleLabel(name string) string {
	switch name {
	case rbac.RoleAdministrator:
		return "Administrator"
	case rbac.RoleDeveloper:
		return "Developer"
	case rbac.RoleDeveloperReadOnly:
		return "Developer (read-only)"
	case rbac.RoleTeamManager:
		return "Team manager"
	case rbac.RoleTeamInvite:
		return "Team (invite only)"
	case rbac.RoleTeamReadOnly:
		return "Team (read-only)"
	case rbac.RoleBilling:
		return "Billing"
	}
	return name
}

// lowerLabel is a label in a sentence: lower case but for acronyms ("API key").
func lowerLabel(label string) string {
	if strings.HasPrefix(label, "API") || strings.HasPrefix(label, "SSH") {
		return label
	}
	return strings.ToLower(label)
}

// kindLabel returns a kind of credential's name for people.
func kindLabel(k store.CredentialKind) string {
	switch k {
	case store.Authtoken:
		return "Authtoken"
	case store.APIKey:
		return "API key"
	case store.SSHCredential:
		return "SSH key"
	case store.AccessToken:
		return "Access token"
	}
	return string(k)
}

// render writes page name with v, for the account call c (nil on pages before a session).
func (s *server) render(w http.ResponseWriter, r *http.Request, c *call, status int, name string, v *view) {
	t, ok := s.pages.t[name]
	if !ok {
		s.Logger.Error("no such page template", "page", name)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	if c != nil {
		v.Account, v.Email = &c.account, c.p.Subject
		v.Nav = s.nav(c, r.URL.Path)
	}
	if v.Flash == "" {
		v.Flash = takeFlash(w, r)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		s.Logger.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // nothing to do about a client gone
}

// nav is the account's menu: the pages the member may see.
func (s *server) nav(c *call, current string) []navLink {
	base := c.base()
	var links []navLink
	add := func(label, p string, perm rbac.Permission) {
		if perm == 0 || c.may(perm) {
			links = append(links, navLink{Label: label, URL: base + p, Current: strings.HasPrefix(current, base+p)})
		}
	}
	add("Team members", "/members", rbac.MembersRead)
	add("Bot users", "/bots", rbac.BotUsersRead)
	add("Credentials", "/credentials", rbac.CredentialsRead)
	add("Single sign-on", "/settings/sso", rbac.SSORead)
	add("Security", "/security", 0)
	add("Audit log", "/audit", rbac.EventsRead)
	return links
}

// renderError writes an error page: what went wrong and what to do.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, c *call, status int, title, msg string) {
	s.render(w, r, c, status, "error", &view{Title: title, Data: msg})
}

// fail writes the error page of an error a page returned.
func (s *server) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	status, title := statusOf(err)
	if status >= 500 {
		s.Logger.Error("page failed", "path", r.URL.Path, "err", err)
	}
	if wait := retryAfter(err); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((wait+time.Second-1)/time.Second)))
	}
	s.renderError(w, r, c, status, title, message(err))
}

// statusOf returns the status and the title of an error's page.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "Check what you entered"
	case errors.Is(err, store.ErrUnauthenticated):
		return http.StatusUnauthorized, "Sign-in needed"
	case errors.Is(err, store.ErrLimitExceeded) && retryAfter(err) > 0:
		return http.StatusTooManyRequests, "Too many attempts"
	case errors.Is(err, store.ErrLimitExceeded):
		return http.StatusForbidden, "Limit reached"
	case errors.Is(err, store.ErrFeatureUnavailable):
		return http.StatusForbidden, "Not on this plan"
	case errors.Is(err, store.ErrDenied):
		return http.StatusForbidden, "Not allowed"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not found"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "That can't be done now"
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "Try again in a moment"
	}
	return http.StatusInternalServerError, "Something went wrong"
}

func retryAfter(err error) time.Duration {
	var e *store.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// message says what went wrong and what to do about it, by the error's code: the library's
// messages are for developers, these for the people using the dashboard.
func message(err error) string {
	var se *store.Error
	errors.As(err, &se)
	limit, field := 0, ""
	if se != nil {
		limit, field = se.Limit, se.Field
	}
	switch store.CodeOf(err) {
	case identity.CodeSeatLimit:
		return fmt.Sprintf("All %d seats of this account are taken by active members and pending invitations. Free a seat (disable or remove a member, or revoke an invitation), or move to a plan with more seats.", limit)
	case identity.CodeAlreadyMember:
		return "This person is already a member of the account."
	case identity.CodeAlreadyInvited:
		return "This address already has a pending invitation. Resend it from the list of invitations instead."
	case identity.CodeInvitationExpired:
		return "This invitation has expired. Ask the person who invited you to send a new one."
	case identity.CodeLastAdministrator:
		return "The account must keep at least one active administrator. Make another member an administrator first."
	case rbac.CodeExceedsGrantor:
		return "You can only give roles whose permissions you hold yourself. Choose other roles, or ask an administrator."
	case rbac.CodeAdminOnly:
		return "Only administrators can grant the Administrator role, or change an administrator."
	case rbac.CodeNotInPlan, identity.CodeFeatureUnavailable:
		return fmt.Sprintf("This account's plan does not include this feature (%s). Move to a plan that does.", featureLabel(field))
	case rbac.CodeNoRole, rbac.CodeOutOfScope, rbac.CodeNotMember, rbac.CodeOtherAccount:
		return "Your roles in this account do not allow this. Ask an administrator of the account if you need it."
	case rbac.CodeInactive:
		return "Your membership of this account is disabled. Ask an administrator of the account."
	case string(sso.ReasonMemberDisabled):
		return "Your membership of this account is disabled. Ask an administrator of the account to enable it."
	case string(sso.ReasonNotMember):
		return "You are not a member of this account. Ask an administrator of the account for an invitation."
	case string(sso.ReasonSSORequired), string(sso.ReasonSSOEnforced):
		return "This account requires single sign-on: sign in through your identity provider instead of with a password."
	case string(sso.ReasonDomainSSO):
		return "Your organization requires single sign-on for your email domain: sign in through your identity provider instead of with a password."
	case sso.CodeRoleRulesExceedAuthor:
		return "These rules would give roles you may not grant yourself. Map groups only to roles whose permissions you hold (and to Administrator only if you are one), or ask an administrator to set them."
	case sso.CodeDomainNotVerified:
		return "Verify each of these email domains first (Single sign-on › Domains): an identity provider may sign people in only for domains this account has verified."
	case sso.CodeDomainUnproven:
		return "We did not find the TXT record yet. Check its name and value at your DNS host; new records can take a few minutes to appear."
	case sso.CodeDomainTaken:
		return "Another account has verified this domain. If your organization controls it, contact support."
	case sso.CodeDomainInUse:
		return "An identity provider is trusted for this domain. Remove the domain from the identity provider first."
	case sso.CodeDNSUnavailable:
		return "We could not reach DNS to check the record. Try again in a minute."
	case string(sso.ReasonBotUser):
		return "Bot users cannot sign in to the dashboard."
	case sso.CodeBadCredentials:
		return "The email address or password is not right. Check both and try again."
	case sso.CodeBadSecondFactor:
		return "That code is not right. Enter the 6-digit code your authenticator app shows now, or one of your recovery codes."
	case sso.CodeChallengeInvalid:
		return "This sign-in took too long, or had too many wrong codes. Sign in again."
	case sso.CodeThrottled:
		return fmt.Sprintf("Too many attempts. Wait %s, then try again.", waitText(retryAfter(err)))
	case sso.CodeResetInvalid:
		return "This link has expired or was already used. Ask for a new one."
	case sso.CodePasswordTooShort:
		return fmt.Sprintf("Use at least %d characters. A few unrelated words make a long password that is easy to remember.", limit)
	case sso.CodePasswordCommon:
		return "This password is one of the most common ones, or is your email address. Choose another."
	case sso.CodeNoPassword:
		return "You sign in through single sign-on and have no password to change."
	case sso.CodeTOTPEnabled:
		return "Two-factor authentication is already on for you."
	case sso.CodeTOTPNotEnabled:
		return "Two-factor authentication is not on for you, or its set-up has expired. Start again."
	case sso.CodeTOTPUnavailable:
		return "Two-factor authentication is not available on this dashboard: it was started without a secret key (-secret-key-file)."
	case sso.CodeSecondFactorRequired:
		return "This account requires a second factor, so you cannot turn yours off."
	case sso.CodeNoIdentityProvider:
		return "Add an identity provider before you enforce single sign-on."
	case sso.CodeLastIdentityProvider:
		return "Single sign-on is enforced and this is the account's last identity provider. Set enforcement to mixed or off before you delete it."
	case sso.CodeMetadataInvalid:
		return "The identity provider's metadata could not be used (" + capitalizeless(se) + "). Paste or upload the SAML metadata XML exactly as your identity provider gives it."
	case sso.CodeKeyPolicy:
		return "The identity provider signs with a key that is too weak. It must use RSA of at least 2048 bits, or ECDSA on P-256, P-384 or P-521."
	case sso.CodeCrossOrigin:
		return "This form was sent from another site, so it was refused. Go back to the dashboard and try again from there."
	case sso.CodeSessionInvalid, sso.CodeSessionRevoked:
		return "Your session has ended. Sign in again."
	case botuser.CodeNameTaken:
		return "A bot user of this account already has this name. Choose another."
	case credential.CodeInvalidACL:
		return "This ACL rule is not valid (" + capitalizeless(se) + "). Write one rule per line, such as bind:app.example.com or bind:*.example.com."
	case credential.CodeSSHKeyInvalid, credential.CodeSSHKeyMissing:
		return "This is not an SSH public key we accept. Paste one line of your id_ed25519.pub or id_rsa.pub (RSA of at least 2048 bits)."
	case credential.CodeSSHKeyInUse, credential.CodeSSHKeyInUseElsewhere:
		return "This SSH key is already in use. Each key can be added once: generate another."
	case credential.CodeLifetimeExceedsPolicy:
		return fmt.Sprintf("This account allows credentials of this kind to live at most %s. Choose an earlier expiry.", waitText(time.Duration(limit)*time.Second))
	case credential.CodeOwnerInactive:
		return "The owner is deactivated or disabled. Reactivate it before giving it a new credential."
	case credential.CodeUnknownOwner:
		return "The owner is not a member or bot user of this account any more."
	case store.CodeAlreadyExists:
		return "This " + strings.ReplaceAll(field, "_", " ") + " is already taken."
	case store.CodePurgePending:
		return "This person's credentials from an earlier membership are still being deleted. Try again in a minute."
	}
	switch {
	case errors.Is(err, store.ErrInvalid) && se != nil && se.Msg != "":
		return capitalizeless(se) + "."
	case errors.Is(err, store.ErrNotFound):
		return "It does not exist, or no longer does, or you cannot see it. Go back and reload the page."
	case errors.Is(err, store.ErrDenied):
		return "You are not allowed to do this. Ask an administrator of the account if you need it."
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return "The service is busy or unreachable. Try again in a moment."
	}
	return "Something went wrong on our side. Try again in a moment; if it keeps happening, tell the people who run this dashboard."
}

// capitalizeless is an error's message for people without its field, which the page shows
// by the field, and without its cause.
func capitalizeless(se *store.Error) string {
	if se == nil || se.Msg == "" {
		return "not accepted"
	}
	msg := se.Msg
	if r, size := utf8.DecodeRuneInString(msg); r >= 'a' && r <= 'z' {
		msg = strings.ToUpper(string(r)) + msg[size:]
	}
	return strings.TrimSuffix(msg, ".")
}

// featureLabel returns a plan feature's name for people.
func featureLabel(f string) string {
	switch identity.Feature(f) {
	case identity.FeatureRBAC:
		return "roles"
	case identity.FeatureCustomRoles:
		return "custom roles"
	case identity.FeatureSSO:
		return "single sign-on"
	case identity.FeatureCredentialACLs:
		return "credential ACLs"
	case identity.FeatureOwnerAssignment:
		return "credentials for others"
	case identity.FeatureBotUsers:
		return "bot users"
	}
	return strings.ReplaceAll(f, "_", " ")
}

// waitText says how long to wait, in words.
func waitText(d time.Duration) string {
	switch {
	case d <= time.Minute:
		return "a minute"
	case d < time.Hour:
		return plural(int((d+time.Minute-1)/time.Minute), "minute", "minutes")
	case d < 48*time.Hour:
		return plural(int((d+time.Hour-1)/time.Hour), "hour", "hours")
	}
	return plural(int(d/(24*time.Hour)), "day", "days")
}

// formErrors turns an error into the problems of a form whose inputs are named by fields:
// the library's field (its first part: "roles[2]" is "roles", "metadata_xml.KeyDescriptor"
// is "metadata_xml") to the id of the input that shows it. An error about no field of the
// form is about the form as a whole.
func formErrors(err error, fields map[string]string) []formError {
	var se *store.Error
	field := ""
	if errors.As(err, &se) && !errors.Is(err, store.ErrDenied) && !errors.Is(err, store.ErrFeatureUnavailable) {
		field = se.Field
		if i := strings.IndexAny(field, "[."); i >= 0 {
			field = field[:i]
		}
	}
	return []formError{{Field: fields[field], Message: message(err)}}
}

// flashCookie carries a notice to the page after a redirect.
const flashCookie = "__Host-iamkit_flash"

// maxFlash is the longest notice a flash cookie carries.
const maxFlash = 500

func setFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: encodeFlash(msg), Path: "/", MaxAge: 60,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the notice a redirect left for this page, and removes it.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	msg, _ := decodeFlash(c.Value)
	return msg
}

func encodeFlash(msg string) string {
	if len(msg) > maxFlash {
		msg = strings.ToValidUTF8(msg[:maxFlash], "")
	}
	return base64.RawURLEncoding.EncodeToString([]byte(msg))
}

// decodeFlash reads a flash cookie's value: a notice of at most maxFlash bytes of UTF-8.
func decodeFlash(v string) (string, bool) {
	if len(v) > base64.RawURLEncoding.EncodedLen(maxFlash) {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}
