package identity

import (
	"time"

	"github.com/iamkit/iamkit/store"
)

// Resource is what an audit event is about: it decides the event's object and, in package
// rbac, which permission reads the event. Its values are the prefixes of the event types.
type Resource string

// The resources events are about.
const (
	ResourceAccount          Resource = "account"
	ResourceMember           Resource = "member"
	ResourceInvitation       Resource = "invitation"
	ResourceRole             Resource = "role"
	ResourceBotUser          Resource = "bot_user"
	ResourceTunnelCredential Resource = "tunnel_credential"
	ResourceAPIKey           Resource = "api_key"
	ResourceSSHPublicKey     Resource = "ssh_public_key"
	ResourceAccessToken      Resource = "access_token"
	ResourceIdentityProvider Resource = "identity_provider"
	ResourceSSOSettings      Resource = "sso_settings"
	ResourceDomain           Resource = "domain"   // an email domain the account claims and verifies
	ResourceSignIn           Resource = "sign_in"  // a dashboard sign-in of a member
	ResourceSession          Resource = "session"  // a dashboard session of a member
	ResourcePassword         Resource = "password" // a user's password
	ResourceTOTP             Resource = "totp"     // a user's TOTP second factor and recovery codes
	// Audit streaming (package rbac/eventstream): where an account's events are delivered,
	// and which.
	ResourceEventDestination  Resource = "event_destination"
	ResourceEventSubscription Resource = "event_subscription"
	ResourceGroup             Resource = "group" // a group of members an identity provider manages (SCIM)
	ResourceIPPolicy          Resource = "ip_policy"
	ResourceIPPolicyRule      Resource = "ip_policy_rule"
	ResourceIPRestriction     Resource = "ip_restriction"
)

// The audit event types iamkit writes, "<resource>_<verb>.v<version>" as in ngrok's event
// log (credential types are ngrok's own names). EventTypes lists them. A new field in an
// object does not change its version; any other change of shape does (".v0" -> ".v1").
const (
	EventAccountCreated store.EventType = "account_created.v0"
	EventAccountUpdated store.EventType = "account_updated.v0" // name, plan or credential policy changed

	EventMemberCreated store.EventType = "member_created.v0" // a user joined the account (invitation, provisioning or direct add)
	EventMemberUpdated store.EventType = "member_updated.v0" // roles or status changed
	EventMemberDeleted store.EventType = "member_deleted.v0" // removed from the account; its credentials there are purged

	EventInvitationCreated  store.EventType = "invitation_created.v0"
	EventInvitationAccepted store.EventType = "invitation_accepted.v0"
	EventInvitationDeleted  store.EventType = "invitation_deleted.v0" // revoked, or replaced after expiry

	EventRoleCreated store.EventType = "role_created.v0"
	EventRoleUpdated store.EventType = "role_updated.v0"
	EventRoleDeleted store.EventType = "role_deleted.v0"

	EventBotUserCreated store.EventType = "bot_user_created.v0"
	EventBotUserUpdated store.EventType = "bot_user_updated.v0"
	EventBotUserDeleted store.EventType = "bot_user_deleted.v0" // its credentials are purged

	EventTunnelCredentialCreated store.EventType = "tunnel_credential_created.v0"
	EventTunnelCredentialUpdated store.EventType = "tunnel_credential_updated.v0"
	EventTunnelCredentialDeleted store.EventType = "tunnel_credential_deleted.v0"
	EventAPIKeyCreated           store.EventType = "api_key_created.v0"
	EventAPIKeyUpdated           store.EventType = "api_key_updated.v0"
	EventAPIKeyDeleted           store.EventType = "api_key_deleted.v0"
	EventSSHPublicKeyCreated     store.EventType = "ssh_public_key_created.v0"
	EventSSHPublicKeyUpdated     store.EventType = "ssh_public_key_updated.v0"
	EventSSHPublicKeyDeleted     store.EventType = "ssh_public_key_deleted.v0"
	EventAccessTokenCreated      store.EventType = "access_token_created.v0"
	EventAccessTokenUpdated      store.EventType = "access_token_updated.v0"
	EventAccessTokenDeleted      store.EventType = "access_token_deleted.v0" // revoked

	EventIdentityProviderCreated store.EventType = "identity_provider_created.v0"
	EventIdentityProviderUpdated store.EventType = "identity_provider_updated.v0"
	EventIdentityProviderDeleted store.EventType = "identity_provider_deleted.v0"
	EventSSOSettingsUpdated      store.EventType = "sso_settings_updated.v0"
	EventDomainCreated           store.EventType = "domain_created.v0"  // claimed, not yet verified
	EventDomainVerified          store.EventType = "domain_verified.v0" // its DNS TXT record was found
	EventDomainUpdated           store.EventType = "domain_updated.v0"  // SSO required for its members, or no longer
	EventDomainDeleted           store.EventType = "domain_deleted.v0"

	// Dashboard sign-in (package sso). Users are global: events about a user's password or
	// second factor are recorded in the account the user acted in (signed in to, or asked a
	// reset from), and a sign-in in the account it was made to.
	EventSignInSucceeded              store.EventType = "sign_in_succeeded.v0"               // a session began
	EventSignInFailed                 store.EventType = "sign_in_failed.v0"                  // a member's password or second factor was refused
	EventSessionEnded                 store.EventType = "session_ended.v0"                   // signed out, or ended by the member or an administrator
	EventPasswordChanged              store.EventType = "password_changed.v0"                // set, changed or reset
	EventTOTPEnabled                  store.EventType = "totp_enabled.v0"                    // a TOTP second factor was confirmed
	EventTOTPDisabled                 store.EventType = "totp_disabled.v0"                   // the TOTP second factor was removed
	EventTOTPRecoveryCodesRegenerated store.EventType = "totp_recovery_codes_regenerated.v0" // a new set of recovery codes replaced the old

	// Audit streaming (package rbac/eventstream). Deliveries and dead letters record none:
	// they are the stream's own bookkeeping, and recording them would feed the stream itself.
	EventEventDestinationCreated  store.EventType = "event_destination_created.v0"
	EventEventDestinationUpdated  store.EventType = "event_destination_updated.v0"
	EventEventDestinationDeleted  store.EventType = "event_destination_deleted.v0"
	EventEventSubscriptionCreated store.EventType = "event_subscription_created.v0"
	EventEventSubscriptionUpdated store.EventType = "event_subscription_updated.v0"
	EventEventSubscriptionDeleted store.EventType = "event_subscription_deleted.v0"
	// Groups an identity provider manages through SCIM (package sso/scim); the role changes
	// they cause are member_updated events.
	EventGroupCreated store.EventType = "group_created.v0"
	EventGroupUpdated store.EventType = "group_updated.v0" // renamed, or members added or removed
	EventGroupDeleted store.EventType = "group_deleted.v0"
	// Account-wide IP restrictions (package rbac/iprestrict), ngrok's ip_policy_* event names.
	EventIPPolicyCreated      store.EventType = "ip_policy_created.v0"
	EventIPPolicyUpdated      store.EventType = "ip_policy_updated.v0"
	EventIPPolicyDeleted      store.EventType = "ip_policy_deleted.v0"
	EventIPPolicyRuleCreated  store.EventType = "ip_policy_rule_created.v0"
	EventIPPolicyRuleUpdated  store.EventType = "ip_policy_rule_updated.v0"
	EventIPPolicyRuleDeleted  store.EventType = "ip_policy_rule_deleted.v0"
	EventIPRestrictionCreated store.EventType = "ip_restriction_created.v0"
	EventIPRestrictionUpdated store.EventType = "ip_restriction_updated.v0"
	EventIPRestrictionDeleted store.EventType = "ip_restriction_deleted.v0"
	// EventIPRestrictionWarned: a warn-only restriction would have refused a request (the
	// request went ahead). Its principal is who made the request.
	EventIPRestrictionWarned store.EventType = "ip_restriction_warned.v0"
)

// EventTypes returns every event type iamkit writes, in the order above.
func EventTypes() []store.EventType {
	return []store.EventType{
		EventAccountCreated, EventAccountUpdated,
		EventMemberCreated, EventMemberUpdated, EventMemberDeleted,
		EventInvitationCreated, EventInvitationAccepted, EventInvitationDeleted,
		EventRoleCreated, EventRoleUpdated, EventRoleDeleted,
		EventBotUserCreated, EventBotUserUpdated, EventBotUserDeleted,
		EventTunnelCredentialCreated, EventTunnelCredentialUpdated, EventTunnelCredentialDeleted,
		EventAPIKeyCreated, EventAPIKeyUpdated, EventAPIKeyDeleted,
		EventSSHPublicKeyCreated, EventSSHPublicKeyUpdated, EventSSHPublicKeyDeleted,
		EventAccessTokenCreated, EventAccessTokenUpdated, EventAccessTokenDeleted,
		EventIdentityProviderCreated, EventIdentityProviderUpdated, EventIdentityProviderDeleted,
		EventSSOSettingsUpdated,
		EventDomainCreated, EventDomainVerified, EventDomainUpdated, EventDomainDeleted,
		EventSignInSucceeded, EventSignInFailed, EventSessionEnded, EventPasswordChanged,
		EventTOTPEnabled, EventTOTPDisabled, EventTOTPRecoveryCodesRegenerated,
		EventEventDestinationCreated, EventEventDestinationUpdated, EventEventDestinationDeleted,
		EventEventSubscriptionCreated, EventEventSubscriptionUpdated, EventEventSubscriptionDeleted,
		EventGroupCreated, EventGroupUpdated, EventGroupDeleted,
		EventIPPolicyCreated, EventIPPolicyUpdated, EventIPPolicyDeleted,
		EventIPPolicyRuleCreated, EventIPPolicyRuleUpdated, EventIPPolicyRuleDeleted,
		EventIPRestrictionCreated, EventIPRestrictionUpdated, EventIPRestrictionDeleted, EventIPRestrictionWarned,
	}
}

// ResourceOf returns what events of type t are about, or "" if t is not a type iamkit writes.
func ResourceOf(t store.EventType) Resource {
	switch t {
	case EventAccountCreated, EventAccountUpdated:
		return ResourceAccount
	case EventMemberCreated, EventMemberUpdated, EventMemberDeleted:
		return ResourceMember
	case EventInvitationCreated, EventInvitationAccepted, EventInvitationDeleted:
		return ResourceInvitation
	case EventRoleCreated, EventRoleUpdated, EventRoleDeleted:
		return ResourceRole
	case EventBotUserCreated, EventBotUserUpdated, EventBotUserDeleted:
		return ResourceBotUser
	case EventTunnelCredentialCreated, EventTunnelCredentialUpdated, EventTunnelCredentialDeleted:
		return ResourceTunnelCredential
	case EventAPIKeyCreated, EventAPIKeyUpdated, EventAPIKeyDeleted:
		return ResourceAPIKey
	case EventSSHPublicKeyCreated, EventSSHPublicKeyUpdated, EventSSHPublicKeyDeleted:
		return ResourceSSHPublicKey
	case EventAccessTokenCreated, EventAccessTokenUpdated, EventAccessTokenDeleted:
		return ResourceAccessToken
	case EventIdentityProviderCreated, EventIdentityProviderUpdated, EventIdentityProviderDeleted:
		return ResourceIdentityProvider
	case EventSSOSettingsUpdated:
		return ResourceSSOSettings
	case EventDomainCreated, EventDomainVerified, EventDomainUpdated, EventDomainDeleted:
		return ResourceDomain
	case EventSignInSucceeded, EventSignInFailed:
		return ResourceSignIn
	case EventSessionEnded:
		return ResourceSession
	case EventPasswordChanged:
		return ResourcePassword
	case EventTOTPEnabled, EventTOTPDisabled, EventTOTPRecoveryCodesRegenerated:
		return ResourceTOTP
	case EventEventDestinationCreated, EventEventDestinationUpdated, EventEventDestinationDeleted:
		return ResourceEventDestination
	case EventEventSubscriptionCreated, EventEventSubscriptionUpdated, EventEventSubscriptionDeleted:
		return ResourceEventSubscription
	case EventGroupCreated, EventGroupUpdated, EventGroupDeleted:
		return ResourceGroup
	case EventIPPolicyCreated, EventIPPolicyUpdated, EventIPPolicyDeleted:
		return ResourceIPPolicy
	case EventIPPolicyRuleCreated, EventIPPolicyRuleUpdated, EventIPPolicyRuleDeleted:
		return ResourceIPPolicyRule
	case EventIPRestrictionCreated, EventIPRestrictionUpdated, EventIPRestrictionDeleted, EventIPRestrictionWarned:
		return ResourceIPRestriction
	}
	return ""
}

// CredentialEventTypes returns the created, updated and deleted event types of a credential
// kind, by ngrok's names (access tokens: access_token_*).
func CredentialEventTypes(k store.CredentialKind) (created, updated, deleted store.EventType) {
	switch k {
	case store.APIKey:
		return EventAPIKeyCreated, EventAPIKeyUpdated, EventAPIKeyDeleted
	case store.SSHCredential:
		return EventSSHPublicKeyCreated, EventSSHPublicKeyUpdated, EventSSHPublicKeyDeleted
	case store.AccessToken:
		return EventAccessTokenCreated, EventAccessTokenUpdated, EventAccessTokenDeleted
	}
	return EventTunnelCredentialCreated, EventTunnelCredentialUpdated, EventTunnelCredentialDeleted
}

// Timestamp formats t as iamkit's resource representations (and ngrok's API) write times:
// RFC 3339, UTC, whole seconds.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
