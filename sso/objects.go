package sso

import (
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// Why a sign-in failed, as SignInObject.Reason records it; a sign-in the login policy
// refused records the LoginReason's value instead (such as "sso_required").
const (
	FailureBadPassword     = "bad_password"
	FailureBadSecondFactor = "bad_second_factor"
)

// Why a session ended, as SessionObject.EndReason records it in a session_ended event.
// Sessions that end because of another recorded change (a member disabled or removed, an
// identity provider deleted, enforcement switched, a password reset) are implied by that
// change's event and record none of their own.
const (
	EndSignedOut    = "signed_out"    // the member signed out
	EndEnded        = "ended"         // the member or an administrator ended it
	EndSessionLimit = "session_limit" // a new session ended the member's oldest (MaxSessionsPerMember)
)

// SignInObject is a sign-in attempt as sign_in_succeeded and sign_in_failed events record
// it: who (ID is the user's, as a member's), how, from where, and the session it began or why
// it failed. It never holds a password or a code.
type SignInObject struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Method       string `json:"method"`
	IdPID        string `json:"idp_id,omitempty"`
	SecondFactor string `json:"second_factor,omitempty"`
	SessionID    string `json:"session_id,omitempty"`
	Reason       string `json:"reason,omitempty"`
	IP           string `json:"ip,omitempty"`
	UserAgent    string `json:"user_agent,omitempty"`
	// Groups are the groups the identity provider asserted at an SSO sign-in, which its
	// role rules mapped to roles: what a dashboard explains a member's roles from.
	Groups []string `json:"groups,omitempty"`
}

// Resource returns identity.ResourceSignIn.
func (SignInObject) Resource() identity.Resource { return identity.ResourceSignIn }

// SessionObject is a dashboard session as session_ended events record it and an API lists
// it: never its token.
type SessionObject struct {
	ID           string `json:"id"`
	UserID       string `json:"user_id"`
	Method       string `json:"method"`
	IdPID        string `json:"idp_id,omitempty"`
	SecondFactor string `json:"second_factor,omitempty"`
	UserAgent    string `json:"user_agent,omitempty"`
	IP           string `json:"ip,omitempty"`
	CreatedAt    string `json:"created_at"`
	LastSeenAt   string `json:"last_seen_at"`
	ExpiresAt    string `json:"expires_at"`
	EndReason    string `json:"end_reason,omitempty"`
}

// Resource returns identity.ResourceSession.
func (SessionObject) Resource() identity.Resource { return identity.ResourceSession }

// SessionObjectOf returns the object of a session.
func SessionObjectOf(s Session) SessionObject {
	return SessionObject{
		ID: s.ID, UserID: s.UserID, Method: string(s.Method), IdPID: s.IdPID, SecondFactor: string(s.SecondFactor),
		UserAgent: s.UserAgent, IP: s.IP, CreatedAt: identity.Timestamp(s.IssuedAt),
		LastSeenAt: identity.Timestamp(s.LastSeenAt), ExpiresAt: identity.Timestamp(s.ExpiresAt),
	}
}

// How a password changed, as PasswordObject.Change records it.
const (
	PasswordChangeSet     = "set"     // a user without one set one through a reset
	PasswordChangeChanged = "changed" // the user changed it, giving the current one
	PasswordChangeReset   = "reset"   // the user replaced it through a reset token
)

// PasswordObject is a change of a user's password as password_changed events record it (ID
// is the user's): never the password or its hash.
type PasswordObject struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Change    string `json:"change"`
	ChangedAt string `json:"changed_at"`
}

// Resource returns identity.ResourcePassword.
func (PasswordObject) Resource() identity.Resource { return identity.ResourcePassword }

// TOTPObject is a user's TOTP second factor as totp_* events record it (ID is the user's):
// never its secret or the recovery codes.
type TOTPObject struct {
	ID                string `json:"id"`
	Email             string `json:"email"`
	Enabled           bool   `json:"enabled"`
	RecoveryCodesLeft int    `json:"recovery_codes_left"`
}

// Resource returns identity.ResourceTOTP.
func (TOTPObject) Resource() identity.Resource { return identity.ResourceTOTP }

func totpObjectOf(u store.User, sec store.UserSecrets) TOTPObject {
	return TOTPObject{ID: u.ID, Email: u.Email, Enabled: sec.TOTPConfirmed, RecoveryCodesLeft: len(sec.RecoveryCodes)}
}

func passwordObjectOf(u store.User, change string, at time.Time) PasswordObject {
	return PasswordObject{ID: u.ID, Email: u.Email, Change: change, ChangedAt: identity.Timestamp(at)}
}
