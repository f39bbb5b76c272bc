package sso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Client is the browser a sign-in comes from, as sessions record it: its User-Agent and its
// address. Behind a proxy, fill IP from the header the proxy sets; ClientOf reads the
// connection's.
type Client struct {
	UserAgent string
	IP        string
}

// ClientOf returns the client of r: its User-Agent header and the address of the
// connection (r.RemoteAddr).
func ClientOf(r *http.Request) Client {
	c := Client{UserAgent: r.UserAgent()}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		c.IP = ap.Addr().String()
	}
	return c.canonical()
}

// canonical returns c as sessions store it: the address canonical (IPv4-mapped addresses as
// IPv4, no zone) or empty when it is not an address, and the User-Agent valid UTF-8 without
// control characters, cut to store.MaxUserAgentLen bytes on a character boundary.
func (c Client) canonical() Client {
	out := Client{}
	if a, err := netip.ParseAddr(c.IP); err == nil {
		out.IP = a.Unmap().WithZone("").String()
	}
	ua := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(c.UserAgent, "\uFFFD"))
	if len(ua) > store.MaxUserAgentLen {
		ua = ua[:store.MaxUserAgentLen]
		for !utf8.ValidString(ua) {
			ua = ua[:len(ua)-1]
		}
	}
	out.UserAgent = ua
	return out
}

// sourceKey is the limiter key of an address: an IPv4 address, or an IPv6 address's /64
// (one customer's network). "" for none.
func sourceKey(kind, ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "sso:" + kind + ":source:" + p.String()
	}
	return "sso:" + kind + ":source:" + a.String()
}

// emailKey is the limiter key of an email: its SHA-256, so that no limiter holds addresses.
func emailKey(kind, email string) string {
	sum := sha256.Sum256([]byte(email))
	return "sso:" + kind + ":user:" + hex.EncodeToString(sum[:16])
}

func secondFactorKey(userID string) string { return "sso:second_factor:user:" + userID }

// allow records an attempt under key against every rate, and fails with CodeThrottled when one
// refuses it. An empty key is not counted.
func (d *Dashboard) allow(ctx context.Context, key string, rates []store.Rate) error {
	if key == "" {
		return nil
	}
	var wait time.Duration
	for i, r := range rates {
		ok, retry, err := d.limiter.Allow(ctx, key+"#"+strconv.Itoa(i), r)
		if err != nil {
			return fmt.Errorf("sso: throttle: %w", err)
		}
		if !ok {
			wait = max(wait, retry)
		}
	}
	if wait > 0 {
		return throttled(wait)
	}
	return nil
}

// forget resets key's counts after a success. A failure is only logged: the counts expire.
func (d *Dashboard) forget(ctx context.Context, key string, rates []store.Rate) {
	for i := range rates {
		if err := d.limiter.Reset(ctx, key+"#"+strconv.Itoa(i)); err != nil {
			d.svc.log.WarnContext(ctx, "sso: resetting a throttle", "error", err)
		}
	}
}

// Step is what a sign-in needs next.
type Step string

// Steps of a sign-in.
const (
	// StepDone: signed in; SignInResult.Token is the session token.
	StepDone Step = "done"
	// StepSecondFactor: send a TOTP or recovery code with SecondFactor.
	StepSecondFactor Step = "second_factor"
	// StepEnrollSecondFactor: the account requires a second factor and the member has none:
	// show SignInResult.TOTP and send its first code with ConfirmEnrollment.
	StepEnrollSecondFactor Step = "enroll_second_factor"
)

// SignInRequest is a sign-in with an email and a password into one account.
type SignInRequest struct {
	AccountID string
	Email     string
	Password  string
	Client    Client
}

// SignInResult is a sign-in's outcome: a session, or the next step and its challenge. It
// holds secrets, which it redacts when printed.
type SignInResult struct {
	Step Step
	// Session and Token: StepDone. Set the token as the session cookie (SetCookie).
	Session Session
	Token   Secret
	// Challenge and ChallengeExpiresAt: the other steps. Keep the challenge in the page (or
	// a short-lived cookie) and send it back with the code; it is good for ChallengeTTL and
	// MaxChallengeAttempts codes.
	Challenge          Secret
	ChallengeExpiresAt time.Time
	// TOTP: StepEnrollSecondFactor, the secret to enrol.
	TOTP *TOTPSetup
	// RecoveryCodes: after ConfirmEnrollment, the new recovery codes, shown once.
	RecoveryCodes []Secret
	// RecoveryCodesLeft: after a second factor, how many recovery codes the member has left.
	RecoveryCodesLeft int
}

// signInState is what a sign-in reads: the account, and the user, its membership and its
// secrets when there are (nil otherwise).
type signInState struct {
	acct    store.Account
	user    *store.User
	member  *store.Membership
	secrets *store.UserSecrets
	// domainSSO: the account verified the user's email domain and has an IdP trusted for
	// it, so the user signs in to it through SSO only.
	domainSSO bool
}

// readState reads the account and what there is of a user: by email, or by ID when email
// is empty.
func (d *Dashboard) readState(ctx context.Context, accountID, email, userID string) (signInState, error) {
	var st signInState
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		var err error
		if st.acct, err = r.Account(ctx, accountID); err != nil {
			return fmt.Errorf("sso: account %s: %w", accountID, err)
		}
		var u store.User
		if email != "" {
			u, err = r.UserByEmail(ctx, email)
		} else {
			u, err = r.User(ctx, userID)
		}
		if st.user, err = found(u, err); err != nil || st.user == nil {
			return err
		}
		if st.member, err = found(r.Membership(ctx, accountID, u.ID)); err != nil {
			return err
		}
		if st.domainSSO, err = domainForcesSSO(ctx, r, accountID, u.Email); err != nil {
			return err
		}
		st.secrets, err = found(r.UserSecrets(ctx, u.ID))
		return err
	})
	return st, err
}

// found turns a lookup into a pointer: nil for not found.
func found[T any](v T, err error) (*T, error) {
	switch {
	case err == nil:
		return &v, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	}
	return nil, err
}

// passwordAllowed is the login policy for a password sign-in of st's member: nil, or the
// denial.
func (d *Dashboard) passwordAllowed(st signInState, method LoginMethod) error {
	if st.member == nil {
		return loginDenied(ReasonNotMember)
	}
	if err := botuser.CanLogInID(st.user.ID); err != nil {
		return loginDenied(ReasonBotUser)
	}
	if st.domainSSO && method != MethodSSO && d.svc.requireSSO(st.acct) == nil {
		return loginDenied(ReasonDomainSSO)
	}
	return d.svc.effectiveSettings(st.acct).LoginPolicy(*st.member, method).Err()
}

// SignIn signs a member into an account with an email and a password:
//
//  1. Attempts are throttled per source address and per email (Throttle; CodeThrottled,
//     store.ErrLimitExceeded with the RetryAfter), before anything is read.
//  2. The password is verified with Argon2id. An unknown email, a user without a password
//     (an SSO-only user) and a wrong password are the same error, CodeBadCredentials
//     (store.ErrUnauthenticated), after the same work: a dummy hash is verified when there
//     is nothing to verify. A stored hash with other parameters than the configured ones is
//     replaced.
//  3. Only then is the account's login policy applied: a user who is no member, a disabled
//     member, and a member whose account's SSO enforcement rules out passwords are refused
//     (store.ErrDenied with the LoginReason as code).
//  4. A member with TOTP gets StepSecondFactor; a member of an account that requires a second
//     factor, without one, gets StepEnrollSecondFactor with a new TOTP secret; anyone else
//     is signed in (StepDone) with a new session.
//
// A failure of a member's password or of the policy records sign_in_failed in the account;
// a session records sign_in_succeeded. A failure for an email of no member records nothing.
func (d *Dashboard) SignIn(ctx context.Context, req SignInRequest) (SignInResult, error) {
	if err := id.CheckArg("account_id", req.AccountID, id.Account); err != nil {
		return SignInResult{}, err
	}
	email, err := identity.NormalizeEmail(req.Email)
	if err != nil {
		return SignInResult{}, err
	}
	client := req.Client.canonical()
	if err := d.allow(ctx, sourceKey("signin", client.IP), d.throttle.PerSource); err != nil {
		return SignInResult{}, err
	}
	if err := d.allow(ctx, emailKey("signin", email), d.throttle.PerUser); err != nil {
		return SignInResult{}, err
	}
	st, err := d.readState(ctx, req.AccountID, email, "")
	if err != nil {
		return SignInResult{}, err
	}
	stored := ""
	if st.secrets != nil {
		stored = st.secrets.PasswordHash
	}
	password := req.Password
	if len(password) > MaxPasswordLen {
		password, stored = "", "" // longer than any password: verify the dummy, refuse
	}
	ok, rehash, err := d.hash.verify(ctx, stored, password)
	if err != nil {
		return SignInResult{}, err
	}
	if !ok {
		d.signInFailed(ctx, st, MethodPassword, FailureBadPassword, client)
		return SignInResult{}, badCredentials()
	}
	d.forget(ctx, emailKey("signin", email), d.throttle.PerUser)
	if rehash {
		d.rehash(ctx, st.user.ID, stored, password)
	}
	if err := d.passwordAllowed(st, MethodPassword); err != nil {
		if st.member != nil {
			d.signInFailed(ctx, st, MethodPassword, store.CodeOf(err), client)
		}
		return SignInResult{}, err
	}
	return d.afterPassword(ctx, st, client)
}

// afterPassword is the step after a verified password: a second factor, its enrolment, or
// the session.
func (d *Dashboard) afterPassword(ctx context.Context, st signInState, client Client) (SignInResult, error) {
	switch {
	case st.secrets != nil && st.secrets.TOTPConfirmed:
		return d.challenge(ctx, challengeSecondFactor, st, client)
	case st.acct.RequireSecondFactor:
		if d.seal == nil {
			return SignInResult{}, totpUnavailable()
		}
		setup, err := d.newEnrollment(ctx, *st.user)
		if err != nil {
			return SignInResult{}, err
		}
		res, err := d.challenge(ctx, challengeEnroll, st, client)
		res.TOTP = &setup
		return res, err
	}
	return d.startSession(ctx, sessionStart{account: st.acct.ID, user: *st.user, method: MethodPassword, client: client})
}

// rehash replaces a user's password hash by one with the configured parameters, if the
// stored hash is still the one verified. A failure is only logged: the old hash still works.
func (d *Dashboard) rehash(ctx context.Context, userID, verified, password string) {
	h, err := d.hash.hash(ctx, password)
	if err == nil {
		err = d.svc.st.Update(ctx, func(tx store.Tx) error {
			sec, err := tx.UserSecrets(ctx, userID)
			if err != nil || sec.PasswordHash != verified {
				return err
			}
			sec.PasswordHash = h
			return tx.PutUserSecrets(ctx, sec)
		})
	}
	if err != nil {
		d.svc.log.WarnContext(ctx, "sso: upgrading a password hash", "user_id", userID, "error", err)
	}
}

// signInFailed records a member's failed sign-in in the account it was made to. Nothing is
// recorded for someone who is no member: the account's log is no place for strangers.
func (d *Dashboard) signInFailed(ctx context.Context, st signInState, method LoginMethod, reason string, c Client) {
	if st.member == nil || st.user == nil {
		return
	}
	obj := SignInObject{ID: st.user.ID, Email: st.user.Email, Method: string(method), Reason: reason, IP: c.IP, UserAgent: c.UserAgent}
	d.recordAfter(ctx, st.acct.ID, identity.EventSignInFailed, userPrincipal(st.acct.ID, *st.user), obj)
}

// recordAfter records an event in an Update of its own, after the change it is about
// committed elsewhere: users are global, and a sharded store commits a user's records apart
// from an account's. A failure is logged at error level, never returned: the change stands.
func (d *Dashboard) recordAfter(ctx context.Context, accountID string, t store.EventType, by store.Principal, obj interface {
	Resource() identity.Resource
}) {
	err := d.svc.st.Update(ctx, func(tx store.Tx) error { return d.svc.rec.Record(ctx, tx, accountID, t, by, obj) })
	if err != nil {
		d.svc.log.ErrorContext(ctx, "sso: recording an event", "account_id", accountID, "type", t, "error", err)
	}
}

// userPrincipal is a user acting for itself in an account, from the dashboard.
func userPrincipal(accountID string, u store.User) store.Principal {
	return identity.Principal{ID: u.ID, Kind: identity.KindUser, AccountID: accountID, Subject: u.Email, Source: identity.SourceDashboard}.Audit()
}

// Challenges.

type challengeKind string

const (
	challengeSecondFactor challengeKind = "second_factor"
	challengeEnroll       challengeKind = "enroll"
)

// challengeValue is what a challenge stands for, kept server-side under its digest.
type challengeValue struct {
	Kind      challengeKind `json:"k"`
	AccountID string        `json:"a"`
	UserID    string        `json:"u"`
	UserAgent string        `json:"ua,omitempty"`
	IP        string        `json:"ip,omitempty"`
	Attempts  int           `json:"n"`
	ExpiresAt time.Time     `json:"x"`
}

func challengeKey(digest string) string { return "sso:challenge:" + digest }

func (d *Dashboard) challenge(ctx context.Context, kind challengeKind, st signInState, c Client) (SignInResult, error) {
	tok, digest, err := newRandomToken(d.svc.rand, challengePrefix)
	if err != nil {
		return SignInResult{}, err
	}
	v := challengeValue{Kind: kind, AccountID: st.acct.ID, UserID: st.user.ID, UserAgent: c.UserAgent, IP: c.IP,
		ExpiresAt: d.now().Add(d.chalTTL)}
	if err := d.putChallenge(ctx, digest, v); err != nil {
		return SignInResult{}, err
	}
	step := StepSecondFactor
	if kind == challengeEnroll {
		step = StepEnrollSecondFactor
	}
	return SignInResult{Step: step, Challenge: tok, ChallengeExpiresAt: v.ExpiresAt}, nil
}

func (d *Dashboard) putChallenge(ctx context.Context, digest string, v challengeValue) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := d.svc.st.PutSingleUse(ctx, challengeKey(digest), raw, v.ExpiresAt); err != nil {
		return fmt.Errorf("sso: storing a sign-in challenge: %w", err)
	}
	return nil
}

// takeChallenge takes a challenge of kind: it is gone until retry puts it back.
func (d *Dashboard) takeChallenge(ctx context.Context, tok string, kind challengeKind) (string, challengeValue, error) {
	digest, ok := parseRandomToken(tok, challengePrefix)
	if !ok {
		return "", challengeValue{}, invalidChallenge()
	}
	raw, err := d.svc.st.TakeSingleUse(ctx, challengeKey(digest))
	if errors.Is(err, store.ErrNotFound) {
		return "", challengeValue{}, invalidChallenge()
	} else if err != nil {
		return "", challengeValue{}, fmt.Errorf("sso: reading a sign-in challenge: %w", err)
	}
	var v challengeValue
	if json.Unmarshal(raw, &v) != nil || v.Kind != kind || !d.now().Before(v.ExpiresAt) {
		return "", challengeValue{}, invalidChallenge()
	}
	return digest, v, nil
}

// retry puts a challenge back after a wrong code, unless that was its last attempt.
func (d *Dashboard) retry(ctx context.Context, digest string, v challengeValue, counted bool) {
	if counted {
		v.Attempts++
	}
	if v.Attempts >= MaxChallengeAttempts || !d.now().Before(v.ExpiresAt) {
		return
	}
	if err := d.putChallenge(ctx, digest, v); err != nil {
		d.svc.log.WarnContext(ctx, "sso: keeping a sign-in challenge", "error", err)
	}
}

// SecondFactor completes a sign-in at StepSecondFactor with a TOTP code (six digits, from
// the member's authenticator app) or one of its recovery codes, which is then used up. A
// TOTP code is accepted in its 30-second step and one step either side, and never twice.
//
// A wrong code is CodeBadSecondFactor (store.ErrUnauthenticated) and records sign_in_failed;
// the challenge stays usable up to MaxChallengeAttempts codes in all. Codes are throttled per
// user (Throttle.SecondFactor). An unknown, expired or used-up challenge is
// CodeChallengeInvalid: sign in again. The member and the login policy are checked again.
func (d *Dashboard) SecondFactor(ctx context.Context, challenge, code string) (SignInResult, error) {
	digest, ch, err := d.takeChallenge(ctx, challenge, challengeSecondFactor)
	if err != nil {
		return SignInResult{}, err
	}
	if err := d.allow(ctx, secondFactorKey(ch.UserID), d.throttle.SecondFactor); err != nil {
		d.retry(ctx, digest, ch, false)
		return SignInResult{}, err
	}
	st, err := d.readState(ctx, ch.AccountID, "", ch.UserID)
	if err != nil {
		return SignInResult{}, err
	}
	if st.user == nil || st.secrets == nil || !st.secrets.TOTPConfirmed {
		return SignInResult{}, invalidChallenge() // the second factor went away: sign in again
	}
	if err := d.passwordAllowed(st, MethodPassword); err != nil {
		return SignInResult{}, err
	}
	client := Client{UserAgent: ch.UserAgent, IP: ch.IP}
	factor, left, err := d.checkSecondFactor(ctx, *st.user, *st.secrets, code)
	if err != nil {
		if errors.Is(err, store.ErrUnauthenticated) {
			d.signInFailed(ctx, st, MethodPassword, FailureBadSecondFactor, client)
			d.retry(ctx, digest, ch, true)
		}
		return SignInResult{}, err
	}
	d.forget(ctx, secondFactorKey(ch.UserID), d.throttle.SecondFactor)
	res, err := d.startSession(ctx, sessionStart{account: st.acct.ID, user: *st.user, method: MethodPassword, factor: factor, client: client})
	res.RecoveryCodesLeft = left
	return res, err
}

// checkSecondFactor checks a TOTP code, or uses up a recovery code, of a user with a
// confirmed TOTP; it returns the factor and how many recovery codes are left.
func (d *Dashboard) checkSecondFactor(ctx context.Context, u store.User, sec store.UserSecrets, code string) (SecondFactor, int, error) {
	if isTOTPCode(code) {
		if err := d.checkTOTP(ctx, u.ID, sec.TOTPSecret, code); err != nil {
			return "", 0, err
		}
		return SecondFactorTOTP, len(sec.RecoveryCodes), nil
	}
	left := 0
	err := d.svc.st.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.UserSecrets(ctx, u.ID)
		if err != nil {
			return err
		}
		rest, ok := useRecoveryCode(cur.RecoveryCodes, code)
		if !ok || !cur.TOTPConfirmed {
			return badSecondFactor()
		}
		cur.RecoveryCodes, left = rest, len(rest)
		return tx.PutUserSecrets(ctx, cur)
	})
	if err != nil {
		return "", 0, err
	}
	return SecondFactorRecoveryCode, left, nil
}

// checkTOTP checks a TOTP code against a sealed secret and uses up the step it matched.
func (d *Dashboard) checkTOTP(ctx context.Context, userID, sealed, code string) error {
	if d.seal == nil {
		return totpUnavailable()
	}
	secret, err := d.seal.open(userID, sealed)
	if err != nil {
		return err
	}
	step, ok := matchTOTP(secret, code, d.now())
	if !ok {
		return badSecondFactor()
	}
	key, until := totpStepKey(userID, step)
	err = d.svc.st.PutSingleUse(ctx, key, nil, until)
	switch {
	case errors.Is(err, store.ErrConflict):
		return badSecondFactor() // this step's code was accepted already
	case err != nil:
		return fmt.Errorf("sso: recording a used TOTP code: %w", err)
	}
	return nil
}

// newEnrollment draws a TOTP secret for u and stores it sealed and unconfirmed, replacing
// any unconfirmed one; a confirmed one is a conflict (CodeTOTPEnabled).
func (d *Dashboard) newEnrollment(ctx context.Context, u store.User) (TOTPSetup, error) {
	if d.seal == nil {
		return TOTPSetup{}, totpUnavailable()
	}
	key, err := newTOTP(d.svc.rand, d.issuer, u.Email)
	if err != nil {
		return TOTPSetup{}, err
	}
	sealed, err := d.seal.seal(u.ID, key.Secret())
	if err != nil {
		return TOTPSetup{}, err
	}
	err = d.svc.st.Update(ctx, func(tx store.Tx) error {
		sec, err := tx.UserSecrets(ctx, u.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			sec = store.UserSecrets{UserID: u.ID}
		case err != nil:
			return err
		case sec.TOTPConfirmed:
			return store.NewError(store.ErrConflict, CodeTOTPEnabled, "TOTP is already enabled")
		}
		sec.TOTPSecret = sealed
		return tx.PutUserSecrets(ctx, sec)
	})
	if err != nil {
		return TOTPSetup{}, err
	}
	return TOTPSetup{Secret: newSecret(key.Secret()), URI: newSecret(key.URL()), Issuer: d.issuer, Account: u.Email}, nil
}

// confirmEnrollment confirms u's unconfirmed TOTP secret with a code and gives it new
// recovery codes.
func (d *Dashboard) confirmEnrollment(ctx context.Context, u store.User, code string) ([]Secret, store.UserSecrets, error) {
	var sec store.UserSecrets
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		var err error
		sec, err = r.UserSecrets(ctx, u.ID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (sec.TOTPConfirmed || sec.TOTPSecret == ""):
		return nil, store.UserSecrets{}, store.NewError(store.ErrConflict, CodeTOTPNotEnabled, "no TOTP enrolment to confirm")
	case err != nil:
		return nil, store.UserSecrets{}, err
	}
	if err := d.checkTOTP(ctx, u.ID, sec.TOTPSecret, code); err != nil {
		return nil, store.UserSecrets{}, err
	}
	codes, hashes, err := newRecoveryCodes(d.svc.rand)
	if err != nil {
		return nil, store.UserSecrets{}, err
	}
	sealed, now := sec.TOTPSecret, d.now()
	err = d.svc.st.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.UserSecrets(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.TOTPSecret != sealed || cur.TOTPConfirmed {
			return badSecondFactor() // another enrolment replaced the secret meanwhile
		}
		cur.TOTPConfirmed, cur.TOTPConfirmedAt, cur.RecoveryCodes = true, now, hashes
		sec = cur
		return tx.PutUserSecrets(ctx, cur)
	})
	if err != nil {
		return nil, store.UserSecrets{}, err
	}
	return codes, sec, nil
}

// ConfirmEnrollment completes a sign-in at StepEnrollSecondFactor with the first code of the
// new TOTP secret: it confirms the secret, signs the member in, and returns the member's
// recovery codes (SignInResult.RecoveryCodes, shown once). It records totp_enabled. Wrong
// codes, throttling and challenges are as for SecondFactor.
func (d *Dashboard) ConfirmEnrollment(ctx context.Context, challenge, code string) (SignInResult, error) {
	digest, ch, err := d.takeChallenge(ctx, challenge, challengeEnroll)
	if err != nil {
		return SignInResult{}, err
	}
	if err := d.allow(ctx, secondFactorKey(ch.UserID), d.throttle.SecondFactor); err != nil {
		d.retry(ctx, digest, ch, false)
		return SignInResult{}, err
	}
	st, err := d.readState(ctx, ch.AccountID, "", ch.UserID)
	if err != nil {
		return SignInResult{}, err
	}
	if st.user == nil {
		return SignInResult{}, invalidChallenge()
	}
	if err := d.passwordAllowed(st, MethodPassword); err != nil {
		return SignInResult{}, err
	}
	client := Client{UserAgent: ch.UserAgent, IP: ch.IP}
	codes, sec, err := d.confirmEnrollment(ctx, *st.user, code)
	switch {
	case store.CodeOf(err) == CodeTOTPNotEnabled:
		return SignInResult{}, invalidChallenge() // confirmed or replaced elsewhere: sign in again
	case errors.Is(err, store.ErrUnauthenticated):
		d.signInFailed(ctx, st, MethodPassword, FailureBadSecondFactor, client)
		d.retry(ctx, digest, ch, true)
		return SignInResult{}, err
	case err != nil:
		return SignInResult{}, err
	}
	d.forget(ctx, secondFactorKey(ch.UserID), d.throttle.SecondFactor)
	d.recordAfter(ctx, st.acct.ID, identity.EventTOTPEnabled, userPrincipal(st.acct.ID, *st.user), totpObjectOf(*st.user, sec))
	res, err := d.startSession(ctx, sessionStart{account: st.acct.ID, user: *st.user, method: MethodPassword, factor: SecondFactorTOTP, client: client})
	res.RecoveryCodes, res.RecoveryCodesLeft = codes, len(codes)
	return res, err
}

func (d *Dashboard) now() time.Time { return d.svc.now() }
