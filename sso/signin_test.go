package sso_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// TestSignIn_LoginPolicy runs a password sign-in in each enforcement mode, for members who
// joined before and after the account left "off", and checks who gets a session: the login
// policy decides who may use a password.
func TestSignIn_LoginPolicy(t *testing.T) {
	cases := []struct {
		name     string
		plan     string
		mode     sso.Enforcement
		newer    bool // the member joins after enforcement is set
		disabled bool
		want     sso.LoginReason // "" for a session
	}{
		{name: "off", plan: ssoPlan.Name, mode: sso.EnforcementOff},
		{name: "off_new_member", plan: ssoPlan.Name, mode: sso.EnforcementOff, newer: true},
		{name: "mixed_member_before_sso", plan: ssoPlan.Name, mode: sso.EnforcementMixed},
		{name: "mixed_member_since_sso", plan: ssoPlan.Name, mode: sso.EnforcementMixed, newer: true, want: sso.ReasonSSORequired},
		{name: "enforced", plan: ssoPlan.Name, mode: sso.EnforcementEnforced, want: sso.ReasonSSOEnforced},
		{name: "enforced_new_member", plan: ssoPlan.Name, mode: sso.EnforcementEnforced, newer: true, want: sso.ReasonSSOEnforced},
		{name: "disabled_member", plan: ssoPlan.Name, mode: sso.EnforcementOff, disabled: true, want: sso.ReasonMemberDisabled},
		{name: "plan_without_sso", plan: identity.PayAsYouGo().Name, mode: sso.EnforcementOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newDash(t, c.plan)
			email := "member@example.com"
			if !c.newer {
				e.withPassword(email, "developer")
			}
			if c.mode != sso.EnforcementOff {
				if c.mode == sso.EnforcementEnforced {
					e.newIdP(sso.IdPParams{})
				}
				e.setSettings(sso.ProvisioningInviteOnly, c.mode)
			}
			if c.newer {
				e.withPassword(email, "developer")
			}
			if c.disabled {
				u, err := e.dir.UserByEmail(e.ctx, email)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.dir.DisableMember(e.ctx, e.admin, u.ID); err != nil {
					t.Fatal(err)
				}
			}
			n := e.eventCount()
			res, err := e.signIn(email, goodPassword)
			if c.want == "" {
				if err != nil || res.Step != sso.StepDone || res.Token.IsZero() {
					t.Fatalf("SignIn: %+v, %v; want a session", res, err)
				}
				e.wantAlive("the new session", res.Token.Reveal())
				evs := e.wantEvents(n, identity.EventSignInSucceeded)
				obj := object[sso.SignInObject](t, evs[0])
				if obj.SessionID != res.Session.ID || obj.Method != "password" || obj.Email != email || obj.IP != "192.0.2.1" {
					t.Errorf("sign_in_succeeded object %+v", obj)
				}
				return
			}
			wantDenied(t, err, c.want)
			evs := e.wantEvents(n, identity.EventSignInFailed)
			if obj := object[sso.SignInObject](t, evs[0]); obj.Reason != string(c.want) || obj.SessionID != "" {
				t.Errorf("sign_in_failed object %+v, want reason %s", obj, c.want)
			}
		})
	}
}

// TestSignIn_BadCredentials checks that an unknown email, a user without a password (an
// SSO-only user), a user of no membership and a wrong password fail alike, and that only a
// member's failure is recorded, in its own account.
func TestSignIn_BadCredentials(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	e.member("sso-only@example.com", "developer")
	stranger := e.user("stranger@example.com")
	if err := e.dash.SetInitialPassword(e.ctx, stranger.ID, goodPassword); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, email, password string
		recorded              bool
	}{
		{"unknown_email", "nobody@example.com", goodPassword, false},
		{"no_password", "sso-only@example.com", goodPassword, true},
		{"wrong_password", "alice@example.com", goodPassword + "!", true},
		{"empty_password", "alice@example.com", "", true},
		{"password_too_long", "alice@example.com", strings.Repeat("x", sso.MaxPasswordLen+1), true},
		{"no_member_wrong_password", "stranger@example.com", "not the password", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			n := e.eventCount()
			_, err := e.signIn(c.email, c.password)
			if !errors.Is(err, store.ErrUnauthenticated) || store.CodeOf(err) != sso.CodeBadCredentials {
				t.Fatalf("SignIn: %v, want CodeBadCredentials", err)
			}
			if c.recorded {
				evs := e.wantEvents(n, identity.EventSignInFailed)
				if obj := object[sso.SignInObject](t, evs[0]); obj.Reason != sso.FailureBadPassword || obj.Email != c.email {
					t.Errorf("sign_in_failed object %+v", obj)
				}
			} else {
				e.wantEvents(n)
			}
			if strings.Contains(err.Error(), c.email) || (c.password != "" && strings.Contains(err.Error(), c.password)) {
				t.Errorf("error %q repeats the input", err)
			}
		})
	}
	t.Run("no_member_right_password", func(t *testing.T) {
		e := e.with(t)
		n := e.eventCount()
		_, err := e.signIn("stranger@example.com", goodPassword)
		wantDenied(t, err, sso.ReasonNotMember)
		e.wantEvents(n)
	})
	t.Run("bad_email", func(t *testing.T) {
		_, err := e.signIn("not an email", goodPassword)
		if invalidField(err) != "email" {
			t.Fatalf("SignIn: %v, want ErrInvalid on email", err)
		}
	})
}

// TestSignIn_BotUsersNever checks that no path gives a bot user a server-side session.
func TestSignIn_BotUsersNever(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	bot, err := e.bots().Create(e.ctx, e.admin, botuser.CreateParams{Name: "ci@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	bp := identity.Principal{ID: bot.ID, Kind: identity.KindBotUser, AccountID: e.acct.ID, Source: identity.SourceDashboard}
	_, err = e.dash.IssueSession(e.ctx, bp, "oauth", sso.Client{})
	wantDenied(t, err, sso.ReasonBotUser)
	_, err = e.dash.IssueLoginSession(e.ctx, &sso.Login{AccountID: e.acct.ID, UserID: bot.ID, IdPID: "idp_x"}, sso.Client{})
	wantDenied(t, err, sso.ReasonBotUser)
	if err := e.dash.SetInitialPassword(e.ctx, bot.ID, goodPassword); invalidField(err) != "user_id" {
		t.Errorf("SetInitialPassword for a bot user: %v, want ErrInvalid on user_id", err)
	}
	if _, err := e.signIn("ci@example.com", goodPassword); store.CodeOf(err) != sso.CodeBadCredentials {
		t.Errorf("SignIn as a bot user's name: %v, want CodeBadCredentials", err)
	}
}

// TestSignIn_Throttle checks the per-user and per-source tiers, that a success resets the
// user's count, and that the refusal says when to retry.
func TestSignIn_Throttle(t *testing.T) {
	t.Run("per_user", func(t *testing.T) {
		e := newDash(t, ssoPlan.Name)
		e.withPassword("alice@example.com", "developer")
		for i := range 5 {
			if _, err := e.signIn("alice@example.com", "wrong password "); store.CodeOf(err) != sso.CodeBadCredentials {
				t.Fatalf("attempt %d: %v, want CodeBadCredentials", i+1, err)
			}
		}
		_, err := e.signIn("alice@example.com", goodPassword)
		wantThrottled(t, err, time.Minute)
		// The same for an email nobody has: throttling tells nothing.
		for range 5 {
			_, _ = e.signIn("nobody@example.com", goodPassword)
		}
		_, err = e.signIn("nobody@example.com", goodPassword)
		wantThrottled(t, err, time.Minute)

		e.clk.Advance(time.Minute)
		if _, err := e.signIn("alice@example.com", goodPassword); err != nil {
			t.Fatalf("after a minute: %v", err)
		}
		for i := range 5 { // the success reset the count
			if _, err := e.signIn("alice@example.com", "wrong password "); store.CodeOf(err) != sso.CodeBadCredentials {
				t.Fatalf("after a success, attempt %d: %v", i+1, err)
			}
		}
	})
	t.Run("per_source", func(t *testing.T) {
		e := newDash(t, ssoPlan.Name, sso.WithThrottle(sso.Throttle{
			PerUser:   []store.Rate{{Limit: 100, Period: time.Minute}},
			PerSource: []store.Rate{{Limit: 3, Period: time.Hour}},
		}))
		try := func(email, ip string) error {
			_, err := e.dash.SignIn(e.ctx, sso.SignInRequest{AccountID: e.acct.ID, Email: email, Password: goodPassword, Client: sso.Client{IP: ip}})
			return err
		}
		for i, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			if err := try(email, "2001:db8:1:2::1"); store.CodeOf(err) != sso.CodeBadCredentials {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		wantThrottled(t, try("d@example.com", "2001:db8:1:2:ffff::9"), 20*time.Minute) // the same /64
		if err := try("d@example.com", "2001:db8:1:3::1"); store.CodeOf(err) != sso.CodeBadCredentials {
			t.Fatalf("another /64: %v, want it counted apart", err)
		}
		if err := try("d@example.com", ""); store.CodeOf(err) != sso.CodeBadCredentials {
			t.Fatalf("no address: %v, want it not counted by source", err)
		}
	})
}

func wantThrottled(t *testing.T, err error, retryAfter time.Duration) {
	t.Helper()
	var se *store.Error
	if !errors.Is(err, store.ErrLimitExceeded) || store.CodeOf(err) != sso.CodeThrottled || !errors.As(err, &se) {
		t.Fatalf("error %v, want CodeThrottled", err)
	}
	if se.RetryAfter != retryAfter {
		t.Fatalf("RetryAfter %v, want %v", se.RetryAfter, retryAfter)
	}
}

// TestSignIn_Rehash checks that a stored hash made with other parameters is replaced, at
// sign-in, by one with the configured parameters, and that the old password still works.
func TestSignIn_Rehash(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	u := e.withPassword("alice@example.com", "developer")
	before := e.secretsOf(u.ID).PasswordHash
	stronger := cheapParams()
	stronger.Time = 2
	d2, err := sso.NewDashboard(e.svc, sso.WithPasswordParams(stronger))
	if err != nil {
		t.Fatal(err)
	}
	res, err := d2.SignIn(e.ctx, sso.SignInRequest{AccountID: e.acct.ID, Email: "alice@example.com", Password: goodPassword})
	if err != nil || res.Step != sso.StepDone {
		t.Fatalf("SignIn with new parameters: %v", err)
	}
	after := e.secretsOf(u.ID).PasswordHash
	if after == before || !strings.Contains(after, "$m=8192,t=2,p=1$") {
		t.Fatalf("hash after sign-in %q, want one with t=2 (was %q)", after, before)
	}
	if _, err := d2.SignIn(e.ctx, sso.SignInRequest{AccountID: e.acct.ID, Email: "alice@example.com", Password: goodPassword}); err != nil {
		t.Fatalf("SignIn after the rehash: %v", err)
	}
	if again := e.secretsOf(u.ID).PasswordHash; again != after {
		t.Error("a hash with the configured parameters was replaced again")
	}
	// A pepper added later: the old hash still verifies and is replaced by a peppered one.
	pepper := make([]byte, sso.MinPepperLen)
	d3, err := sso.NewDashboard(e.svc, sso.WithPasswordParams(stronger), sso.WithPepper(pepper))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d3.SignIn(e.ctx, sso.SignInRequest{AccountID: e.acct.ID, Email: "alice@example.com", Password: goodPassword}); err != nil {
		t.Fatalf("SignIn with a new pepper: %v", err)
	}
	if peppered := e.secretsOf(u.ID).PasswordHash; !strings.Contains(peppered, ",keyid=") {
		t.Fatalf("hash after sign-in with a pepper %q, want a keyid", peppered)
	}
	// Without the pepper, a peppered hash does not verify.
	if _, err := d2.SignIn(e.ctx, sso.SignInRequest{AccountID: e.acct.ID, Email: "alice@example.com", Password: goodPassword}); store.CodeOf(err) != sso.CodeBadCredentials {
		t.Fatalf("SignIn without the pepper: %v, want CodeBadCredentials", err)
	}
}
