package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pquerna/otp"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// maxFormBody bounds a form post (the IdP metadata form allows more: maxMetadataForm).
const maxFormBody = 64 << 10

// parseForm reads a posted form of at most maxFormBody bytes, after refusing a state change
// sent from another origin: the sign-in forms have no session for SessionAuth to check.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.dash.CheckRequest(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return store.Invalid("form", store.CodeInvalidValue, maxFormBody, "the form could not be read")
	}
	return nil
}

// lastAccountCookie remembers, in the browser, the account signed in to last: the account a
// sign-in by email goes to first when its person is a member of several.
const lastAccountCookie = "__Host-iamkit_last"

// loginData is what the sign-in page shows.
type loginData struct {
	// AccountID and AccountName: the account the page signs in to; empty on /login, which
	// finds the account by the email.
	AccountID, AccountName string
	// SSO: the account has identity providers to sign in with.
	SSO  bool
	Next string
	// SSOAccount: after a refusal because the account requires single sign-on, the account
	// to sign in to through its identity provider.
	SSOAccount string
}

// loginPage serves /login and /a/{account}/login.
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Sign in", Form: url.Values{"email": {r.URL.Query().Get("email")}}}
	d := loginData{Next: r.URL.Query().Get("next")}
	if id := r.PathValue("account"); id != "" {
		a, err := s.accountByID(r.Context(), id)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		d.AccountID, d.AccountName, d.SSO = a.ID, a.Name, s.hasSSO(r.Context(), a.ID)
		d.Next = safeNext(d.Next, a.ID)
		v.Title = "Sign in to " + a.Name
		switch r.URL.Query().Get("ended") {
		case "sso":
			v.Flash = a.Name + " now requires single sign-on, so your session has ended. Sign in through your identity provider."
		case "ended":
			v.Flash = "Your session in " + a.Name + " has ended. Sign in again."
		}
	}
	v.Data = d
	s.render(w, r, nil, http.StatusOK, "login", v)
}

// login signs in with an email and a password: into the account of the page, or, from
// /login, into an account of the person's that allows passwords.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	f := r.PostForm
	d := loginData{AccountID: f.Get("account"), Next: f.Get("next")}
	v := &view{Title: "Sign in", Form: url.Values{"email": {f.Get("email")}}, Data: &d}
	if d.AccountID != "" {
		a, err := s.accountByID(r.Context(), d.AccountID)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		d.AccountName, d.SSO, v.Title = a.Name, s.hasSSO(r.Context(), a.ID), "Sign in to "+a.Name
	}
	email, password := strings.TrimSpace(f.Get("email")), f.Get("password")
	if email == "" {
		v.Errors = append(v.Errors, formError{"email", "Enter your email address."})
	}
	if password == "" {
		v.Errors = append(v.Errors, formError{"password", "Enter your password."})
	}
	if len(v.Errors) > 0 {
		s.render(w, r, nil, http.StatusBadRequest, "login", v)
		return
	}
	accountID := d.AccountID
	if accountID == "" {
		accountID = s.chooseAccount(r, email)
	}
	res, err := s.dash.SignIn(r.Context(), sso.SignInRequest{AccountID: accountID, Email: email, Password: password, Client: sso.ClientOf(r)})
	if err != nil {
		var reason sso.LoginReason
		if errors.As(err, &reason) && (reason == sso.ReasonSSORequired || reason == sso.ReasonSSOEnforced || reason == sso.ReasonDomainSSO) {
			if d.AccountID == "" { // the account page has its own button
				d.SSOAccount = accountID
			}
			v.Errors = []formError{{"", message(err)}}
		} else {
			v.Errors = formErrors(err, map[string]string{"email": "email", "password": "password", "": "password"})
		}
		status, _ := statusOf(err)
		s.render(w, r, nil, status, "login", v)
		return
	}
	next := safeNext(d.Next, accountID)
	if next == "" && d.AccountID != "" { // signed in from the account's own page: stay in it
		next = "/a/" + d.AccountID + "/"
	}
	s.signedIn(w, r, res, next)
}

// signedIn goes on from a sign-in's result: a session (its cookie, then the page asked for,
// or the account picker for a person in several accounts), or the second factor to ask for.
func (s *server) signedIn(w http.ResponseWriter, r *http.Request, res sso.SignInResult, next string) {
	switch res.Step {
	case sso.StepSecondFactor:
		s.render(w, r, nil, http.StatusOK, "second-factor", &view{Title: "Two-factor authentication",
			Data: secondFactorData{Challenge: res.Challenge.Reveal(), Next: next}})
		return
	case sso.StepEnrollSecondFactor:
		s.render(w, r, nil, http.StatusOK, "enroll", &view{Title: "Set up two-factor authentication",
			Data: enrollData{Challenge: res.Challenge.Reveal(), Next: next, Setup: setupOf(res.TOTP)}})
		return
	}
	s.startSession(w, res)
	if res.Session.SecondFactor == sso.SecondFactorRecoveryCode {
		setFlash(w, fmt.Sprintf("You used a recovery code, and have %d left. Make new ones on the Security page.", res.RecoveryCodesLeft))
	}
	http.Redirect(w, r, s.landing(r.Context(), res.Session, next), http.StatusSeeOther)
}

// startSession sets the cookie of a new session and remembers its account in the browser.
func (s *server) startSession(w http.ResponseWriter, res sso.SignInResult) {
	setSessionCookie(w, res)
	http.SetCookie(w, &http.Cookie{Name: lastAccountCookie, Value: res.Session.AccountID, Path: "/", MaxAge: 400 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// landing is where a new session goes: the page asked for, else the account's first page, or
// the account picker when its person is a member of other accounts too.
func (s *server) landing(ctx context.Context, sess sso.Session, next string) string {
	if next != "" {
		return next
	}
	if ms, err := s.IAM.Directory().Memberships(ctx, sess.UserID); err == nil && activeCount(ms) > 1 {
		return "/accounts"
	}
	return "/a/" + sess.AccountID + "/"
}

func activeCount(ms []store.Membership) int {
	n := 0
	for _, m := range ms {
		if m.Status == store.MemberActive {
			n++
		}
	}
	return n
}

// chooseAccount returns the account a sign-in by email alone goes to: the person's account
// remembered by the browser, else another of their accounts, one whose login policy lets them
// use a password first. An email of nobody goes to the fallback account, where the sign-in
// fails after the same work as a wrong password. Nothing of this is shown before the password
// is verified.
func (s *server) chooseAccount(r *http.Request, email string) string {
	ctx := r.Context()
	u, err := s.IAM.Directory().UserByEmail(ctx, email)
	if err != nil {
		return s.FallbackAccount
	}
	ms, err := s.IAM.Directory().Memberships(ctx, u.ID)
	if err != nil || len(ms) == 0 {
		return s.FallbackAccount
	}
	last := ""
	if c, err := r.Cookie(lastAccountCookie); err == nil {
		last = c.Value
	}
	slices.SortFunc(ms, func(a, b store.Membership) int {
		switch {
		case a.AccountID == last:
			return -1
		case b.AccountID == last:
			return 1
		}
		return strings.Compare(a.AccountID, b.AccountID)
	})
	for _, m := range ms {
		if m.Status != store.MemberActive {
			continue
		}
		if d, err := s.IAM.SSO().LoginPolicy(ctx, m.AccountID, u.ID, sso.MethodPassword); err == nil && d.Allowed {
			return m.AccountID
		}
	}
	return ms[0].AccountID
}

type secondFactorData struct {
	Challenge, Next string
}

// secondFactor completes a sign-in with a TOTP or recovery code.
func (s *server) secondFactor(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	d := secondFactorData{Challenge: r.PostForm.Get("challenge"), Next: r.PostForm.Get("next")}
	res, err := s.dash.SecondFactor(r.Context(), d.Challenge, strings.TrimSpace(r.PostForm.Get("code")))
	if err != nil {
		if store.CodeOf(err) == sso.CodeChallengeInvalid {
			s.render(w, r, nil, http.StatusUnauthorized, "login", &view{Title: "Sign in", Data: loginData{},
				Errors: []formError{{"email", message(err)}}})
			return
		}
		status, _ := statusOf(err)
		s.render(w, r, nil, status, "second-factor", &view{Title: "Two-factor authentication", Data: d,
			Errors: formErrors(err, map[string]string{"": "code"})})
		return
	}
	s.signedIn(w, r, res, safeNext(d.Next, res.Session.AccountID))
}

type enrollData struct {
	Challenge, Next string
	Setup           totpView
}

// totpView is a TOTP secret being enrolled, as the page shows it: a QR code of its otpauth
// URI, and the secret for typing in.
type totpView struct {
	URI, Secret string
	QR          template.URL
}

func setupOf(t *sso.TOTPSetup) totpView {
	if t == nil {
		return totpView{}
	}
	return totpViewOf(t.URI.Reveal(), t.Secret.Reveal())
}

func totpViewOf(uri, secret string) totpView {
	return totpView{URI: uri, Secret: secret, QR: qrDataURI(uri)}
}

// qrDataURI returns a data: URI of a PNG QR code of an otpauth URI, or "" if it cannot.
func qrDataURI(uri string) template.URL {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return ""
	}
	img, err := k.Image(200, 200)
	if err != nil {
		return ""
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return ""
	}
	// A data: URI of a PNG we made: safe as an img src.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
}

// confirmEnrollment completes a sign-in that had to set up a second factor first.
func (s *server) confirmEnrollment(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	f := r.PostForm
	d := enrollData{Challenge: f.Get("challenge"), Next: f.Get("next"), Setup: totpViewOf(f.Get("uri"), f.Get("secret"))}
	res, err := s.dash.ConfirmEnrollment(r.Context(), d.Challenge, strings.TrimSpace(f.Get("code")))
	if err != nil {
		status, _ := statusOf(err)
		s.render(w, r, nil, status, "enroll", &view{Title: "Set up two-factor authentication", Data: d,
			Errors: formErrors(err, map[string]string{"": "code"})})
		return
	}
	s.startSession(w, res)
	s.render(w, r, nil, http.StatusOK, "recovery-codes", &view{Title: "Save your recovery codes",
		Data: recoveryData{Codes: reveal(res.RecoveryCodes), Continue: s.landing(r.Context(), res.Session, safeNext(d.Next, res.Session.AccountID))}})
}

type recoveryData struct {
	Codes    []string
	Continue string
}

func reveal(secrets []sso.Secret) []string {
	out := make([]string, len(secrets))
	for i, c := range secrets {
		out[i] = c.Reveal()
	}
	return out
}

// accountFinder finds the account a "Sign in with SSO" request names by what the person
// typed. The dashboard asks each finder in turn: today by the account's key or ID; later
// finders (by a verified email domain, say) go in the list without changing the page.
type accountFinder func(ctx context.Context, input string) (store.Account, error)

func (s *server) findAccountByKeyOrID(ctx context.Context, input string) (store.Account, error) {
	var a store.Account
	err := s.IAM.Store().View(ctx, func(r store.Reader) error {
		var err error
		if a, err = r.AccountByKey(ctx, input); err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		a, err = r.Account(ctx, input)
		return err
	})
	if errors.Is(err, store.ErrInvalid) {
		err = store.NewError(store.ErrNotFound, "account_not_found", "no such account")
	}
	return a, err
}

// findAccount asks the finders for the account input names.
func (s *server) findAccount(ctx context.Context, input string) (store.Account, error) {
	for _, find := range s.finders {
		a, err := find(ctx, input)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return a, err
		}
	}
	return store.Account{}, store.NewError(store.ErrNotFound, "account_not_found", "no such account")
}

// ssoDiscovery is "Sign in with SSO": it asks for the account, or a work email whose domain
// an account has verified, and sends the person to that account's identity providers.
func (s *server) ssoDiscovery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := &view{Title: "Sign in with SSO", Form: url.Values{"account": {q.Get("account")}}}
	input := strings.TrimSpace(q.Get("account"))
	if _, asked := q["account"]; !asked {
		s.render(w, r, nil, http.StatusOK, "sso-discovery", v)
		return
	}
	if input == "" {
		v.Errors = []formError{{"account", "Enter your account's name."}}
		s.render(w, r, nil, http.StatusBadRequest, "sso-discovery", v)
		return
	}
	if strings.Contains(input, "@") {
		rt, err := s.IAM.SSO().RouteEmail(r.Context(), input)
		if err != nil {
			status, _ := statusOf(err)
			msg := "No account signs in people of this email address's domain with single sign-on. Enter your account's name instead."
			if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
				msg = message(err)
			}
			v.Errors = []formError{{"account", msg}}
			s.render(w, r, nil, status, "sso-discovery", v)
			return
		}
		target := "/a/" + url.PathEscape(rt.AccountID) + "/sso"
		if next := safeNext(q.Get("next"), rt.AccountID); next != "" {
			target += "?" + url.Values{"next": {next}}.Encode()
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	a, err := s.findAccount(r.Context(), input)
	if err != nil {
		status := http.StatusNotFound
		msg := "We could not find an account called “" + input + "”. Check the name, or ask your administrator for your account's sign-in address."
		if !errors.Is(err, store.ErrNotFound) {
			status, _ = statusOf(err)
			msg = message(err)
		}
		v.Errors = []formError{{"account", msg}}
		s.render(w, r, nil, status, "sso-discovery", v)
		return
	}
	target := "/a/" + url.PathEscape(a.ID) + "/sso"
	if next := safeNext(q.Get("next"), a.ID); next != "" {
		target += "?" + url.Values{"next": {next}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

type chooserData struct {
	AccountID, AccountName string
	Choices                []choice
}

type choice struct {
	Description, URL string
}

// ssoChooser sends the person to the account's identity provider, or lets them choose one
// by its description when the account has several.
func (s *server) ssoChooser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := s.accountByID(ctx, r.PathValue("account"))
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	choices, err := s.IAM.SSO().LoginChoices(ctx, a.ID)
	if err != nil && !errors.Is(err, store.ErrFeatureUnavailable) {
		s.fail(w, r, nil, err)
		return
	}
	if len(choices) == 0 {
		s.render(w, r, nil, http.StatusNotFound, "error", &view{Title: "Single sign-on is not set up",
			Data: a.Name + " has no identity provider to sign in with. Sign in with your email and password, or ask an administrator of the account."})
		return
	}
	next := safeNext(r.URL.Query().Get("next"), a.ID)
	if next == "" {
		next = "/a/" + a.ID + "/"
	}
	d := chooserData{AccountID: a.ID, AccountName: a.Name}
	for _, c := range choices {
		d.Choices = append(d.Choices, choice{Description: c.Description,
			URL: s.sso.Pattern() + url.PathEscape(a.ID) + "/" + url.PathEscape(c.ID) + "/login?" + url.Values{"return_to": {next}}.Encode()})
	}
	if len(d.Choices) == 1 {
		http.Redirect(w, r, d.Choices[0].URL, http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, http.StatusOK, "sso-chooser", &view{Title: "Choose how to sign in to " + a.Name, Data: d})
}

// ssoLoggedIn finishes an SSO login (SP- or IdP-initiated): a session in the login's account
// and its cookie, then the page the login was for, which is always a page of that account.
func (s *server) ssoLoggedIn(w http.ResponseWriter, r *http.Request, l *sso.Login) {
	res, err := s.dash.IssueLoginSession(r.Context(), l, sso.ClientOf(r))
	if err != nil {
		s.sso.Error(w, r, err)
		return
	}
	s.startSession(w, res)
	target := safeNext(l.ReturnTo, l.AccountID)
	if target == "" {
		target = "/a/" + l.AccountID + "/"
	}
	if l.Joined {
		setFlash(w, "Welcome: you have joined the account.")
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns next if it is a path of the account's pages (of any account's when
// accountID is empty), else "".
func safeNext(next, accountID string) string {
	if next == "" {
		return ""
	}
	if _, err := sso.RelayStatePath(next); err != nil {
		return ""
	}
	prefix := "/a/"
	if accountID != "" {
		prefix += accountID + "/"
	}
	if !strings.HasPrefix(next, prefix) || strings.Contains(next, "/../") || strings.HasSuffix(next, "/..") {
		return ""
	}
	return next
}

// accountByID reads an account for a page that has no session yet (its name for the
// sign-in page): not found for an ID of no account, or of no account's shape.
func (s *server) accountByID(ctx context.Context, accountID string) (store.Account, error) {
	var a store.Account
	err := s.IAM.Store().View(ctx, func(r store.Reader) error {
		var err error
		a, err = r.Account(ctx, accountID)
		return err
	})
	if errors.Is(err, store.ErrInvalid) {
		err = store.NewError(store.ErrNotFound, "account_not_found", "no such account")
	}
	return a, err
}

// hasSSO reports whether an account has identity providers to sign in with.
func (s *server) hasSSO(ctx context.Context, accountID string) bool {
	choices, err := s.IAM.SSO().LoginChoices(ctx, accountID)
	return err == nil && len(choices) > 0
}

// browserSessions returns the sessions the request's cookies hold, by account: those that
// are still live.
func (s *server) browserSessions(r *http.Request) map[string]sso.Session {
	out := map[string]sso.Session{}
	for i, c := range r.Cookies() {
		if i >= 50 {
			break
		}
		accountID, ok := strings.CutPrefix(c.Name, sessionCookiePrefix)
		if !ok || accountID == "" {
			continue
		}
		if sess, err := s.dash.Verify(r.Context(), accountID, c.Value); err == nil {
			out[accountID] = sess
		}
	}
	return out
}

// home sends the browser to its account, the account picker, or the sign-in page.
func (s *server) home(w http.ResponseWriter, r *http.Request) {
	sessions := s.browserSessions(r)
	switch len(sessions) {
	case 0:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case 1:
		for accountID := range sessions {
			http.Redirect(w, r, "/a/"+accountID+"/", http.StatusSeeOther)
		}
	default:
		http.Redirect(w, r, "/accounts", http.StatusSeeOther)
	}
}

type pickerAccount struct {
	ID, Name, Email string
	SignedIn        bool
	Disabled        bool
}

// accountPicker lists the accounts of the people signed in in this browser: those with a
// session open, and the others, to sign in to.
func (s *server) accountPicker(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sessions := s.browserSessions(r)
	if len(sessions) == 0 {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	users := map[string]bool{}
	for _, sess := range sessions {
		users[sess.UserID] = true
	}
	var list []pickerAccount
	for userID := range users {
		ms, err := s.IAM.Directory().Memberships(ctx, userID)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		var u store.User
		err = s.IAM.Store().View(ctx, func(rd store.Reader) error {
			var err error
			u, err = rd.User(ctx, userID)
			return err
		})
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		for _, m := range ms {
			a, err := s.accountByID(ctx, m.AccountID)
			if err != nil {
				continue
			}
			_, open := sessions[m.AccountID]
			list = append(list, pickerAccount{ID: a.ID, Name: a.Name, Email: u.Email, SignedIn: open && sessions[m.AccountID].UserID == userID,
				Disabled: m.Status != store.MemberActive})
		}
	}
	slices.SortFunc(list, func(a, b pickerAccount) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	s.render(w, r, nil, http.StatusOK, "accounts", &view{Title: "Your accounts", Data: list})
}

// logout ends the session and forgets its cookie.
func (s *server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.dash.SignOut(r.Context(), c.session); err != nil {
		return err
	}
	clearSessionCookie(w, c.account.ID)
	s.redirect(w, r, "/a/"+c.account.ID+"/login", "You have signed out of "+c.account.Name+".")
	return nil
}

// accountHome sends a member to the first page they may see.
func (s *server) accountHome(w http.ResponseWriter, r *http.Request, c *call) error {
	target := c.base() + "/security"
	if links := s.nav(c, ""); len(links) > 0 {
		target = links[0].URL
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

type resetData struct {
	Token string
	// AccountID, AccountName and Email: a new member choosing a first password, who is signed
	// in with it at once.
	AccountID, AccountName, Email string
	Welcome                       bool
}

// resetPage asks for a reset link, or, with a token, for the new password.
func (s *server) resetPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("token") == "" {
		s.render(w, r, nil, http.StatusOK, "reset-request", &view{Title: "Reset your password", Form: url.Values{"email": {q.Get("email")}}})
		return
	}
	s.render(w, r, nil, http.StatusOK, "reset-password", &view{Title: "Choose a new password", Data: resetData{Token: q.Get("token")}})
}

// requestReset mails a reset link to an address that may sign in with a password, and says
// the same whether it may or not.
func (s *server) requestReset(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	v := &view{Title: "Reset your password", Form: url.Values{"email": {email}}}
	if email == "" {
		v.Errors = []formError{{"email", "Enter your email address."}}
		s.render(w, r, nil, http.StatusBadRequest, "reset-request", v)
		return
	}
	pr, err := s.dash.RequestPasswordReset(r.Context(), s.chooseAccount(r, email), email, sso.ClientOf(r))
	if err != nil {
		status, _ := statusOf(err)
		v.Errors = formErrors(err, map[string]string{"email": "email", "": "email"})
		s.render(w, r, nil, status, "reset-request", v)
		return
	}
	if !pr.Token.IsZero() {
		s.mailReset(r.Context(), pr)
	}
	s.render(w, r, nil, http.StatusOK, "reset-sent", &view{Title: "Check your email", Data: email})
}

func (s *server) mailReset(ctx context.Context, pr sso.PasswordReset) {
	link := s.BaseURL + "/reset?" + url.Values{"token": {pr.Token.Reveal()}}.Encode()
	err := s.Mailer.Send(ctx, Mail{To: pr.Email, Subject: "Reset your password",
		Body: "Someone asked to reset the password of " + pr.Email + ". If it was you, open this link within the hour; if not, ignore this mail.",
		Link: link})
	if err != nil {
		s.Logger.Error("mailing a password reset", "err", err)
	}
}

// confirmReset sets the new password of a reset link, and signs a new member in with it.
func (s *server) confirmReset(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	f := r.PostForm
	d := resetData{Token: f.Get("token"), AccountID: f.Get("account"), Email: f.Get("email"), Welcome: f.Get("welcome") != ""}
	if d.AccountID != "" {
		if a, err := s.accountByID(r.Context(), d.AccountID); err == nil {
			d.AccountName = a.Name
		}
	}
	password := f.Get("password")
	v := &view{Title: "Choose a new password", Data: d}
	if password == "" {
		v.Errors = []formError{{"password", "Enter a new password."}}
		s.render(w, r, nil, http.StatusBadRequest, "reset-password", v)
		return
	}
	if err := s.dash.ResetPassword(r.Context(), d.Token, password); err != nil {
		status, _ := statusOf(err)
		if store.CodeOf(err) == sso.CodeResetInvalid {
			s.render(w, r, nil, status, "reset-request", &view{Title: "Reset your password", Errors: []formError{{"email", message(err)}}})
			return
		}
		v.Errors = formErrors(err, map[string]string{"new_password": "password", "password": "password", "": "password"})
		s.render(w, r, nil, status, "reset-password", v)
		return
	}
	if d.AccountID != "" && d.Email != "" {
		res, err := s.dash.SignIn(r.Context(), sso.SignInRequest{AccountID: d.AccountID, Email: d.Email, Password: password, Client: sso.ClientOf(r)})
		if err == nil {
			s.signedIn(w, r, res, "")
			return
		}
	}
	setFlash(w, "Your password is set. Sign in with it.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// invitationPage is the page an invitation's link opens.
func (s *server) invitationPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		s.renderError(w, r, nil, http.StatusNotFound, "Invitation not found",
			"This invitation link is incomplete. Open the link from your invitation mail again, or ask the person who invited you to resend it.")
		return
	}
	s.render(w, r, nil, http.StatusOK, "invitation", &view{Title: "Accept your invitation", Data: token})
}

// acceptInvitation accepts an invitation with its token (proof that its holder reads the
// invited address), then signs the new member in the way the account allows: through its
// identity provider, with the password they have, or with a first password chosen now.
func (s *server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	ctx := r.Context()
	token, name := r.PostForm.Get("token"), strings.TrimSpace(r.PostForm.Get("name"))
	m, err := s.IAM.Directory().AcceptInvitationToken(ctx, token, name, identity.SourceDashboard)
	if err != nil {
		switch {
		case errors.Is(err, store.ErrInvalid) && invalidField(err) == "name":
			s.render(w, r, nil, http.StatusBadRequest, "invitation", &view{Title: "Accept your invitation", Data: token,
				Form: url.Values{"name": {name}}, Errors: formErrors(err, map[string]string{"name": "name"})})
		case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
			s.renderError(w, r, nil, http.StatusNotFound, "Invitation not found",
				"This invitation link is not valid: it may have been revoked, or replaced by a newer one. Ask the person who invited you to send it again.")
		case store.CodeOf(err) == identity.CodeAlreadyMember:
			s.renderError(w, r, nil, http.StatusConflict, "You are already a member", "You are already a member of this account. Sign in to use it.")
		default:
			s.fail(w, r, nil, err)
		}
		return
	}
	s.sync(ctx)
	a, err := s.accountByID(ctx, m.AccountID)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	var u store.User
	var secrets store.UserSecrets
	err = s.IAM.Store().View(ctx, func(rd store.Reader) error {
		var err error
		if u, err = rd.User(ctx, m.UserID); err != nil {
			return err
		}
		if secrets, err = rd.UserSecrets(ctx, m.UserID); errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if d, err := s.IAM.SSO().LoginPolicy(ctx, a.ID, u.ID, sso.MethodPassword); err != nil || !d.Allowed {
		s.redirect(w, r, "/a/"+a.ID+"/sso", "You have joined "+a.Name+". It uses single sign-on: continue with your identity provider.")
		return
	}
	if secrets.PasswordHash != "" {
		s.redirect(w, r, "/a/"+a.ID+"/login?"+url.Values{"email": {u.Email}}.Encode(), "You have joined "+a.Name+". Sign in with your password.")
		return
	}
	// A new person: the token proved they read the invited address, as a reset link would,
	// so they choose their first password here and are signed in with it.
	pr, err := s.dash.RequestPasswordReset(ctx, a.ID, u.Email, sso.ClientOf(r))
	if err != nil || pr.Token.IsZero() {
		s.redirect(w, r, "/reset?"+url.Values{"email": {u.Email}}.Encode(), "You have joined "+a.Name+". Ask for a link to choose your password.")
		return
	}
	s.render(w, r, nil, http.StatusOK, "reset-password", &view{Title: "Choose your password",
		Data: resetData{Token: pr.Token.Reveal(), AccountID: a.ID, AccountName: a.Name, Email: u.Email, Welcome: true}})
}

// invalidField returns the field an invalid-argument error names.
func invalidField(err error) string {
	var se *store.Error
	if errors.As(err, &se) {
		return se.Field
	}
	return ""
}
