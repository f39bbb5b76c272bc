package sso_test

import (
	"errors"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// challengeOf signs email in and returns the challenge of its second-factor step.
func (e *dashEnv) challengeOf(email string) string {
	e.t.Helper()
	res, err := e.signIn(email, goodPassword)
	if err != nil || res.Step != sso.StepSecondFactor || res.Challenge.IsZero() {
		e.t.Fatalf("SignIn(%s): %+v, %v; want the second-factor step", email, res, err)
	}
	return res.Challenge.Reveal()
}

func wantCodeOf(t *testing.T, what string, err error, kind error, code string) {
	t.Helper()
	if !errors.Is(err, kind) || store.CodeOf(err) != code {
		t.Fatalf("%s: %v (code %q), want %v with code %q", what, err, store.CodeOf(err), kind, code)
	}
}

// TestSecondFactor_TOTP runs sign-ins with a TOTP second factor on a fake clock: the code of
// the current step and of one step either side are accepted, two steps away refused, a code
// never twice, and a wrong code leaves the challenge usable for a few more.
func TestSecondFactor_TOTP(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	s, _ := e.session("alice@example.com")
	secret, _ := e.enrol(s)

	cases := []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"current_step", 0, true},
		{"previous_step", -30 * time.Second, true},
		{"next_step", 30 * time.Second, true},
		{"two_steps_back", -60 * time.Second, false},
		{"two_steps_ahead", 60 * time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			e.clk.Advance(90 * time.Second) // a fresh step, unused
			ch := e.challengeOf("alice@example.com")
			n := e.eventCount()
			res, err := e.dash.SecondFactor(e.ctx, ch, e.code(secret, c.offset))
			if !c.ok {
				wantCodeOf(t, "SecondFactor", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
				evs := e.wantEvents(n, identity.EventSignInFailed)
				if obj := object[sso.SignInObject](t, evs[0]); obj.Reason != sso.FailureBadSecondFactor {
					t.Errorf("sign_in_failed object %+v", obj)
				}
				return
			}
			if err != nil || res.Step != sso.StepDone {
				t.Fatalf("SecondFactor: %+v, %v", res, err)
			}
			if res.Session.SecondFactor != sso.SecondFactorTOTP || res.RecoveryCodesLeft != sso.RecoveryCodes {
				t.Errorf("session %+v, %d recovery codes left", res.Session, res.RecoveryCodesLeft)
			}
			e.wantAlive("session after a second factor", res.Token.Reveal())
			evs := e.wantEvents(n, identity.EventSignInSucceeded)
			if obj := object[sso.SignInObject](t, evs[0]); obj.SecondFactor != "totp" {
				t.Errorf("sign_in_succeeded object %+v", obj)
			}
		})
	}

	t.Run("replay", func(t *testing.T) {
		e := e.with(t)
		e.clk.Advance(90 * time.Second)
		code := e.code(secret, 0)
		if _, err := e.dash.SecondFactor(e.ctx, e.challengeOf("alice@example.com"), code); err != nil {
			t.Fatal(err)
		}
		_, err := e.dash.SecondFactor(e.ctx, e.challengeOf("alice@example.com"), code)
		wantCodeOf(t, "the same code again", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
		e.clk.Advance(10 * time.Second) // same step, and the code was accepted one step early
		_, err = e.dash.SecondFactor(e.ctx, e.challengeOf("alice@example.com"), code)
		wantCodeOf(t, "the same code later in its step", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
	})

	t.Run("wrong_then_right", func(t *testing.T) {
		e := e.with(t)
		e.clk.Advance(90 * time.Second)
		ch := e.challengeOf("alice@example.com")
		_, err := e.dash.SecondFactor(e.ctx, ch, "000000")
		if store.CodeOf(err) != sso.CodeBadSecondFactor && e.code(secret, 0) != "000000" {
			t.Fatalf("wrong code: %v", err)
		}
		if _, err := e.dash.SecondFactor(e.ctx, ch, e.code(secret, 0)); err != nil {
			t.Fatalf("right code on the same challenge: %v", err)
		}
		_, err = e.dash.SecondFactor(e.ctx, ch, e.code(secret, 0))
		wantCodeOf(t, "a used challenge", err, store.ErrUnauthenticated, sso.CodeChallengeInvalid)
	})

	t.Run("attempts_run_out", func(t *testing.T) {
		d := newDash(t, ssoPlan.Name, sso.WithThrottle(sso.Throttle{SecondFactor: []store.Rate{{Limit: 100, Period: time.Minute}}}))
		d.withPassword("bob@example.com", "developer")
		s, _ := d.session("bob@example.com")
		sec, _ := d.enrol(s)
		ch := d.challengeOf("bob@example.com")
		for i := range sso.MaxChallengeAttempts {
			_, err := d.dash.SecondFactor(d.ctx, ch, "abc")
			wantCodeOf(t, "not a code", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
			_ = i
		}
		_, err := d.dash.SecondFactor(d.ctx, ch, d.code(sec, 0))
		wantCodeOf(t, "after the last attempt", err, store.ErrUnauthenticated, sso.CodeChallengeInvalid)
	})

	t.Run("challenge_expires", func(t *testing.T) {
		e := e.with(t)
		ch := e.challengeOf("alice@example.com")
		e.clk.Advance(sso.ChallengeTTL)
		_, err := e.dash.SecondFactor(e.ctx, ch, e.code(secret, 0))
		wantCodeOf(t, "an expired challenge", err, store.ErrUnauthenticated, sso.CodeChallengeInvalid)
	})

	t.Run("malformed_challenge", func(t *testing.T) {
		e := e.with(t)
		for _, ch := range []string{"", "iasc_", "iasc_" + string(make([]byte, 43)), "iapr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			_, err := e.dash.SecondFactor(e.ctx, ch, "123456")
			wantCodeOf(t, "a malformed challenge", err, store.ErrUnauthenticated, sso.CodeChallengeInvalid)
		}
	})

	t.Run("throttled", func(t *testing.T) {
		d := newDash(t, ssoPlan.Name)
		d.withPassword("carol@example.com", "developer")
		s, _ := d.session("carol@example.com")
		sec, _ := d.enrol(s)
		for range 5 {
			ch := d.challengeOf("carol@example.com")
			_, _ = d.dash.SecondFactor(d.ctx, ch, "999999x")
		}
		ch := d.challengeOf("carol@example.com")
		_, err := d.dash.SecondFactor(d.ctx, ch, d.code(sec, 0))
		wantThrottled(t, err, time.Minute)
		d.clk.Advance(time.Minute)
		if _, err := d.dash.SecondFactor(d.ctx, ch, d.code(sec, 0)); err != nil {
			t.Fatalf("the challenge kept through throttling, a minute later: %v", err)
		}
	})
}

// TestSecondFactor_RecoveryCodes checks that each recovery code signs in once, in any
// typing, and that the count left is reported.
func TestSecondFactor_RecoveryCodes(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	u := e.withPassword("alice@example.com", "developer")
	s, _ := e.session("alice@example.com")
	_, codes := e.enrol(s)
	if len(codes) != sso.RecoveryCodes {
		t.Fatalf("%d recovery codes, want %d", len(codes), sso.RecoveryCodes)
	}
	typed := []string{codes[0], "  " + codes[1] + " ", upper(codes[2]), stripDashes(codes[3])}
	for i, c := range typed {
		res, err := e.dash.SecondFactor(e.ctx, e.challengeOf("alice@example.com"), c)
		if err != nil {
			t.Fatalf("recovery code %d: %v", i, err)
		}
		if res.Session.SecondFactor != sso.SecondFactorRecoveryCode || res.RecoveryCodesLeft != sso.RecoveryCodes-1-i {
			t.Fatalf("recovery code %d: factor %s, %d left", i, res.Session.SecondFactor, res.RecoveryCodesLeft)
		}
	}
	_, err := e.dash.SecondFactor(e.ctx, e.challengeOf("alice@example.com"), codes[0])
	wantCodeOf(t, "a used recovery code", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
	if left := len(e.secretsOf(u.ID).RecoveryCodes); left != sso.RecoveryCodes-len(typed) {
		t.Errorf("%d recovery codes stored, want %d", left, sso.RecoveryCodes-len(typed))
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func stripDashes(s string) string {
	b := []byte{}
	for _, c := range []byte(s) {
		if c != '-' {
			b = append(b, c)
		}
	}
	return string(b)
}

// TestTOTPManagement covers enrolment from a session, regenerating recovery codes and
// removing TOTP, with their events and refusals.
func TestTOTPManagement(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	u := e.withPassword("alice@example.com", "developer")
	s, _ := e.session("alice@example.com")

	n := e.eventCount()
	setup, err := e.dash.BeginTOTP(e.ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if setup.Issuer != "iamkit" || setup.Account != "alice@example.com" || len(setup.Secret.Reveal()) != 32 {
		t.Errorf("setup %+v", setup)
	}
	if sec := e.secretsOf(u.ID); sec.TOTPConfirmed || sec.TOTPSecret == "" || sec.TOTPSecret == setup.Secret.Reveal() {
		t.Errorf("stored after BeginTOTP: confirmed %v, secret sealed %v", sec.TOTPConfirmed, sec.TOTPSecret != setup.Secret.Reveal())
	}
	if res, err := e.signIn("alice@example.com", goodPassword); err != nil || res.Step != sso.StepDone {
		t.Fatalf("an unconfirmed TOTP is no second factor yet: %+v, %v", res, err)
	}
	_, err = e.dash.ConfirmTOTP(e.ctx, s, e.code(setup.Secret.Reveal(), 90*time.Second))
	wantCodeOf(t, "a wrong first code", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
	codes, err := e.dash.ConfirmTOTP(e.ctx, s, e.code(setup.Secret.Reveal(), 0))
	if err != nil || len(codes) != sso.RecoveryCodes {
		t.Fatalf("ConfirmTOTP: %d codes, %v", len(codes), err)
	}
	e.wantEvents(n, identity.EventSignInSucceeded, identity.EventTOTPEnabled)
	_, err = e.dash.BeginTOTP(e.ctx, s)
	wantCodeOf(t, "BeginTOTP with TOTP enabled", err, store.ErrConflict, sso.CodeTOTPEnabled)
	sec, err := e.dash.SecurityOf(e.ctx, s)
	if err != nil || !sec.TOTPEnabled || !sec.HasPassword || sec.RecoveryCodesLeft != sso.RecoveryCodes || !sec.TOTPAvailable {
		t.Fatalf("SecurityOf: %+v, %v", sec, err)
	}

	e.clk.Advance(30 * time.Second)
	n = e.eventCount()
	fresh, err := e.dash.RegenerateRecoveryCodes(e.ctx, s, e.code(setup.Secret.Reveal(), 0))
	if err != nil || len(fresh) != sso.RecoveryCodes {
		t.Fatalf("RegenerateRecoveryCodes: %v", err)
	}
	e.wantEvents(n, identity.EventTOTPRecoveryCodesRegenerated)
	if _, err := e.dash.SecondFactor(e.ctx, e.challengeOf("alice@example.com"), codes[0].Reveal()); store.CodeOf(err) != sso.CodeBadSecondFactor {
		t.Fatalf("an old recovery code after regenerating: %v", err)
	}
	_, err = e.dash.RegenerateRecoveryCodes(e.ctx, s, fresh[0].Reveal())
	wantCodeOf(t, "regenerating with a recovery code", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)

	n = e.eventCount()
	err = e.dash.DisableTOTP(e.ctx, s, "123")
	wantCodeOf(t, "DisableTOTP with a bad code", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
	if err := e.dash.DisableTOTP(e.ctx, s, fresh[1].Reveal()); err != nil {
		t.Fatalf("DisableTOTP with a recovery code: %v", err)
	}
	e.wantEvents(n, identity.EventTOTPDisabled)
	if sec := e.secretsOf(u.ID); sec.TOTPConfirmed || sec.TOTPSecret != "" || len(sec.RecoveryCodes) != 0 {
		t.Errorf("stored after DisableTOTP: %+v", sec)
	}
	if res, err := e.signIn("alice@example.com", goodPassword); err != nil || res.Step != sso.StepDone {
		t.Fatalf("sign-in after DisableTOTP: %+v, %v", res, err)
	}
	err = e.dash.DisableTOTP(e.ctx, s, e.code(setup.Secret.Reveal(), 0))
	wantCodeOf(t, "DisableTOTP without TOTP", err, store.ErrConflict, sso.CodeTOTPNotEnabled)
}

// TestTOTPWithoutSecretKey checks that TOTP, and requiring a second factor, are refused
// without a secret key.
func TestTOTPWithoutSecretKey(t *testing.T) {
	e := newEnv(t, ssoPlan.Name)
	d, err := sso.NewDashboard(e.svc, sso.WithPasswordParams(cheapParams()))
	if err != nil {
		t.Fatal(err)
	}
	de := &dashEnv{env: e, dash: d}
	de.withPassword("alice@example.com", "developer")
	s, _ := de.session("alice@example.com")
	_, err = d.BeginTOTP(e.ctx, s)
	wantCodeOf(t, "BeginTOTP", err, store.ErrFeatureUnavailable, sso.CodeTOTPUnavailable)
	_, err = d.SetRequireSecondFactor(e.ctx, e.admin, true)
	wantCodeOf(t, "SetRequireSecondFactor", err, store.ErrFeatureUnavailable, sso.CodeTOTPUnavailable)
	for _, key := range [][]byte{make([]byte, 16), make([]byte, 33)} {
		if _, err := sso.NewDashboard(e.svc, sso.WithSecretKey(key)); invalidField(err) != "secret_key" {
			t.Errorf("a %d-byte secret key: %v, want ErrInvalid on secret_key", len(key), err)
		}
	}
}

// TestRequireSecondFactor checks the account setting: administrators only, members without a
// second factor enrol at their next sign-in (the result says so), members with one use it,
// SSO sessions are not affected, and the factor cannot be removed from a password session.
func TestRequireSecondFactor(t *testing.T) {
	e := newDash(t, ssoPlan.Name)
	e.withPassword("alice@example.com", "developer")
	dev := e.principal(e.withPassword("dev@example.com", "developer").ID)
	_, before := e.session("alice@example.com")

	_, err := e.dash.SetRequireSecondFactor(e.ctx, dev, true)
	wantErr(t, err, store.ErrDenied)
	n := e.eventCount()
	acct, err := e.dash.SetRequireSecondFactor(e.ctx, e.admin, true)
	if err != nil || !acct.RequireSecondFactor {
		t.Fatalf("SetRequireSecondFactor: %+v, %v", acct, err)
	}
	evs := e.wantEvents(n, identity.EventAccountUpdated)
	if obj := object[identity.AccountObject](t, evs[0]); !obj.RequireSecondFactor {
		t.Errorf("account_updated object %+v", obj)
	}
	if _, err := e.dash.SetRequireSecondFactor(e.ctx, e.admin, true); err != nil || e.eventCount() != n+1 {
		t.Errorf("setting it again: %v, %d events (want no new one)", err, e.eventCount()-n)
	}
	e.wantAlive("a session begun before the requirement", before)

	res, err := e.signIn("alice@example.com", goodPassword)
	if err != nil || res.Step != sso.StepEnrollSecondFactor || res.TOTP == nil || res.Challenge.IsZero() {
		t.Fatalf("SignIn without a second factor: %+v, %v; want the enrolment step", res, err)
	}
	secret := res.TOTP.Secret.Reveal()
	_, err = e.dash.ConfirmEnrollment(e.ctx, res.Challenge.Reveal(), "000000x")
	wantCodeOf(t, "ConfirmEnrollment with a wrong code", err, store.ErrUnauthenticated, sso.CodeBadSecondFactor)
	_, err = e.dash.SecondFactor(e.ctx, res.Challenge.Reveal(), e.code(secret, 0))
	wantCodeOf(t, "an enrolment challenge at the second-factor step", err, store.ErrUnauthenticated, sso.CodeChallengeInvalid)

	res, err = e.signIn("alice@example.com", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	secret = res.TOTP.Secret.Reveal() // a new sign-in, a new secret
	n = e.eventCount()
	done, err := e.dash.ConfirmEnrollment(e.ctx, res.Challenge.Reveal(), e.code(secret, 0))
	if err != nil || done.Step != sso.StepDone || len(done.RecoveryCodes) != sso.RecoveryCodes {
		t.Fatalf("ConfirmEnrollment: %+v, %v", done, err)
	}
	e.wantEvents(n, identity.EventTOTPEnabled, identity.EventSignInSucceeded)
	if done.Session.SecondFactor != sso.SecondFactorTOTP {
		t.Errorf("session's second factor %q", done.Session.SecondFactor)
	}
	e.clk.Advance(30 * time.Second)
	if res, err := e.signIn("alice@example.com", goodPassword); err != nil || res.Step != sso.StepSecondFactor {
		t.Fatalf("SignIn after enrolling: %+v, %v", res, err)
	}
	err = e.dash.DisableTOTP(e.ctx, done.Session, e.code(secret, 0))
	wantCodeOf(t, "DisableTOTP where a second factor is required", err, store.ErrConflict, sso.CodeSecondFactorRequired)

	// An SSO login is not asked for a second factor.
	idp := e.newIdP(sso.IdPParams{})
	l, err := e.login(idp, "alice@example.com", "/")
	if err != nil {
		t.Fatal(err)
	}
	sres, err := e.dash.IssueLoginSession(e.ctx, l, sso.Client{})
	if err != nil || sres.Step != sso.StepDone {
		t.Fatalf("IssueLoginSession where a second factor is required: %+v, %v", sres, err)
	}
}
