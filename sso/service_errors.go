package sso

import (
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/botuser"
)

// Sentinel errors of the Service, the login flows and Sessions, matched with errors.Is.
var (
	// ErrLastIdentityProvider: the account's SSO enforcement is "enforced" and this is its
	// last identity provider, so it cannot be deleted. Matched by *EnforcementError.
	ErrLastIdentityProvider = errors.New("sso: cannot delete the last identity provider while SSO is enforced")
	// ErrNoIdentityProvider: enforcement cannot become "enforced" while the account has no
	// identity provider. Matched by *EnforcementError.
	ErrNoIdentityProvider = errors.New("sso: enforcing SSO needs at least one identity provider")

	// ErrLoginDenied: a login was refused after the SAML response itself was accepted, or a
	// LoginDecision denied a login (not invited, untrusted email domain, member disabled,
	// bot user, SSO required). Matched by *LoginDeniedError.
	ErrLoginDenied = errors.New("sso: login denied")

	// ErrRelayState: an SP-initiated response did not come back with the RelayState of its
	// own request from the browser that began the login (a missing, used, expired or foreign
	// key, or login CSRF). It is the Kind of a *ResponseError, so it also matches
	// ErrInvalidResponse.
	ErrRelayState = errors.New("sso: RelayState does not belong to this login")

	// ErrInvalidSession: a session token was rejected: malformed, oversized, signed with
	// another key or algorithm, expired, or carrying unusable claims. Matched by
	// *SessionError.
	ErrInvalidSession = errors.New("sso: invalid session token")
	// ErrSessionRevoked: a well-signed, unexpired session token whose login is no longer
	// allowed: the membership was removed or disabled, the IdP it came from was deleted, or
	// the account's enforcement no longer permits its login method. Matched by *SessionError.
	ErrSessionRevoked = errors.New("sso: session no longer valid")
)

// EnforcementError says that a change was refused to keep SSO enforcement satisfiable. Kind
// is ErrLastIdentityProvider or ErrNoIdentityProvider, and the error matches it.
type EnforcementError struct {
	AccountID string
	Kind      error
}

// Error names the account and the rule.
func (e *EnforcementError) Error() string {
	return fmt.Sprintf("%v (account %s)", e.Kind, e.AccountID)
}

// Is reports whether target is e.Kind.
func (e *EnforcementError) Is(target error) bool { return target == e.Kind }

// LoginDeniedError is a refused login: an SSO login whose assertion was valid but whose
// user may not enter the account, or a login that a LoginDecision denies. It matches
// ErrLoginDenied and, when Reason is ReasonBotUser, botuser.ErrNoDashboard.
type LoginDeniedError struct {
	AccountID string
	Reason    LoginReason
}

// Error names the account and the reason. It never includes the user's email.
func (e *LoginDeniedError) Error() string {
	return fmt.Sprintf("sso: login to account %s denied: %s", e.AccountID, e.Reason)
}

// Is reports whether target is ErrLoginDenied, or botuser.ErrNoDashboard for a bot user.
func (e *LoginDeniedError) Is(target error) bool {
	return target == ErrLoginDenied || (e.Reason == ReasonBotUser && target == botuser.ErrNoDashboard)
}

// SessionError says why a session token was not accepted. Kind is ErrInvalidSession or
// ErrSessionRevoked and the error matches it. Decision is set when the account's login
// policy revoked the session (Reason "login policy"). Reason is a fixed description; Err,
// if not nil, is the underlying cause (a parser or store error) and never holds the token.
type SessionError struct {
	Kind     error
	Reason   string
	Decision *LoginDecision
	Err      error
}

// Error names the kind, the reason and the cause.
func (e *SessionError) Error() string {
	s := fmt.Sprintf("%v: %s", e.Kind, e.Reason)
	if e.Decision != nil {
		s += " (" + e.Decision.String() + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is e.Kind.
func (e *SessionError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause, if any.
func (e *SessionError) Unwrap() error { return e.Err }

func invalidSession(reason string, err error) error {
	return &SessionError{Kind: ErrInvalidSession, Reason: reason, Err: err}
}

func revokedSession(reason string, err error) error {
	return &SessionError{Kind: ErrSessionRevoked, Reason: reason, Err: err}
}
