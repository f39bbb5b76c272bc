package sso_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// TestSessionsEndOnEvents checks that each event that ends sessions ends the affected ones at
// once, from its own commit, and leaves the others alone: a password session and an SSO
// session of one member, and a password session of another.
func TestSessionsEndOnEvents(t *testing.T) {
	type world struct {
		e                        *dashEnv
		alice, bob               store.User
		alicePw, aliceSSO, bobPw string
		idp                      *testIdP
	}
	cases := []struct {
		name  string
		event func(w *world) error
		// the code each session gets afterwards: "" alive
		alicePw, aliceSSO, bobPw string
	}{
		{"member_disabled", func(w *world) error {
			_, err := w.e.dir.DisableMember(w.e.ctx, w.e.admin, w.alice.ID)
			return err
		}, sso.CodeSessionInvalid, sso.CodeSessionInvalid, ""},
		{"member_removed", func(w *world) error {
			return w.e.dir.RemoveMember(w.e.ctx, w.e.admin, w.alice.ID)
		}, sso.CodeSessionInvalid, sso.CodeSessionInvalid, ""},
		{"enforced", func(w *world) error {
			w.e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
			return nil
		}, sso.CodeSessionRevoked, "", sso.CodeSessionRevoked},
		{"mixed_for_members_since", func(w *world) error {
			w.e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementMixed)
			return nil
		}, "", "", ""}, // both joined before: grandfathered
		{"idp_deleted", func(w *world) error {
			return w.e.svc.DeleteIdentityProvider(w.e.ctx, w.e.admin, w.idp.rec.ID)
		}, "", sso.CodeSessionInvalid, ""}, // deleted with the IdP
		{"plan_without_sso", func(w *world) error {
			_, err := w.e.dir.ChangePlan(w.e.ctx, w.e.admin, identity.PayAsYouGo().Name)
			return err
		}, "", sso.CodeSessionRevoked, ""},
		{"password_reset", func(w *world) error {
			r, err := w.e.dash.RequestPasswordReset(w.e.ctx, w.e.acct.ID, "alice@example.com", sso.Client{})
			if err != nil {
				return err
			}
			return w.e.dash.ResetPassword(w.e.ctx, r.Token.Reveal(), "a brand new passphrase")
		}, sso.CodeSessionRevoked, sso.CodeSessionRevoked, ""},
		{"end_sessions", func(w *world) error {
			_, err := w.e.dash.EndSessions(w.e.ctx, w.e.admin, w.alice.ID)
			return err
		}, sso.CodeSessionInvalid, sso.CodeSessionInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newDash(t, ssoPlan.Name)
			w := &world{e: e}
			w.alice = e.withPassword("alice@example.com", "developer")
			w.bob = e.withPassword("bob@example.com", "developer")
			w.idp = e.newIdP(sso.IdPParams{})
			_, w.alicePw = e.session("alice@example.com")
			_, w.bobPw = e.session("bob@example.com")
			l, err := e.login(w.idp, "alice@example.com", "/")
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.dash.IssueLoginSession(e.ctx, l, sso.Client{})
			if err != nil {
				t.Fatal(err)
			}
			w.aliceSSO = res.Token.Reveal()
			for _, tok := range []string{w.alicePw, w.aliceSSO, w.bobPw} {
				e.wantAlive("before the event", tok)
			}
			e.tick()
			if err := c.event(w); err != nil {
				t.Fatal(err)
			}
			for _, s := range []struct{ what, tok, code string }{
				{"alice's password session", w.alicePw, c.alicePw},
				{"alice's SSO session", w.aliceSSO, c.aliceSSO},
				{"bob's password session", w.bobPw, c.bobPw},
			} {
				if s.code == "" {
					e.wantAlive(s.what, s.tok)
				} else {
					e.wantEnded(s.what, s.tok, s.code)
				}
			}
		})
	}
}

// TestSessionsEndedAreDeleted checks what the store keeps: a disabled member's sessions go
// with the change, an identity provider's with its deletion, and an ended session when it is
// presented.
func TestSessionsEndedAreDeleted(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	alice := e.withPassword("alice@example.com", "developer")
	idp := e.newIdP(sso.IdPParams{})
	e.session("alice@example.com")
	l, err := e.login(idp, "alice@example.com", "/")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.dash.IssueLoginSession(e.ctx, l, sso.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.storedSessions(alice.ID)); n != 2 {
		t.Fatalf("%d sessions stored, want 2", n)
	}
	if err := e.svc.DeleteIdentityProvider(e.ctx, e.admin, idp.rec.ID); err != nil {
		t.Fatal(err)
	}
	ss := e.storedSessions(alice.ID)
	if len(ss) != 1 || ss[0].IdPID != "" {
		t.Fatalf("sessions stored after deleting the IdP: %+v, want the password session", ss)
	}
	e.wantEnded("the SSO session", res.Token.Reveal(), sso.CodeSessionInvalid) // deleted with the IdP

	_, pw := e.session("alice@example.com")
	e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
	if n := len(e.storedSessions(alice.ID)); n != 2 {
		t.Fatalf("%d sessions stored after enforcing, want 2 until presented", n)
	}
	e.wantEnded("a password session under enforcement", pw, sso.CodeSessionRevoked)
	if n := len(e.storedSessions(alice.ID)); n != 1 {
		t.Fatalf("%d sessions stored after presenting an ended one, want 1", n)
	}
}

// TestSessionLifetimes checks the idle and absolute ends and that last use is recorded at
// most once a minute.
func TestSessionLifetimes(t *testing.T) {
	e := newDash(t, ssoPlan.Name, sso.WithSessionLifetimes(10*time.Minute, time.Hour))
	alice := e.withPassword("alice@example.com", "developer")
	s, tok := e.session("alice@example.com")
	if got := s.ExpiresAt.Sub(s.IssuedAt); got != time.Hour {
		t.Fatalf("session lasts %v, want an hour", got)
	}
	lastSeen := func() time.Time {
		t.Helper()
		ss := e.storedSessions(alice.ID)
		if len(ss) != 1 {
			t.Fatalf("%d sessions stored", len(ss))
		}
		return ss[0].LastSeenAt
	}
	start := lastSeen()
	e.clk.Advance(30 * time.Second)
	e.wantAlive("30s later", tok)
	if got := lastSeen(); !got.Equal(start) {
		t.Errorf("last seen moved to %v after 30s, want it written at most once a minute", got)
	}
	for range 5 { // used every 9 minutes: never idle 10
		e.clk.Advance(9 * time.Minute)
		e.wantAlive("used within the idle timeout", tok)
	}
	if got := lastSeen(); !got.Equal(e.clk.Now().UTC()) {
		t.Errorf("last seen %v, want %v", got, e.clk.Now().UTC())
	}
	e.clk.Advance(15 * time.Minute) // past the absolute hour
	e.wantEnded("past its absolute end", tok, sso.CodeSessionInvalid)
	if n := len(e.storedSessions(alice.ID)); n != 0 {
		t.Errorf("%d sessions stored after the ended one was presented, want 0", n)
	}

	_, tok = e.session("alice@example.com")
	e.clk.Advance(10 * time.Minute)
	e.wantEnded("idle for the idle timeout", tok, sso.CodeSessionInvalid)

	for _, bad := range [][2]time.Duration{{30 * time.Second, time.Hour}, {2 * time.Hour, time.Hour}, {time.Hour, 31 * 24 * time.Hour}} {
		if _, err := sso.NewDashboard(e.svc, sso.WithSessionLifetimes(bad[0], bad[1])); store.CodeOf(err) != sso.CodeConfigInvalid {
			t.Errorf("lifetimes %v: %v, want CodeConfigInvalid", bad, err)
		}
	}
}

// TestVerifyRefuses checks tokens that never verify: malformed, of an unknown session, with
// another secret, or of another account.
func TestVerifyRefuses(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	_, tok := e.session("alice@example.com")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, c := range []struct{ name, tok string }{
		{"empty", ""},
		{"truncated", tok[:len(tok)-1]},
		{"another_secret", flip(tok, len(tok)-1)},
		{"upper_case_secret", strings.ToUpper(tok[:len(tok)-40]) + strings.ToUpper(tok[len(tok)-40:])},
		{"unknown_session", tok[:4] + "01ARZ3NDEKTSV4RRFFQ69G5FAV" + tok[30:]},
		{"jwt", "eyJhbGciOiJFZERTQSJ9.e30.sig"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.with(t).wantEnded(c.name, c.tok, sso.CodeSessionInvalid)
		})
	}
	t.Run("another_account", func(t *testing.T) {
		other, _ := e.env.dir.CreateAccount(e.ctx, e.admin.ID, "other", ssoPlan.Name)
		_, err := e.dash.Verify(e.ctx, other.ID, tok)
		wantCode(t, err, sso.CodeSessionInvalid)
	})
	t.Run("bad_account_id", func(t *testing.T) {
		_, err := e.dash.Verify(e.ctx, "nope", tok)
		if invalidField(err) != "account_id" {
			t.Fatalf("Verify: %v, want ErrInvalid on account_id", err)
		}
	})
	e.wantAlive("after the refusals", tok)
}

// TestSessionsListAndEnd covers listing and ending sessions: a member its own, an
// administrator a member's, with the permissions each needs and the events recorded.
func TestSessionsListAndEnd(t *testing.T) {
	e := newDash(t, identity.Enterprise().Name)
	alice := e.withPassword("alice@example.com", "developer")
	bob := e.withPassword("bob@example.com", "developer")
	a1, t1 := e.session("alice@example.com")
	e.tick()
	a2, t2 := e.session("alice@example.com")
	b1, _ := e.session("bob@example.com")
	asAlice := e.principal(alice.ID)
	asBob := e.principal(bob.ID)

	list := func(by identity.Principal, userID string, p store.Page) []string {
		t.Helper()
		ss, err := e.dash.Sessions(e.ctx, by, userID, p)
		if err != nil {
			t.Fatalf("Sessions: %v", err)
		}
		ids := make([]string, len(ss))
		for i, s := range ss {
			ids[i] = s.ID
		}
		return ids
	}
	wantIDs := func(what string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	wantIDs("alice's own", list(asAlice, alice.ID, store.Page{Limit: 10}), a2.ID, a1.ID)
	wantIDs("alice's, a page of one", list(asAlice, alice.ID, store.Page{Limit: 1}), a2.ID)
	wantIDs("alice's, after a2", list(asAlice, alice.ID, store.Page{BeforeID: a2.ID, Limit: 10}), a1.ID)
	wantIDs("by an administrator", list(e.admin, alice.ID, store.Page{Limit: 10}), a2.ID, a1.ID)
	ss, _ := e.dash.Sessions(e.ctx, asAlice, alice.ID, store.Page{Limit: 1})
	if s := ss[0]; s.UserAgent != "Mozilla/5.0 test" || s.IP != "192.0.2.1" || s.Method != sso.MethodPassword || s.LastSeenAt.IsZero() {
		t.Errorf("listed session %+v", s)
	}

	viewer := e.principal(e.withPassword("viewer@example.com", rbac.RoleTeamReadOnly).ID)
	_, err := e.dash.Sessions(e.ctx, asBob, alice.ID, store.Page{Limit: 10})
	wantErr(t, err, store.ErrDenied)
	wantIDs("by a read-only team member", list(viewer, alice.ID, store.Page{Limit: 10}), a2.ID, a1.ID)
	err = e.dash.EndSession(e.ctx, viewer, a1.ID)
	wantErr(t, err, store.ErrDenied)
	err = e.dash.EndSession(e.ctx, asBob, a1.ID)
	wantErr(t, err, store.ErrDenied)
	e.wantAlive("after refused ends", t1)

	n := e.eventCount()
	if err := e.dash.EndSession(e.ctx, asAlice, a1.ID); err != nil {
		t.Fatal(err)
	}
	evs := e.wantEvents(n, identity.EventSessionEnded)
	if obj := object[sso.SessionObject](t, evs[0]); obj.ID != a1.ID || obj.EndReason != sso.EndEnded || evs[0].Principal.ID != alice.ID {
		t.Errorf("session_ended %+v by %+v", obj, evs[0].Principal)
	}
	e.wantEnded("the ended session", t1, sso.CodeSessionInvalid)
	e.wantAlive("the other session", t2)
	err = e.dash.EndSession(e.ctx, asAlice, a1.ID)
	wantErr(t, err, store.ErrNotFound)

	n = e.eventCount()
	if k, err := e.dash.EndSessions(e.ctx, e.admin, alice.ID); err != nil || k != 1 {
		t.Fatalf("EndSessions: %d, %v", k, err)
	}
	evs = e.wantEvents(n, identity.EventSessionEnded)
	if evs[0].Principal.ID != e.admin.ID {
		t.Errorf("session_ended by %+v, want the administrator", evs[0].Principal)
	}
	e.wantEnded("ended by an administrator", t2, sso.CodeSessionInvalid)
	wantIDs("alice's after all ended", list(asAlice, alice.ID, store.Page{Limit: 10}))
	wantIDs("bob's, untouched", list(asBob, bob.ID, store.Page{Limit: 10}), b1.ID)

	_, err = e.dash.EndSessions(e.ctx, asBob, alice.ID)
	wantErr(t, err, store.ErrDenied)

	// Another account's session is not found in this one.
	other, err := e.dir.CreateAccount(e.ctx, bob.ID, "bob's", ssoPlan.Name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.dash.SignIn(e.ctx, sso.SignInRequest{AccountID: other.ID, Email: "bob@example.com", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	err = e.dash.EndSession(e.ctx, e.admin, res.Session.ID)
	wantErr(t, err, store.ErrNotFound)

	// Signing out.
	s, tok := e.session("bob@example.com")
	n = e.eventCount()
	if err := e.dash.SignOut(e.ctx, s); err != nil {
		t.Fatal(err)
	}
	evs = e.wantEvents(n, identity.EventSessionEnded)
	if obj := object[sso.SessionObject](t, evs[0]); obj.EndReason != sso.EndSignedOut {
		t.Errorf("session_ended %+v", obj)
	}
	e.wantEnded("signed out", tok, sso.CodeSessionInvalid)
	if err := e.dash.SignOut(e.ctx, s); err != nil {
		t.Errorf("signing out twice: %v", err)
	}
}

// TestSessionLimit checks that a member keeps at most MaxSessionsPerMember sessions: a new one
// ends the oldest, recorded with its reason.
func TestSessionLimit(t *testing.T) {
	e := newDash(t, ssoPlan.Name, sso.WithThrottle(sso.Throttle{PerUser: []store.Rate{{Limit: 100, Period: time.Minute}}}))
	alice := e.withPassword("alice@example.com", "developer")
	var toks []string
	for range sso.MaxSessionsPerMember {
		_, tok := e.session("alice@example.com")
		toks = append(toks, tok)
		e.clk.Advance(time.Second)
	}
	n := e.eventCount()
	e.session("alice@example.com")
	evs := e.wantEvents(n, identity.EventSessionEnded, identity.EventSignInSucceeded)
	if obj := object[sso.SessionObject](t, evs[0]); obj.EndReason != sso.EndSessionLimit {
		t.Errorf("session_ended %+v", obj)
	}
	if k := len(e.storedSessions(alice.ID)); k != sso.MaxSessionsPerMember {
		t.Errorf("%d sessions stored, want %d", k, sso.MaxSessionsPerMember)
	}
	e.wantEnded("the oldest", toks[0], sso.CodeSessionInvalid)
	e.wantAlive("the second oldest", toks[1])
}

// TestCookiesAndCrossOrigin checks the session cookie's attributes and that VerifyRequest
// refuses state-changing cross-site requests.
func TestCookiesAndCrossOrigin(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	res, err := e.signIn("alice@example.com", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.dash.SetCookie(rec, res.Token, res.Session)
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies set", len(cs))
	}
	c := cs[0]
	if c.Name != sso.DefaultSessionCookie || !strings.HasPrefix(c.Name, "__Host-") || c.Value != res.Token.Reveal() || c.Path != "/" ||
		c.Domain != "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !c.Expires.Equal(res.Session.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("session cookie %+v", c)
	}
	rec = httptest.NewRecorder()
	e.dash.ClearCookie(rec)
	if cl := rec.Result().Cookies(); len(cl) != 1 || cl[0].MaxAge != -1 || cl[0].Name != c.Name || !cl[0].Secure {
		t.Errorf("clearing cookie %+v", cl)
	}

	req := func(method, site string) *http.Request {
		r := httptest.NewRequest(method, "https://dash.example.com/settings", nil)
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		return r
	}
	for _, tc := range []struct {
		method, site string
		crossOrigin  bool
	}{
		{http.MethodPost, "same-origin", false},
		{http.MethodPost, "", false}, // no header: not a browser, or an old one; SameSite=Lax holds
		{http.MethodPost, "cross-site", true},
		{http.MethodDelete, "same-site", true},
		{http.MethodGet, "cross-site", false},
	} {
		_, err := e.dash.VerifyRequest(req(tc.method, tc.site), e.acct.ID)
		switch {
		case tc.crossOrigin && (!errors.Is(err, store.ErrDenied) || store.CodeOf(err) != sso.CodeCrossOrigin):
			t.Errorf("%s from %q: %v, want CodeCrossOrigin", tc.method, tc.site, err)
		case !tc.crossOrigin && err != nil:
			t.Errorf("%s from %q: %v", tc.method, tc.site, err)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "https://dash.example.com/", nil)
	_, err = e.dash.VerifyRequest(r, e.acct.ID)
	wantCode(t, err, sso.CodeSessionInvalid)

	if _, err := sso.NewDashboard(e.svc, sso.WithDashboardCookie("session")); store.CodeOf(err) != sso.CodeConfigInvalid {
		t.Errorf("a cookie name without __Host-: %v", err)
	}
	if _, err := sso.NewDashboard(e.svc, sso.WithTrustedOrigins("not an origin")); store.CodeOf(err) != sso.CodeConfigInvalid {
		t.Errorf("a bad trusted origin: %v", err)
	}
}

// TestCookieLogin runs an SSO login through the Handler into a server-side session.
func TestCookieLogin(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.member("alice@example.com", "developer")
	idp := e.newIdP(sso.IdPParams{})
	l, err := e.login(idp, "alice@example.com", "/after")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.dash.CookieLogin()(rec, httptest.NewRequest(http.MethodPost, "https://dash.example.com/sso/acs", nil), l)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/after" {
		t.Fatalf("CookieLogin answered %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies", len(cs))
	}
	s, err := e.verify(cs[0].Value)
	if err != nil || s.Method != sso.MethodSSO || s.IdPID != idp.rec.ID {
		t.Fatalf("Verify of the SSO session: %+v, %v", s, err)
	}
}

// TestSecretsRedacted checks that results holding secrets never print or marshal them.
func TestSecretsRedacted(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	res, err := e.signIn("alice@example.com", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	tok := res.Token.Reveal()
	setup, err := e.dash.BeginTOTP(e.ctx, res.Session)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range printed(res, setup) {
		if strings.Contains(s, tok) || strings.Contains(s, setup.Secret.Reveal()) {
			t.Errorf("a secret printed: %s", s)
		}
	}
}

// printed returns vs as every way of printing or serialising them shows them.
func printed(vs ...any) []string {
	var out []string
	for _, v := range vs {
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out = append(out, fmt.Sprintf(f, v))
		}
		b, err := json.Marshal(v)
		out = append(out, string(b), fmt.Sprint(err))
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		out = append(out, buf.String())
	}
	return out
}

// TestSessionOfDeletedIdP checks the check at verification that ends an identity provider's
// sessions beyond the batch its deletion deletes: a session whose IdP record is gone is
// refused, and deleted when presented.
func TestSessionOfDeletedIdP(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	alice := e.member("alice@example.com", "developer")
	idp := e.newIdP(sso.IdPParams{})
	l, err := e.login(idp, "alice@example.com", "/")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.dash.IssueLoginSession(e.ctx, l, sso.Client{})
	if err != nil {
		t.Fatal(err)
	}
	// The record alone, as if the session were beyond the first batch.
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.DeleteIdentityProvider(e.ctx, idp.rec.ID) }); err != nil {
		t.Fatal(err)
	}
	e.wantEnded("a session of a deleted IdP", res.Token.Reveal(), sso.CodeSessionRevoked)
	if n := len(e.storedSessions(alice.ID)); n != 0 {
		t.Errorf("%d sessions stored after presenting it, want 0", n)
	}
}

// TestEndSessionsOfAdministrator checks that ending another member's sessions needs what
// disabling that member needs: a team manager ends a developer's, not an administrator's.
func TestEndSessionsOfAdministrator(t *testing.T) {
	e := newDash(t, identity.Enterprise().Name)
	admin2 := e.withPassword("admin2@example.com", "admin")
	dev := e.withPassword("dev@example.com", "developer")
	manager := e.principal(e.withPassword("manager@example.com", rbac.RoleTeamManager).ID)
	as, atok := e.session("admin2@example.com")
	ds, dtok := e.session("dev@example.com")

	wantErr(t, e.dash.EndSession(e.ctx, manager, as.ID), store.ErrDenied)
	_, err := e.dash.EndSessions(e.ctx, manager, admin2.ID)
	wantErr(t, err, store.ErrDenied)
	e.wantAlive("an administrator's session after a team manager tried", atok)

	if err := e.dash.EndSession(e.ctx, manager, ds.ID); err != nil {
		t.Fatalf("a team manager ending a developer's session: %v", err)
	}
	e.wantEnded("the developer's session", dtok, sso.CodeSessionInvalid)
	if _, err := e.dash.EndSessions(e.ctx, manager, dev.ID); err != nil {
		t.Fatalf("a team manager ending a developer's sessions: %v", err)
	}
	if err := e.dash.EndSession(e.ctx, e.admin, as.ID); err != nil {
		t.Fatalf("an administrator ending another's session: %v", err)
	}
}

// TestIssueSession covers sessions of the embedder's own login methods: the login policy
// applies as to passwords, and password and SSO are not its to claim.
func TestIssueSession(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	alice := e.member("alice@example.com", "developer")
	p := e.principal(alice.ID)
	res, err := e.dash.IssueSession(e.ctx, p, "github", sso.Client{IP: "::ffff:192.0.2.9"})
	if err != nil || res.Session.Method != "github" || res.Session.IP != "192.0.2.9" {
		t.Fatalf("IssueSession: %+v, %v", res.Session, err)
	}
	e.wantAlive("a github session", res.Token.Reveal())
	for _, m := range []sso.LoginMethod{sso.MethodPassword, sso.MethodSSO, "", "Git Hub"} {
		if _, err := e.dash.IssueSession(e.ctx, p, m, sso.Client{}); invalidField(err) != "method" {
			t.Errorf("method %q: %v, want ErrInvalid on method", m, err)
		}
	}
	e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
	_, err = e.dash.IssueSession(e.ctx, p, "github", sso.Client{})
	wantDenied(t, err, sso.ReasonSSOEnforced)
	e.wantEnded("a github session under enforcement", res.Token.Reveal(), sso.CodeSessionRevoked)
}

// TestSSOSignInEventCarriesGroups: the sign_in_succeeded event of an SSO session records
// the groups the IdP asserted, from which a dashboard explains the member's roles.
func TestSSOSignInEventCarriesGroups(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	idp := e.newIdP(sso.IdPParams{})
	l, err := e.login(idp, "alice@example.com", "/")
	if err != nil {
		t.Fatal(err)
	}
	l.Groups = []string{"Engineering", "Ops"}
	n := e.eventCount()
	if _, err := e.dash.IssueLoginSession(e.ctx, l, sso.Client{}); err != nil {
		t.Fatal(err)
	}
	evs := e.wantEvents(n, identity.EventSignInSucceeded)
	if obj := object[sso.SignInObject](t, evs[0]); !slices.Equal(obj.Groups, l.Groups) || obj.IdPID != idp.rec.ID || obj.Method != string(sso.MethodSSO) {
		t.Errorf("sign_in_succeeded %+v, want groups %v through %s", obj, l.Groups, idp.rec.ID)
	}
}
