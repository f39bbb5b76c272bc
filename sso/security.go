package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// A member's own sign-in settings: password, TOTP and recovery codes. Each call takes the
// session the member acts in (as Verify returned it) and checks it is still alive. Users are
// global, and so are their secrets: a change commits on its own, and its event is then
// recorded in the session's account (see recordAfter).

// current re-reads a session and returns it with what verifying it takes, failing as Verify
// does when it has ended.
func (d *Dashboard) current(ctx context.Context, s Session) (store.SessionAuth, store.User, error) {
	if err := id.CheckArg("session_id", s.ID, id.Session); err != nil {
		return store.SessionAuth{}, store.User{}, err
	}
	var sa store.SessionAuth
	var u store.User
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		var err error
		if sa, err = r.SessionAuth(ctx, s.ID); err != nil {
			return err
		}
		u, err = r.User(ctx, sa.Session.UserID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.SessionAuth{}, store.User{}, invalidSession("unknown session", nil)
	} else if err != nil {
		return store.SessionAuth{}, store.User{}, err
	}
	if sa.Session.AccountID != s.AccountID || sa.Session.UserID != s.UserID {
		return store.SessionAuth{}, store.User{}, invalidSession("unknown session", nil)
	}
	if err := d.ended(sa, d.now()); err != nil {
		return store.SessionAuth{}, store.User{}, err
	}
	return sa, u, nil
}

// Security is a member's sign-in settings, for the dashboard's security page.
type Security struct {
	HasPassword   bool
	PasswordSetAt time.Time
	// TOTPEnabled: a confirmed TOTP second factor; TOTPAvailable: the Dashboard can enrol
	// one (it has a secret key).
	TOTPEnabled, TOTPAvailable bool
	TOTPEnabledAt              time.Time
	RecoveryCodesLeft          int
	// SecondFactorRequired: the account requires a second factor of password sign-ins.
	SecondFactorRequired bool
}

// SecurityOf returns the sign-in settings of the member of session s.
func (d *Dashboard) SecurityOf(ctx context.Context, s Session) (Security, error) {
	sa, _, err := d.current(ctx, s)
	if err != nil {
		return Security{}, err
	}
	out := Security{TOTPAvailable: d.seal != nil, SecondFactorRequired: sa.Account.RequireSecondFactor}
	if sec := sa.Secrets; sec != nil {
		out.HasPassword, out.PasswordSetAt = sec.PasswordHash != "", sec.PasswordSetAt
		out.TOTPEnabled, out.TOTPEnabledAt = sec.TOTPConfirmed, sec.TOTPConfirmedAt
		if sec.TOTPConfirmed {
			out.RecoveryCodesLeft = len(sec.RecoveryCodes)
		}
	}
	return out, nil
}

// ChangePassword replaces the password of the member of session s, who gives the current one
// (throttled as sign-ins, per email: CodeThrottled; a wrong one is CodeBadCredentials). The
// new one must pass the password policy (store.ErrInvalid on field new_password: codes
// CodePasswordTooShort, CodePasswordCommon, store.CodeTooLong). Every session of the user,
// in every account, ends at once, s included: the result is the session that replaces s
// (same method, second factor and end), whose token the caller sets as the cookie. A user
// without a password (an SSO-only user) has none to change (CodeNoPassword): a reset sets
// one. It records password_changed in s's account.
func (d *Dashboard) ChangePassword(ctx context.Context, s Session, currentPassword, newPassword string) (SignInResult, error) {
	sa, u, err := d.current(ctx, s)
	if err != nil {
		return SignInResult{}, err
	}
	if err := d.hash.checkPassword("new_password", newPassword, u.Email); err != nil {
		return SignInResult{}, err
	}
	if sa.Secrets == nil || sa.Secrets.PasswordHash == "" {
		return SignInResult{}, store.NewError(store.ErrConflict, CodeNoPassword, "the user has no password; reset it to set one")
	}
	if err := d.allow(ctx, emailKey("signin", u.Email), d.throttle.PerUser); err != nil {
		return SignInResult{}, err
	}
	stored := sa.Secrets.PasswordHash
	if len(currentPassword) > MaxPasswordLen {
		currentPassword, stored = "", ""
	}
	ok, _, err := d.hash.verify(ctx, stored, currentPassword)
	if err != nil {
		return SignInResult{}, err
	}
	if !ok {
		return SignInResult{}, badCredentials()
	}
	d.forget(ctx, emailKey("signin", u.Email), d.throttle.PerUser)
	now, err := d.setPassword(ctx, u.ID, newPassword, sa.Secrets.PasswordHash)
	if err != nil {
		return SignInResult{}, err
	}
	d.recordAfter(ctx, s.AccountID, identity.EventPasswordChanged, userPrincipal(s.AccountID, u), passwordObjectOf(u, PasswordChangeChanged, now))
	x := sa.Session
	return d.startSession(ctx, sessionStart{
		account: x.AccountID, user: u, method: LoginMethod(x.Method), idpID: x.IdPID, factor: SecondFactor(x.SecondFactor),
		client: Client{UserAgent: x.UserAgent, IP: x.IP}, notAfter: x.ExpiresAt, now: now,
	})
}

// setPassword hashes password and stores it as userID's, ending every session of the user
// begun before now (SessionsNotBefore). When was is not empty, the stored hash must still be
// it (a concurrent change wins, and this one fails with CodeBadCredentials).
func (d *Dashboard) setPassword(ctx context.Context, userID, password, was string) (time.Time, error) {
	h, err := d.hash.hash(ctx, password)
	if err != nil {
		return time.Time{}, err
	}
	now := d.now()
	err = d.svc.st.Update(ctx, func(tx store.Tx) error {
		sec, err := tx.UserSecrets(ctx, userID)
		switch {
		case errors.Is(err, store.ErrNotFound) && was == "":
			sec = store.UserSecrets{UserID: userID}
		case err != nil:
			return err
		case was != "" && sec.PasswordHash != was:
			return badCredentials()
		}
		sec.PasswordHash, sec.PasswordSetAt, sec.SessionsNotBefore = h, now, now
		return tx.PutUserSecrets(ctx, sec)
	})
	return now, err
}

// SetInitialPassword gives a user without a password its first one, right after sign-up
// (identity.Directory.CreateUser) or after accepting an invitation with its token. It is a
// sign-up call: it checks no permission, and records no event (the user is in no account
// yet). Serve it only where the caller has just proven to be that user. A user with a
// password already is a conflict (CodePasswordSet); the new password must pass the policy
// (store.ErrInvalid on field password).
func (d *Dashboard) SetInitialPassword(ctx context.Context, userID, password string) error {
	if err := id.CheckArg("user_id", userID, id.User); err != nil {
		return err
	}
	var u store.User
	var sec *store.UserSecrets
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		var err error
		if u, err = r.User(ctx, userID); err != nil {
			return err
		}
		sec, err = found(r.UserSecrets(ctx, userID))
		return err
	})
	if err != nil {
		return err
	}
	if err := d.hash.checkPassword("password", password, u.Email); err != nil {
		return err
	}
	if sec != nil && sec.PasswordHash != "" {
		return store.NewError(store.ErrConflict, CodePasswordSet, "the user already has a password")
	}
	h, err := d.hash.hash(ctx, password)
	if err != nil {
		return err
	}
	now := d.now()
	return d.svc.st.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.UserSecrets(ctx, userID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur = store.UserSecrets{UserID: userID}
		case err != nil:
			return err
		case cur.PasswordHash != "":
			return store.NewError(store.ErrConflict, CodePasswordSet, "the user already has a password")
		}
		cur.PasswordHash, cur.PasswordSetAt = h, now
		return tx.PutUserSecrets(ctx, cur)
	})
}

// PasswordReset is a password reset to deliver: send Token to Email (a link to the
// dashboard's reset page, say). A zero Token means there is nobody to send it to (no such
// user, no member of the account, or one who may not use a password there): answer the
// requester exactly as when there is, and deliver asynchronously, so that the answer tells
// nothing about who has an account.
type PasswordReset struct {
	Token     Secret
	UserID    string
	Email     string
	ExpiresAt time.Time
}

// resetValue is what a reset token stands for, kept server-side under its digest.
type resetValue struct {
	AccountID string `json:"a"`
	UserID    string `json:"u"`
}

func resetKey(digest string) string { return "sso:reset:" + digest }

// RequestPasswordReset makes a single-use reset token for the member of accountID with email,
// if the account's login policy lets that member use a password (an SSO-only user may get one
// that way too, where passwords are allowed). Requests are throttled per email
// (Throttle.Reset) and per source address (Throttle.PerSource): CodeThrottled. It checks no
// permission: it is the first step of a reset. The token expires after WithResetTTL.
func (d *Dashboard) RequestPasswordReset(ctx context.Context, accountID, email string, c Client) (PasswordReset, error) {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return PasswordReset{}, err
	}
	email, err := identity.NormalizeEmail(email)
	if err != nil {
		return PasswordReset{}, err
	}
	c = c.canonical()
	if err := d.allow(ctx, sourceKey("reset", c.IP), d.throttle.PerSource); err != nil {
		return PasswordReset{}, err
	}
	if err := d.allow(ctx, emailKey("reset", email), d.throttle.Reset); err != nil {
		return PasswordReset{}, err
	}
	st, err := d.readState(ctx, accountID, email, "")
	if err != nil {
		return PasswordReset{}, err
	}
	if st.user == nil || d.passwordAllowed(st, MethodPassword) != nil {
		return PasswordReset{}, nil
	}
	tok, digest, err := newRandomToken(d.svc.rand, resetPrefix)
	if err != nil {
		return PasswordReset{}, err
	}
	raw, err := json.Marshal(resetValue{AccountID: accountID, UserID: st.user.ID})
	if err != nil {
		return PasswordReset{}, err
	}
	exp := d.now().Add(d.resetTTL)
	if err := d.svc.st.PutSingleUse(ctx, resetKey(digest), raw, exp); err != nil {
		return PasswordReset{}, fmt.Errorf("sso: storing a reset token: %w", err)
	}
	return PasswordReset{Token: tok, UserID: st.user.ID, Email: st.user.Email, ExpiresAt: exp}, nil
}

// ResetPassword uses a reset token to set a new password: the token is used up, every
// session of the user in every account ends at once, and the member signs in again (its
// second factor, if any, still applies). An unknown, used or expired token is CodeResetInvalid
// (store.ErrUnauthenticated); a member the login policy no longer lets use a password is
// refused (store.ErrDenied); a new password the policy refuses (store.ErrInvalid on field
// new_password) leaves the token usable. It records password_changed in the token's account.
func (d *Dashboard) ResetPassword(ctx context.Context, token, newPassword string) error {
	digest, ok := parseRandomToken(token, resetPrefix)
	if !ok {
		return store.NewError(store.ErrUnauthenticated, CodeResetInvalid, "reset token not valid")
	}
	if err := d.hash.checkPassword("new_password", newPassword, ""); err != nil {
		return err
	}
	raw, err := d.svc.st.TakeSingleUse(ctx, resetKey(digest))
	if errors.Is(err, store.ErrNotFound) {
		return store.NewError(store.ErrUnauthenticated, CodeResetInvalid, "reset token not valid")
	} else if err != nil {
		return fmt.Errorf("sso: reading a reset token: %w", err)
	}
	var v resetValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return store.NewError(store.ErrUnauthenticated, CodeResetInvalid, "reset token not valid")
	}
	st, err := d.readState(ctx, v.AccountID, "", v.UserID)
	if err != nil {
		return err
	}
	if st.user == nil {
		return store.NewError(store.ErrUnauthenticated, CodeResetInvalid, "reset token not valid")
	}
	if err := d.passwordAllowed(st, MethodPassword); err != nil {
		return err
	}
	if err := d.hash.checkPassword("new_password", newPassword, st.user.Email); err != nil {
		d.keepReset(ctx, digest, raw)
		return err
	}
	change := PasswordChangeReset
	if st.secrets == nil || st.secrets.PasswordHash == "" {
		change = PasswordChangeSet
	}
	now, err := d.setPassword(ctx, st.user.ID, newPassword, "")
	if err != nil {
		return err
	}
	d.forget(ctx, emailKey("signin", st.user.Email), d.throttle.PerUser)
	d.recordAfter(ctx, v.AccountID, identity.EventPasswordChanged, userPrincipal(v.AccountID, *st.user), passwordObjectOf(*st.user, change, now))
	return nil
}

// keepReset puts a reset token back after a refused password, for the rest of a TTL.
func (d *Dashboard) keepReset(ctx context.Context, digest string, raw []byte) {
	if err := d.svc.st.PutSingleUse(ctx, resetKey(digest), raw, d.now().Add(d.resetTTL)); err != nil {
		d.svc.log.WarnContext(ctx, "sso: keeping a reset token", "error", err)
	}
}

// BeginTOTP starts enrolling a TOTP second factor for the member of session s: it returns a
// new secret (show TOTPSetup.URI as a QR code) to confirm with ConfirmTOTP. It replaces an
// enrolment not yet confirmed; a member with TOTP already is a conflict (CodeTOTPEnabled).
// Without a secret key it is CodeTOTPUnavailable.
func (d *Dashboard) BeginTOTP(ctx context.Context, s Session) (TOTPSetup, error) {
	if d.seal == nil {
		return TOTPSetup{}, totpUnavailable()
	}
	_, u, err := d.current(ctx, s)
	if err != nil {
		return TOTPSetup{}, err
	}
	return d.newEnrollment(ctx, u)
}

// ConfirmTOTP confirms the enrolment BeginTOTP started with a code from the authenticator
// app, and returns the member's RecoveryCodes recovery codes, shown once. A wrong code is
// CodeBadSecondFactor (throttled as second factors); without an enrolment it is
// CodeTOTPNotEnabled. It records totp_enabled in s's account.
func (d *Dashboard) ConfirmTOTP(ctx context.Context, s Session, code string) ([]Secret, error) {
	if d.seal == nil {
		return nil, totpUnavailable()
	}
	_, u, err := d.current(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := d.allow(ctx, secondFactorKey(u.ID), d.throttle.SecondFactor); err != nil {
		return nil, err
	}
	codes, sec, err := d.confirmEnrollment(ctx, u, code)
	if err != nil {
		return nil, err
	}
	d.forget(ctx, secondFactorKey(u.ID), d.throttle.SecondFactor)
	d.recordAfter(ctx, s.AccountID, identity.EventTOTPEnabled, userPrincipal(s.AccountID, u), totpObjectOf(u, sec))
	return codes, nil
}

// reauthenticate checks a current TOTP or recovery code of the member of s (throttled as
// second factors): sensitive changes to the second factor ask for one.
func (d *Dashboard) reauthenticate(ctx context.Context, s Session, code string, recovery bool) (store.SessionAuth, store.User, error) {
	sa, u, err := d.current(ctx, s)
	if err != nil {
		return sa, u, err
	}
	if sa.Secrets == nil || !sa.Secrets.TOTPConfirmed {
		return sa, u, store.NewError(store.ErrConflict, CodeTOTPNotEnabled, "TOTP is not enabled")
	}
	if err := d.allow(ctx, secondFactorKey(u.ID), d.throttle.SecondFactor); err != nil {
		return sa, u, err
	}
	if !recovery && !isTOTPCode(code) {
		return sa, u, badSecondFactor()
	}
	if _, _, err := d.checkSecondFactor(ctx, u, *sa.Secrets, code); err != nil {
		return sa, u, err
	}
	d.forget(ctx, secondFactorKey(u.ID), d.throttle.SecondFactor)
	return sa, u, nil
}

// DisableTOTP removes the TOTP second factor and the recovery codes of the member of
// session s, who confirms with a current TOTP code or a recovery code. In an account that
// requires a second factor, a password session cannot (CodeSecondFactorRequired). It records
// totp_disabled in s's account.
func (d *Dashboard) DisableTOTP(ctx context.Context, s Session, code string) error {
	sa, err := d.peek(ctx, s)
	if err != nil {
		return err
	}
	if sa.Account.RequireSecondFactor && LoginMethod(sa.Session.Method) == MethodPassword {
		return store.NewError(store.ErrConflict, CodeSecondFactorRequired, "the account requires a second factor")
	}
	_, u, err := d.reauthenticate(ctx, s, code, true)
	if err != nil {
		return err
	}
	var sec store.UserSecrets
	err = d.svc.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if sec, err = tx.UserSecrets(ctx, u.ID); err != nil {
			return err
		}
		sec.TOTPSecret, sec.TOTPConfirmed, sec.TOTPConfirmedAt, sec.RecoveryCodes = "", false, time.Time{}, nil
		return tx.PutUserSecrets(ctx, sec)
	})
	if err != nil {
		return err
	}
	d.recordAfter(ctx, s.AccountID, identity.EventTOTPDisabled, userPrincipal(s.AccountID, u), totpObjectOf(u, sec))
	return nil
}

// peek is current without the user.
func (d *Dashboard) peek(ctx context.Context, s Session) (store.SessionAuth, error) {
	sa, _, err := d.current(ctx, s)
	return sa, err
}

// RegenerateRecoveryCodes replaces the recovery codes of the member of session s, who
// confirms with a current TOTP code, and returns the new ones, shown once. It records
// totp_recovery_codes_regenerated in s's account.
func (d *Dashboard) RegenerateRecoveryCodes(ctx context.Context, s Session, code string) ([]Secret, error) {
	_, u, err := d.reauthenticate(ctx, s, code, false)
	if err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes(d.svc.rand)
	if err != nil {
		return nil, err
	}
	var sec store.UserSecrets
	err = d.svc.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if sec, err = tx.UserSecrets(ctx, u.ID); err != nil {
			return err
		}
		if !sec.TOTPConfirmed {
			return store.NewError(store.ErrConflict, CodeTOTPNotEnabled, "TOTP is not enabled")
		}
		sec.RecoveryCodes = hashes
		return tx.PutUserSecrets(ctx, sec)
	})
	if err != nil {
		return nil, err
	}
	d.recordAfter(ctx, s.AccountID, identity.EventTOTPRecoveryCodesRegenerated, userPrincipal(s.AccountID, u), totpObjectOf(u, sec))
	return codes, nil
}

// SetRequireSecondFactor sets whether by's account requires a second factor of members who
// sign in with a password; by needs rbac.AccountManage (administrators). Members without one
// enrol at their next sign-in (StepEnrollSecondFactor); sessions already begun go on. SSO
// sessions are not affected: the identity provider authenticates. Requiring it needs a
// Dashboard with a secret key (CodeTOTPUnavailable). A change records account_updated.
func (d *Dashboard) SetRequireSecondFactor(ctx context.Context, by identity.Principal, require bool) (store.Account, error) {
	if err := by.Validate(); err != nil {
		return store.Account{}, err
	}
	if require && d.seal == nil {
		return store.Account{}, totpUnavailable()
	}
	var acct store.Account
	err := d.svc.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if acct, err = tx.Account(ctx, by.AccountID); err != nil {
			return fmt.Errorf("sso: account %s: %w", by.AccountID, err)
		}
		if err := d.svc.authz.RequireIn(ctx, tx, by, rbac.AccountManage); err != nil {
			return err
		}
		if acct.RequireSecondFactor == require {
			return nil
		}
		acct.RequireSecondFactor = require
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		return d.svc.rec.Record(ctx, tx, acct.ID, identity.EventAccountUpdated, by.Audit(), identity.AccountObjectOf(acct))
	})
	if err != nil {
		return store.Account{}, err
	}
	return acct, nil
}
