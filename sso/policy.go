package sso

import (
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// Provisioning says who may enter an account through SSO.
type Provisioning string

// Provisioning modes.
const (
	// ProvisioningInviteOnly (the default) lets in existing members and holders of a pending
	// invitation for the asserted email, which the login accepts.
	ProvisioningInviteOnly Provisioning = "invite_only"
	// ProvisioningJIT also creates the user and a membership with the IdP's default roles on
	// a first login (just-in-time), within the plan's seats.
	ProvisioningJIT Provisioning = "jit"
)

// Valid reports whether p is a known mode.
func (p Provisioning) Valid() bool { return p == ProvisioningInviteOnly || p == ProvisioningJIT }

// Enforcement says which logins an account accepts besides SSO.
type Enforcement string

// Enforcement modes.
const (
	// EnforcementOff (the default): every login method is allowed.
	EnforcementOff Enforcement = "off"
	// EnforcementMixed: members whose membership was created before Settings.Since keep
	// their non-SSO logins; newer members must use SSO.
	EnforcementMixed Enforcement = "mixed"
	// EnforcementEnforced: only SSO logins are allowed. The last IdP cannot be deleted.
	EnforcementEnforced Enforcement = "enforced"
)

// Valid reports whether e is a known mode.
func (e Enforcement) Valid() bool {
	return e == EnforcementOff || e == EnforcementMixed || e == EnforcementEnforced
}

// Settings is an account's SSO configuration, as Service.Settings returns it: the stored
// store.SSOSettings with defaults applied. It is a plain value.
type Settings struct {
	Provisioning Provisioning `json:"provisioning"`
	Enforcement  Enforcement  `json:"enforcement"`
	// Since is when enforcement last left "off" (zero if it never did). In mixed mode,
	// members whose membership was created before it keep their non-SSO logins.
	Since time.Time `json:"since"`
}

// settingsOf applies the defaults to stored settings. Unknown stored values are read as the
// strictest reading that cannot lock SSO users out: unknown enforcement is "enforced",
// unknown provisioning is "invite_only".
func settingsOf(s store.SSOSettings) Settings {
	out := Settings{Provisioning: Provisioning(s.Provisioning), Enforcement: Enforcement(s.Enforcement), Since: s.Since}
	if out.Provisioning == "" || !out.Provisioning.Valid() {
		out.Provisioning = ProvisioningInviteOnly
	}
	switch {
	case out.Enforcement == "":
		out.Enforcement = EnforcementOff
	case !out.Enforcement.Valid():
		out.Enforcement = EnforcementEnforced
	}
	return out
}

func (s Settings) store() store.SSOSettings {
	return store.SSOSettings{Provisioning: string(s.Provisioning), Enforcement: string(s.Enforcement), Since: s.Since}
}

// LoginMethod is how a user logged in. The embedder may use its own values for its own
// login methods: every method other than MethodSSO is subject to enforcement.
type LoginMethod string

// Login methods iamkit names.
const (
	MethodSSO      LoginMethod = "sso"
	MethodPassword LoginMethod = "password"
	MethodOAuth    LoginMethod = "oauth"
)

// LoginReason says why a login is allowed or denied. It is also an error: a refused login
// (store.ErrDenied, code the reason's value) and a session revoked by the login policy
// (store.ErrUnauthenticated, code CodeSessionRevoked) carry the denying reason as their cause,
// so that
//
//	var reason sso.LoginReason
//	if errors.As(err, &reason) { ... }
//
// tells why.
type LoginReason string

// Error returns the reason's value.
func (r LoginReason) Error() string { return string(r) }

// Reasons of a LoginDecision. A refused login is an error matching store.ErrDenied whose
// code is the denying reason's value (string(ReasonNotInvited), ...).
const (
	ReasonSSOLogin      LoginReason = "sso_login"         // allowed: an SSO login
	ReasonSSOOff        LoginReason = "sso_not_enforced"  // allowed: enforcement is off
	ReasonGrandfathered LoginReason = "joined_before_sso" // allowed: mixed mode, member before Since
	ReasonSSORequired   LoginReason = "sso_required"      // denied: mixed mode, member since Since
	ReasonSSOEnforced   LoginReason = "sso_enforced"      // denied: enforced mode
	ReasonDomainSSO     LoginReason = "sso_domain"        // denied: the account verified the email's domain and an IdP is trusted for it

	ReasonNotMember      LoginReason = "not_a_member"    // denied: no membership in the account
	ReasonMemberDisabled LoginReason = "member_disabled" // denied: the membership is disabled
	ReasonBotUser        LoginReason = "bot_user"        // denied: bot users never log in

	ReasonNotInvited        LoginReason = "not_invited"            // SSO, invite-only: no membership and no invitation
	ReasonInvitationExpired LoginReason = "invitation_expired"     // SSO, invite-only: the invitation expired
	ReasonUntrustedDomain   LoginReason = "untrusted_email_domain" // SSO: the IdP is not trusted for the email's domain
	ReasonInvalidEmail      LoginReason = "invalid_email"          // SSO: the asserted email cannot be a user's email
	ReasonIdPSessionEnded   LoginReason = "idp_session_ended"      // SSO: the IdP's SessionNotOnOrAfter has passed
	ReasonEmailNotVerified  LoginReason = "email_not_verified"     // OIDC: the ID token's email_verified is not true
)

// LoginDecision is the answer of a login policy: allowed or not, and why. A deny is a
// value, not an error; Err turns it into one.
type LoginDecision struct {
	Allowed     bool
	Reason      LoginReason
	Method      LoginMethod
	Enforcement Enforcement
}

// String returns "allow <method>: <reason>" or "deny <method>: <reason>".
func (d LoginDecision) String() string {
	verb := "deny"
	if d.Allowed {
		verb = "allow"
	}
	return verb + " " + string(d.Method) + ": " + string(d.Reason)
}

// Err returns nil for an allowed decision, and for a denied one an error matching
// store.ErrDenied whose code is the reason's value.
func (d LoginDecision) Err() error {
	if d.Allowed {
		return nil
	}
	return loginDenied(d.Reason)
}

// isLoginReason reports whether r is one of the reasons a login is denied for.
func isLoginReason(r LoginReason) bool {
	switch r {
	case ReasonSSORequired, ReasonSSOEnforced, ReasonNotMember, ReasonMemberDisabled, ReasonBotUser,
		ReasonNotInvited, ReasonInvitationExpired, ReasonUntrustedDomain, ReasonInvalidEmail, ReasonIdPSessionEnded,
		ReasonDomainSSO, ReasonEmailNotVerified:
		return true
	}
	return false
}

// SettingsObject is an account's SSO settings as audit events record them and an API serves
// them. Since is null when enforcement never left "off".
type SettingsObject struct {
	Provisioning string  `json:"provisioning"`
	Enforcement  string  `json:"enforcement"`
	Since        *string `json:"since"`
}

// Resource returns identity.ResourceSSOSettings.
func (SettingsObject) Resource() identity.Resource { return identity.ResourceSSOSettings }

// SettingsObjectOf returns the object of settings, as Service.Settings reads them (defaults
// applied).
func SettingsObjectOf(s Settings) SettingsObject {
	out := SettingsObject{Provisioning: string(s.Provisioning), Enforcement: string(s.Enforcement)}
	if !s.Since.IsZero() {
		since := identity.Timestamp(s.Since)
		out.Since = &since
	}
	return out
}

// LoginPolicy decides whether the holder of member may log in with method under s:
//
//   - a disabled membership is denied (ReasonMemberDisabled), whatever the method;
//   - MethodSSO is always allowed (ReasonSSOLogin);
//   - with enforcement off, every method is allowed (ReasonSSOOff);
//   - in mixed mode, a membership created before s.Since is allowed (ReasonGrandfathered),
//     a newer one is denied (ReasonSSORequired);
//   - with enforcement enforced, every method but SSO is denied (ReasonSSOEnforced).
//
// It is a pure function of its arguments; Service.LoginPolicy reads them from the store.
func (s Settings) LoginPolicy(member store.Membership, method LoginMethod) LoginDecision {
	d := LoginDecision{Method: method, Enforcement: s.Enforcement}
	switch {
	case member.Status != store.MemberActive:
		d.Reason = ReasonMemberDisabled
	case method == MethodSSO:
		d.Allowed, d.Reason = true, ReasonSSOLogin
	case s.Enforcement == EnforcementOff:
		d.Allowed, d.Reason = true, ReasonSSOOff
	case s.Enforcement == EnforcementMixed && member.CreatedAt.Before(s.Since):
		d.Allowed, d.Reason = true, ReasonGrandfathered
	case s.Enforcement == EnforcementMixed:
		d.Reason = ReasonSSORequired
	default:
		d.Reason = ReasonSSOEnforced
	}
	return d
}
