package iamkit_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// fastHashing keeps password hashing cheap in tests.
var fastHashing = sso.WithPasswordParams(sso.PasswordParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})

// dashboardWorld is a world with dashboard sign-in, an administrator with a password, a
// developer, and a second account the administrator founded.
type dashboardWorld struct {
	*world
	dev    identity.Principal
	other  store.Account
	signIn func(t *testing.T, accountID, email string) string
}

func newDashboardWorld(t *testing.T) *dashboardWorld {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, iamkit.WithSSO("https://dash.acme.test", key), iamkit.WithDashboard(fastHashing))
	d := w.iam.Dashboard()
	const password = "correct horse battery"
	devUser, err := w.iam.Directory().CreateUser(w.ctx, "dev@acme.test", "Dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.iam.Directory().AddMember(w.ctx, w.boot.Admin, devUser.ID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	dev, err := w.iam.Directory().Principal(w.ctx, w.boot.Account.ID, devUser.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.boot.Admin.ID, devUser.ID} {
		if err := d.SetInitialPassword(w.ctx, id, password); err != nil {
			t.Fatal(err)
		}
	}
	other, err := w.iam.Directory().CreateAccount(w.ctx, w.boot.Admin.ID, "Other", identity.PayAsYouGo().Name)
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(t *testing.T, accountID, email string) string {
		t.Helper()
		res, err := d.SignIn(w.ctx, sso.SignInRequest{AccountID: accountID, Email: email, Password: password})
		if err != nil || res.Step != sso.StepDone {
			t.Fatalf("SignIn(%s): %+v, %v", email, res, err)
		}
		return res.Token.Reveal()
	}
	return &dashboardWorld{world: w, dev: dev, other: other, signIn: signIn}
}

// whoami serves what the middleware put in the request's context.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, okP := iamkit.PrincipalFrom(r.Context())
	s, okS := iamkit.SessionFrom(r.Context())
	if !okP || !okS {
		http.Error(w, "no principal or session", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{
		"id": p.ID, "subject": p.Subject, "source": string(p.Source), "account": p.AccountID,
		"credential": p.CredentialID, "session": s.ID, "method": string(s.Method),
	})
}

// TestSessionAuth: the middleware lets a request through with the session's user as a
// dashboard principal only when its cookie holds a live session of the URL's account, and
// answers everything else with the error that says why.
func TestSessionAuth(t *testing.T) {
	w := newDashboardWorld(t)
	acct := w.boot.Account.ID
	adminToken := w.signIn(t, acct, "admin@acme.test")
	devToken := w.signIn(t, acct, "dev@acme.test")
	otherToken := w.signIn(t, w.other.ID, "admin@acme.test")

	perAccount := func(accountID string) string { return "__Host-s_" + accountID }
	mux := http.NewServeMux()
	byPath := func(r *http.Request) string { return r.PathValue("account") }
	mux.Handle("/default/{account}/", w.iam.SessionAuth(byPath)(http.HandlerFunc(whoami)))
	mux.Handle("/named/{account}/", w.iam.SessionAuth(byPath, iamkit.WithSessionCookieName(perAccount))(http.HandlerFunc(whoami)))
	mux.Handle("/none/", w.iam.SessionAuth(func(*http.Request) string { return "" })(http.HandlerFunc(whoami)))
	mux.Handle("/plain/{account}/", w.iam.SessionAuth(byPath, iamkit.WithSessionCookieName(func(string) string { return "session" }))(http.HandlerFunc(whoami)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The developer is disabled after the table's first rows have signed it in: its session
	// ends with the membership.
	disabledDev := w.signIn(t, acct, "dev@acme.test")

	cookie := func(name, value string) *http.Cookie { return &http.Cookie{Name: name, Value: value} }
	for _, c := range []struct {
		name       string
		method     string
		path       string
		cookies    []*http.Cookie
		header     map[string]string
		status     int
		code       string
		subject    string
		beforeCall func(t *testing.T)
	}{
		{name: "administrator", path: "/default/" + acct + "/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, adminToken)},
			status: http.StatusOK, subject: "admin@acme.test"},
		{name: "developer", path: "/default/" + acct + "/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, devToken)},
			status: http.StatusOK, subject: "dev@acme.test"},
		{name: "same-origin post", method: http.MethodPost, path: "/default/" + acct + "/x",
			cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, adminToken)}, header: map[string]string{"Sec-Fetch-Site": "same-origin"},
			status: http.StatusOK, subject: "admin@acme.test"},
		{name: "no cookie", path: "/default/" + acct + "/x", status: http.StatusUnauthorized, code: sso.CodeSessionInvalid},
		{name: "garbage", path: "/default/" + acct + "/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, "ias_nope")},
			status: http.StatusUnauthorized, code: sso.CodeSessionInvalid},
		{name: "a session of another account", path: "/default/" + acct + "/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, otherToken)},
			status: http.StatusUnauthorized, code: sso.CodeSessionInvalid},
		{name: "cross-site post", method: http.MethodPost, path: "/default/" + acct + "/x",
			cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, adminToken)}, header: map[string]string{"Sec-Fetch-Site": "cross-site"},
			status: http.StatusForbidden, code: sso.CodeCrossOrigin},
		{name: "no account in the URL", path: "/none/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, adminToken)},
			status: http.StatusUnauthorized, code: iamkit.CodeAccountRequired},
		{name: "per-account cookie", path: "/named/" + acct + "/x", cookies: []*http.Cookie{cookie(perAccount(acct), adminToken)},
			status: http.StatusOK, subject: "admin@acme.test"},
		{name: "per-account cookie, other account", path: "/named/" + w.other.ID + "/x",
			cookies: []*http.Cookie{cookie(perAccount(acct), adminToken), cookie(perAccount(w.other.ID), otherToken)},
			status:  http.StatusOK, subject: "admin@acme.test"},
		{name: "per-account cookie of another account", path: "/named/" + acct + "/x", cookies: []*http.Cookie{cookie(perAccount(acct), otherToken)},
			status: http.StatusUnauthorized, code: sso.CodeSessionInvalid},
		{name: "per-account names ignore the default cookie", path: "/named/" + acct + "/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, adminToken)},
			status: http.StatusUnauthorized, code: sso.CodeSessionInvalid},
		{name: "a cookie name without __Host-", path: "/plain/" + acct + "/x", cookies: []*http.Cookie{cookie("session", adminToken)},
			status: http.StatusBadRequest, code: store.CodeInvalidValue},
		{name: "cross-site post, per-account cookie", method: http.MethodPost, path: "/named/" + acct + "/x",
			cookies: []*http.Cookie{cookie(perAccount(acct), adminToken)}, header: map[string]string{"Sec-Fetch-Site": "cross-site"},
			status: http.StatusForbidden, code: sso.CodeCrossOrigin},
		{name: "disabled member", path: "/default/" + acct + "/x", cookies: []*http.Cookie{cookie(sso.DefaultSessionCookie, disabledDev)},
			status: http.StatusUnauthorized, code: sso.CodeSessionInvalid, beforeCall: func(t *testing.T) {
				if _, err := w.iam.Directory().DisableMember(w.ctx, w.boot.Admin, w.dev.ID); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.beforeCall != nil {
				c.beforeCall(t)
			}
			method := c.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequestWithContext(w.ctx, method, srv.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, ck := range c.cookies {
				req.AddCookie(ck)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.status != http.StatusOK {
				var body iamkit.ErrorBody
				if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error.Code != c.code {
					t.Fatalf("error body %+v (%v), want code %q", body, err, c.code)
				}
				return
			}
			var got map[string]string
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got["subject"] != c.subject || got["source"] != string(identity.SourceDashboard) || got["credential"] != "" ||
				got["method"] != string(sso.MethodPassword) || got["session"] == "" {
				t.Errorf("context %v, want the session of %s as a dashboard principal", got, c.subject)
			}
		})
	}
}

// TestSessionAuth_EndedSessionAndFailureHandler: a session signed out is refused, and the
// failure handler, when set, answers in place of the ErrorFormat with the error.
func TestSessionAuth_EndedSessionAndFailureHandler(t *testing.T) {
	w := newDashboardWorld(t)
	acct := w.boot.Account.ID
	token := w.signIn(t, acct, "admin@acme.test")
	s, err := w.iam.Dashboard().Verify(w.ctx, acct, token)
	if err != nil {
		t.Fatal(err)
	}
	var got error
	h := w.iam.SessionAuth(func(*http.Request) string { return acct }, iamkit.WithSessionFailure(func(rw http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
	}))(http.HandlerFunc(whoami))

	call := func() *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(w.ctx, http.MethodGet, "https://dash.acme.test/x", nil)
		req.AddCookie(&http.Cookie{Name: sso.DefaultSessionCookie, Value: token})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := call(); rec.Code != http.StatusOK {
		t.Fatalf("live session: status %d, want 200", rec.Code)
	}
	if err := w.iam.Dashboard().SignOut(w.ctx, s); err != nil {
		t.Fatal(err)
	}
	rec := call()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("signed-out session: status %d to %q, want the failure handler's redirect", rec.Code, rec.Header().Get("Location"))
	}
	if !errors.Is(got, store.ErrUnauthenticated) || store.CodeOf(got) != sso.CodeSessionInvalid {
		t.Errorf("failure handler got %v, want ErrUnauthenticated with %s", got, sso.CodeSessionInvalid)
	}
}

// TestSessionAuth_WithoutDashboard: an IAM built without WithDashboard answers 404
// not_enabled rather than letting anything through.
func TestSessionAuth_WithoutDashboard(t *testing.T) {
	w := newWorld(t)
	h := w.iam.SessionAuth(func(*http.Request) string { return w.boot.Account.ID })(http.HandlerFunc(whoami))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(w.ctx, http.MethodGet, "/x", nil))
	var body iamkit.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != http.StatusNotFound || err != nil || body.Error.Code != iamkit.CodeNotEnabled {
		t.Errorf("status %d, body %s, want 404 %s", rec.Code, rec.Body, iamkit.CodeNotEnabled)
	}
}
