package sso_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// TestPasswordPolicy checks the rules a new password must pass, NIST SP 800-63B's: a length,
// no composition rules, Unicode welcome, no common password, not the email.
func TestPasswordPolicy(t *testing.T) {
	e := newDash(t, identity.Enterprise().Name)
	cases := []struct {
		name, password, code string
		limit                int
	}{
		{"eleven_characters", "abcdefghijk", sso.CodePasswordTooShort, sso.DefaultMinPasswordLen},
		{"twelve_characters", "abcdefghijkm", "", 0},
		{"no_composition_rules", "all lower case words", "", 0},
		{"twelve_unicode_characters", "éééééééééééé", "", 0}, // 24 bytes, 12 characters
		{"nfkc_counts_ligatures_as_two", "ﬁﬁﬁﬁﬁﬁ", "", 0},    // 6 ligatures, 12 characters after NFKC
		{"common", "password1234", sso.CodePasswordCommon, 0},
		{"common_any_case", "PassWord1234", sso.CodePasswordCommon, 0},
		{"the_email", "user@example.com", sso.CodePasswordCommon, 0},
		{"the_email_local_part", "userexample12", "", 0},
		{"control_character", "abcdefghijkl\x00", store.CodeInvalidValue, 0},
		{"invalid_utf8", "abcdefghijkl\xff", store.CodeInvalidValue, 0},
		{"longest", strings.Repeat("x", sso.MaxPasswordLen), "", 0},
		{"too_long", strings.Repeat("x", sso.MaxPasswordLen+1), store.CodeTooLong, sso.MaxPasswordLen},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := e.user("user" + string(rune('a'+i)) + "@example.com")
			pw := strings.ReplaceAll(c.password, "user@example.com", u.Email)
			err := e.dash.SetInitialPassword(e.ctx, u.ID, pw)
			if c.code == "" {
				if err != nil {
					t.Fatalf("SetInitialPassword: %v", err)
				}
				return
			}
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Code != c.code || se.Field != "password" || se.Limit != c.limit {
				t.Fatalf("SetInitialPassword: %v (%+v), want ErrInvalid on password with code %s and limit %d", err, se, c.code, c.limit)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
	t.Run("min_length_option", func(t *testing.T) {
		d, err := sso.NewDashboard(e.svc, sso.WithPasswordParams(cheapParams()), sso.WithMinPasswordLength(15))
		if err != nil {
			t.Fatal(err)
		}
		err = d.SetInitialPassword(e.ctx, e.user("long@example.com").ID, "fourteen chars")
		if store.CodeOf(err) != sso.CodePasswordTooShort {
			t.Fatalf("14 characters with a minimum of 15: %v", err)
		}
		for _, n := range []int{7, 65} {
			if _, err := sso.NewDashboard(e.svc, sso.WithMinPasswordLength(n)); store.CodeOf(err) != sso.CodeConfigInvalid {
				t.Errorf("minimum %d: %v, want CodeConfigInvalid", n, err)
			}
		}
	})
	t.Run("initial_only_once", func(t *testing.T) {
		u := e.user("once@example.com")
		if err := e.dash.SetInitialPassword(e.ctx, u.ID, goodPassword); err != nil {
			t.Fatal(err)
		}
		err := e.dash.SetInitialPassword(e.ctx, u.ID, "another good passphrase")
		if !errors.Is(err, store.ErrConflict) || store.CodeOf(err) != sso.CodePasswordSet {
			t.Fatalf("a second SetInitialPassword: %v, want CodePasswordSet", err)
		}
		if err := e.dash.SetInitialPassword(e.ctx, "usr_nobody", goodPassword); invalidField(err) != "user_id" {
			t.Errorf("a malformed user ID: %v", err)
		}
	})
}

// TestChangePassword checks a member's own password change: the current password is asked,
// every session of the user in every account ends, and the caller gets the session that
// replaces its own.
func TestChangePassword(t *testing.T) {
	e := newDash(t, identity.Enterprise().Name)
	alice := e.withPassword("alice@example.com", "developer")
	other, err := e.dir.CreateAccount(e.ctx, alice.ID, "alice's own", identity.Enterprise().Name)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := e.dash.SignIn(e.ctx, sso.SignInRequest{AccountID: other.ID, Email: "alice@example.com", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	_, another := e.session("alice@example.com")
	s, tok := e.session("alice@example.com")
	e.tick()

	_, err = e.dash.ChangePassword(e.ctx, s, "not the password", "a new long passphrase")
	wantCodeOf(t, "a wrong current password", err, store.ErrUnauthenticated, sso.CodeBadCredentials)
	_, err = e.dash.ChangePassword(e.ctx, s, goodPassword, "short")
	if invalidField(err) != "new_password" {
		t.Fatalf("a short new password: %v, want ErrInvalid on new_password", err)
	}
	n := e.eventCount()
	res, err := e.dash.ChangePassword(e.ctx, s, goodPassword, "a new long passphrase")
	if err != nil || res.Step != sso.StepDone {
		t.Fatalf("ChangePassword: %+v, %v", res, err)
	}
	// The password change ends every session: its event says so, with no session_ended each.
	evs := e.wantEvents(n, identity.EventPasswordChanged, identity.EventSignInSucceeded)
	if obj := object[sso.PasswordObject](t, evs[0]); obj.Change != sso.PasswordChangeChanged || obj.ID != alice.ID {
		t.Errorf("password_changed %+v", obj)
	}
	if n := len(e.storedSessions(alice.ID)); n != 1 {
		t.Errorf("%d sessions stored, want the replacing one (the others pruned with it)", n)
	}
	if res.Session.ExpiresAt != s.ExpiresAt || res.Session.Method != s.Method {
		t.Errorf("the replacing session %+v, want the end and method of %+v", res.Session, s)
	}
	e.wantAlive("the replacing session", res.Token.Reveal())
	e.wantEnded("the session it replaces", tok, sso.CodeSessionInvalid)
	e.wantEnded("another session (pruned)", another, sso.CodeSessionInvalid)
	if _, err := e.dash.Verify(e.ctx, other.ID, elsewhere.Token.Reveal()); store.CodeOf(err) != sso.CodeSessionRevoked {
		t.Errorf("a session in another account: %v, want CodeSessionRevoked", err)
	}
	if _, err := e.signIn("alice@example.com", goodPassword); store.CodeOf(err) != sso.CodeBadCredentials {
		t.Errorf("the old password: %v", err)
	}
	if _, err := e.signIn("alice@example.com", "a new long passphrase"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	_, err = e.dash.ChangePassword(e.ctx, s, "a new long passphrase", "yet another passphrase")
	wantCode(t, err, sso.CodeSessionInvalid)

	t.Run("sso_only_user", func(t *testing.T) {
		e := e.with(t)
		e.member("sso@example.com", "developer")
		idp := e.newIdP(sso.IdPParams{})
		l, err := e.login(idp, "sso@example.com", "/")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.dash.IssueLoginSession(e.ctx, l, sso.Client{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.dash.ChangePassword(e.ctx, res.Session, "", "a new long passphrase")
		wantCodeOf(t, "ChangePassword without a password", err, store.ErrConflict, sso.CodeNoPassword)
		sec, err := e.dash.SecurityOf(e.ctx, res.Session)
		if err != nil || sec.HasPassword || sec.TOTPEnabled {
			t.Errorf("SecurityOf an SSO-only user: %+v, %v", sec, err)
		}
	})
}

// TestPasswordReset covers both halves of a reset: who gets a token, that it is single-use
// and expires, that using it sets the password and ends every session, and that a refused
// password leaves it usable.
func TestPasswordReset(t *testing.T) {
	e := newDash(t, identity.Enterprise().Name)
	alice := e.withPassword("alice@example.com", "developer")
	e.member("sso-only@example.com", "developer")
	e.user("stranger@example.com")
	_, tok := e.session("alice@example.com")

	request := func(email string) sso.PasswordReset {
		t.Helper()
		r, err := e.dash.RequestPasswordReset(e.ctx, e.acct.ID, email, sso.Client{IP: "198.51.100.1"})
		if err != nil {
			t.Fatalf("RequestPasswordReset(%s): %v", email, err)
		}
		return r
	}
	for _, email := range []string{"nobody@example.com", "stranger@example.com"} {
		if r := request(email); !r.Token.IsZero() || r.Email != "" {
			t.Errorf("a reset for %s: %+v, want nothing to send", email, r)
		}
	}
	r := request("ALICE@example.com")
	if r.Token.IsZero() || r.Email != "alice@example.com" || r.UserID != alice.ID || !r.ExpiresAt.Equal(e.clk.Now().UTC().Add(sso.DefaultResetTTL)) {
		t.Fatalf("a reset for alice: %+v", r)
	}
	for _, refused := range []string{"password1234", "alice@example.com"} { // the second is refused after the token is read
		err := e.dash.ResetPassword(e.ctx, r.Token.Reveal(), refused)
		if store.CodeOf(err) != sso.CodePasswordCommon {
			t.Fatalf("new password %q: %v, want CodePasswordCommon", refused, err)
		}
	}
	n := e.eventCount()
	if err := e.dash.ResetPassword(e.ctx, r.Token.Reveal(), "a new long passphrase"); err != nil {
		t.Fatalf("ResetPassword after a refused password: %v", err)
	}
	evs := e.wantEvents(n, identity.EventPasswordChanged)
	if obj := object[sso.PasswordObject](t, evs[0]); obj.Change != sso.PasswordChangeReset {
		t.Errorf("password_changed %+v", obj)
	}
	e.wantEnded("a session from before the reset", tok, sso.CodeSessionRevoked)
	err := e.dash.ResetPassword(e.ctx, r.Token.Reveal(), "another long passphrase")
	wantCodeOf(t, "a used token", err, store.ErrUnauthenticated, sso.CodeResetInvalid)
	if _, err := e.signIn("alice@example.com", "a new long passphrase"); err != nil {
		t.Fatalf("signing in with the new password: %v", err)
	}

	r = request("alice@example.com")
	e.clk.Advance(sso.DefaultResetTTL)
	err = e.dash.ResetPassword(e.ctx, r.Token.Reveal(), "another long passphrase")
	wantCodeOf(t, "an expired token", err, store.ErrUnauthenticated, sso.CodeResetInvalid)
	for _, bad := range []string{"", "iapr_", "iasc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		err = e.dash.ResetPassword(e.ctx, bad, "another long passphrase")
		wantCodeOf(t, "a malformed token", err, store.ErrUnauthenticated, sso.CodeResetInvalid)
	}

	// An SSO-only user may get a first password this way, where passwords are allowed.
	r = request("sso-only@example.com")
	n = e.eventCount()
	if err := e.dash.ResetPassword(e.ctx, r.Token.Reveal(), "a first passphrase"); err != nil {
		t.Fatal(err)
	}
	evs = e.wantEvents(n, identity.EventPasswordChanged)
	if obj := object[sso.PasswordObject](t, evs[0]); obj.Change != sso.PasswordChangeSet {
		t.Errorf("password_changed %+v", obj)
	}

	// Where the account's SSO enforcement rules passwords out, nobody gets a token, and a
	// token issued before the switch is refused.
	pending := request("alice@example.com")
	e.newIdP(sso.IdPParams{})
	e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
	if r := request("alice@example.com"); !r.Token.IsZero() {
		t.Errorf("a reset under enforcement: %+v", r)
	}
	wantDenied(t, e.dash.ResetPassword(e.ctx, pending.Token.Reveal(), "another long passphrase"), sso.ReasonSSOEnforced)

	t.Run("throttled", func(t *testing.T) {
		d := newDash(t, identity.Enterprise().Name)
		for range 3 {
			if _, err := d.dash.RequestPasswordReset(d.ctx, d.acct.ID, "x@example.com", sso.Client{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := d.dash.RequestPasswordReset(d.ctx, d.acct.ID, "x@example.com", sso.Client{})
		wantThrottled(t, err, 20*time.Minute)
	})
}
