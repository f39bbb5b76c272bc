package store

import (
	"encoding/json"
	"net/netip"
	"time"
)

// Kind names a record type. It appears in changes, errors and events.
type Kind string

// The record kinds.
const (
	KindAccount          Kind = "account"
	KindUser             Kind = "user"
	KindMembership       Kind = "membership"
	KindInvitation       Kind = "invitation"
	KindBotUser          Kind = "bot_user"
	KindCredential       Kind = "credential"
	KindRole             Kind = "role"
	KindIdentityProvider Kind = "identity_provider"
	KindEvent            Kind = "event"
	KindExternalIdentity Kind = "external_identity"
	KindTombstone        Kind = "tombstone"
	KindUserSecrets      Kind = "user_secrets"
	KindSession          Kind = "session"
	KindGroup            Kind = "group"
	KindDomain           Kind = "domain"
	KindIPPolicy         Kind = "ip_policy"
	KindIPPolicyRule     Kind = "ip_policy_rule"
	KindIPRestriction    Kind = "ip_restriction"
)

// Limits the store enforces on every write.
const (
	MaxDescriptionLen = 255  // bytes, Credential.Description
	MaxMetadataLen    = 4096 // bytes, Credential.Metadata
	MaxNameLen        = 255  // bytes, names of bot users, roles, accounts and users
	MaxPageLimit      = 1000 // Page.Limit
	MaxScopes         = 128  // entries of Credential.Scopes
	MaxScopeLen       = 64   // bytes, one entry of Credential.Scopes
	MaxAllowedIPs     = 32   // entries of Credential.AllowedIPs
	MaxUserAgentLen   = 256  // bytes, Session.UserAgent
	MaxSecretLen      = 512  // bytes, UserSecrets.PasswordHash and UserSecrets.TOTPSecret
	MaxRecoveryCodes  = 20   // UserSecrets.RecoveryCodes
	MaxTagLen         = 32   // bytes, Session.Method, Session.SecondFactor and EventDelivery.Holder
	MaxIPPolicies     = 32   // entries of IPRestriction.PolicyIDs
)

// Account is a tenant: the unit of billing, of atomicity and of sharding. The plan is data the
// embedder defines (identity resolves Plan to its features); the store keeps its name and the
// seat limit in force.
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Key is an optional key the embedder gives the account (its own tenant ID, a slug),
	// unique across the store when not empty: ensure-style bootstrap finds accounts by it.
	Key   string      `json:"key,omitempty"`
	Plan  string      `json:"plan"`
	Seats int         `json:"seats"` // seat limit; 0 means no limit
	SSO   SSOSettings `json:"sso"`
	// CredentialPolicy bounds the lifetimes of the account's new credentials and the
	// overlap of rotations. Package credential applies it; the store only keeps it.
	CredentialPolicy CredentialPolicy `json:"credential_policy,omitzero"`
	// RequireSecondFactor makes members who sign in with a password confirm the sign-in
	// with a second factor (package sso), enrolling one first if they have none.
	RequireSecondFactor bool      `json:"require_second_factor,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
}

// CredentialPolicy is an account's rules for its credentials' lifetimes. A zero duration
// means the library's default: no maximum lifetime, and package credential's default
// rotation overlap.
type CredentialPolicy struct {
	// The longest lifetime (ExpiresAt minus CreatedAt) of a new credential, per kind.
	AuthtokenMaxLifetime   time.Duration `json:"authtoken_max_lifetime,omitempty"`
	APIKeyMaxLifetime      time.Duration `json:"api_key_max_lifetime,omitempty"`
	SSHKeyMaxLifetime      time.Duration `json:"ssh_key_max_lifetime,omitempty"`
	AccessTokenMaxLifetime time.Duration `json:"access_token_max_lifetime,omitempty"`
	// MaxRotationOverlap is the longest a rotated credential may stay valid beside its
	// successor.
	MaxRotationOverlap time.Duration `json:"max_rotation_overlap,omitempty"`
}

// MaxLifetime returns the policy's maximum lifetime for credentials of kind k (0: none).
func (p CredentialPolicy) MaxLifetime(k CredentialKind) time.Duration {
	switch k {
	case Authtoken:
		return p.AuthtokenMaxLifetime
	case APIKey:
		return p.APIKeyMaxLifetime
	case SSHCredential:
		return p.SSHKeyMaxLifetime
	case AccessToken:
		return p.AccessTokenMaxLifetime
	}
	return 0
}

// SSOSettings is an account's single sign-on configuration.
type SSOSettings struct {
	Provisioning string `json:"provisioning"` // "invite_only" or "jit"; empty means invite_only
	Enforcement  string `json:"enforcement"`  // "off", "mixed" or "enforced"; empty means off
	// Since is when enforcement last left "off". In mixed mode, members who joined before it
	// keep their non-SSO logins.
	Since time.Time `json:"since"`
}

// User is a person. Users are global: one user may be a member of many accounts.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"` // normalised by the caller; unique across the store
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Membership statuses. A disabled member keeps its credentials but cannot use them.
const (
	MemberActive   = "active"
	MemberDisabled = "disabled"
)

// Membership makes a user a member of an account. It is keyed by (AccountID, UserID).
type Membership struct {
	AccountID string    `json:"account_id"`
	UserID    string    `json:"user_id"`
	Roles     []string  `json:"roles"`
	Status    string    `json:"status"` // MemberActive or MemberDisabled
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Invitation is a pending invitation of an email address into an account. It is deleted when
// accepted or revoked; Email is unique per account.
type Invitation struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	Roles     []string  `json:"roles"`
	InvitedBy string    `json:"invited_by"` // principal ID
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	// TokenHash is the hex SHA-256 of the invitation's acceptance token, which only the
	// invitee receives; empty if the invitation has none. It is never a lookup key.
	TokenHash string `json:"token_hash,omitempty"`
}

// BotUser is a service account: it belongs to exactly one account and owns credentials.
// Name is unique per account.
type BotUser struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
}

// CredentialKind is the type of a credential.
type CredentialKind string

// The credential kinds.
const (
	Authtoken     CredentialKind = "authtoken"
	APIKey        CredentialKind = "api_key"
	SSHCredential CredentialKind = "ssh_key"
	// AccessToken is a token for both the agent and the API that acts with its owner's
	// permissions limited to its scopes.
	AccessToken CredentialKind = "access_token"
)

// Valid reports whether k is one of the credential kinds.
func (k CredentialKind) Valid() bool {
	return k == Authtoken || k == APIKey || k == SSHCredential || k == AccessToken
}

// Credential is an authtoken, an API key, an access token or an SSH public key. AccountID,
// OwnerID, Kind and RotatedFrom are fixed when the credential is first written. Token
// credentials keep only SecretHash; SSH credentials keep PublicKey and Fingerprint. Access
// tokens, and only they, have Scopes.
type Credential struct {
	ID          string         `json:"id"`
	AccountID   string         `json:"account_id"`
	Kind        CredentialKind `json:"kind"`
	OwnerID     string         `json:"owner_id"` // a bot user of AccountID or a user with a membership in it
	Description string         `json:"description"`
	Metadata    string         `json:"metadata"`
	ACL         []string       `json:"acl"`
	SecretHash  string         `json:"secret_hash,omitempty"` // tokens: hex SHA-256 or HMAC-SHA-256; unique
	PublicKey   string         `json:"public_key,omitempty"`  // SSH: authorized_keys form
	Fingerprint string         `json:"fingerprint,omitempty"` // SSH: "SHA256:..."; unique
	ExpiresAt   time.Time      `json:"expires_at"`            // zero: never
	CreatedAt   time.Time      `json:"created_at"`
	// Scopes are the permission names an access token is limited to (at most MaxScopes, of
	// MaxScopeLen bytes each); at least one for an access token, none for other kinds.
	Scopes []string `json:"scopes,omitempty"`
	// AllowedIPs is the credential's address allow-list: IPv4 and IPv6 prefixes in
	// canonical form (netip.Prefix.String of a masked prefix, such as "10.0.0.0/8" or
	// "2001:db8::/32"), at most MaxAllowedIPs. Empty: any address.
	AllowedIPs []string `json:"allowed_ips,omitempty"`
	// RotatedFrom is the credential this one succeeded in a rotation (fixed at creation);
	// RotatedTo the one that succeeded it. Empty when none.
	RotatedFrom string `json:"rotated_from,omitempty"`
	RotatedTo   string `json:"rotated_to,omitempty"`
	// LastUsedAt and LastUsedIP are maintained by Store.RecordUse, outside transactions and
	// the change feed: the time of the latest use recorded and the client address it came
	// from (the zero Addr when unknown). Writes through a Tx ignore the values passed in and
	// keep the stored ones.
	LastUsedAt time.Time  `json:"last_used_at"`
	LastUsedIP netip.Addr `json:"last_used_ip,omitzero"`
}

// OwnerState is what a verifier needs to know about a credential's owner.
type OwnerState int

// Owner states.
const (
	OwnerMissing  OwnerState = iota // no bot user or membership with that ID in the account
	OwnerActive                     // an active bot user or active member
	OwnerInactive                   // a deactivated bot user or disabled member
)

// Owner is a credential's owner as a verifier needs it: its state, whether it is a bot user,
// and what audit events name it by.
type Owner struct {
	ID      string
	State   OwnerState
	Bot     bool   // a bot user; otherwise a user (a member)
	Subject string // the bot user's name or the user's email; empty when the owner is missing
}

// Standing is an account and a principal's standing in it (Reader.Standing): the bot user
// with the principal's ID and the membership of the user with that ID, each nil when
// missing. A bot user of another account is returned as it is: the caller checks AccountID.
type Standing struct {
	Account    *Account
	BotUser    *BotUser
	Membership *Membership
}

// String returns "active", "inactive" or "missing".
func (s OwnerState) String() string {
	switch s {
	case OwnerActive:
		return "active"
	case OwnerInactive:
		return "inactive"
	}
	return "missing"
}

// Role is a custom role of an account: a named set of permissions.
type Role struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Name        string    `json:"name"` // unique per account
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"created_at"`
}

// IdentityProvider is a SAML or OpenID Connect identity provider configured for an account.
type IdentityProvider struct {
	ID          string `json:"id"`
	AccountID   string `json:"account_id"`
	Description string `json:"description"`
	// Protocol is "oidc" for an OpenID Connect provider, "saml" or empty (records made
	// before OIDC) for SAML.
	Protocol string `json:"protocol,omitempty"`
	// EntityID is the SAML entity ID, or the OIDC issuer URL: unique per account.
	EntityID          string   `json:"entity_id"`
	MetadataXML       string   `json:"metadata_xml"`
	AllowIDPInitiated bool     `json:"allow_idp_initiated"`
	DefaultRoles      []string `json:"default_roles"`
	EmailAttribute    string   `json:"email_attribute"`
	NameAttribute     string   `json:"name_attribute"`
	GroupsAttribute   string   `json:"groups_attribute"`
	// Domains are the email domains this IdP is trusted to assert: a login may link to an
	// existing user by email only when the email's domain is listed.
	Domains []string `json:"domains"`
	// RoleRules map the groups the IdP asserts (a SAML attribute, a SCIM group's display
	// name, an OIDC claim) to roles, in order; a member in none of their groups gets
	// DefaultRoles. Empty: no mapping, roles are managed in iamkit.
	RoleRules []RoleRule `json:"role_rules,omitempty"`
	// RoleRulesBy is the principal (a user or bot user of the account) who last set
	// RoleRules: the mapping never grants more than it may grant.
	RoleRulesBy string `json:"role_rules_by,omitempty"`
	// ClientID, ClientSecret and Scopes are an OIDC provider's: the client iamkit is at the
	// provider and the scopes it asks for besides "openid". (The attributes above name the
	// ID token's claims for an OIDC provider.)
	ClientID     string    `json:"client_id,omitempty"`
	ClientSecret string    `json:"client_secret,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Limits on groups and role mappings.
const (
	MaxGroupMembers = 10000 // entries of Group.Members
	MaxRoleRules    = 64    // entries of IdentityProvider.RoleRules
)

// RoleRule maps one group to roles.
type RoleRule struct {
	Group string   `json:"group"`
	Roles []string `json:"roles"`
}

// Group is a group of an account's members that an identity provider manages through SCIM.
// Role mappings (IdentityProvider.RoleRules) name it by DisplayName, unique per account.
// Members are user IDs (at most MaxGroupMembers); one that is no member of the account any
// more is ignored by readers.
type Group struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	DisplayName string    `json:"display_name"`
	ExternalID  string    `json:"external_id,omitempty"`
	Members     []string  `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// MaxDomainLen bounds Domain.Name, in bytes: the longest DNS name.
const MaxDomainLen = 253

// Domain is an email domain an account claims, and has proven it controls once VerifiedAt is
// set (package sso checks a DNS TXT record carrying Token). Name is unique per account; a
// verified Name is unique across the store: one domain, one account.
type Domain struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"` // canonical: ASCII lower case, IDNs in punycode
	// Token is what the DNS TXT record must carry. It is published, not secret.
	Token      string    `json:"token"`
	VerifiedAt time.Time `json:"verified_at"` // zero until verified
	// RequireSSO sends the account's members with an email in the domain through SSO: they
	// may not sign in to the account with a password (package sso).
	RequireSSO bool      `json:"require_sso"`
	CreatedAt  time.Time `json:"created_at"`
}

// Verified reports whether the account has proven it controls the domain.
func (d Domain) Verified() bool { return !d.VerifiedAt.IsZero() }

// MaxSubjectLen bounds ExternalIdentity.Subject (a SAML NameID), in bytes.
const MaxSubjectLen = 1024

// ExternalIdentity links a user to the subject (a SAML NameID) an identity provider of an
// account asserts for them: the pair (IdPID, Subject) identifies the user whatever email
// the IdP asserts later. It is keyed by (IdPID, Subject) and lives with the IdP's account.
// Links are pointers: whoever follows one still checks the user and the membership.
type ExternalIdentity struct {
	AccountID string    `json:"account_id"`
	IdPID     string    `json:"idp_id"`
	Subject   string    `json:"subject"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Tombstone marks an owner removed from an account (a bot user deleted, a member removed)
// whose credentials are not all purged yet. From the commit that writes it, every read treats
// the owner's credentials as gone; purging them (Tx.PurgeCredentials) happens later, in small
// batches, and the tombstone goes with the last one. It is keyed by (AccountID, OwnerID).
type Tombstone struct {
	AccountID string    `json:"account_id"`
	OwnerID   string    `json:"owner_id"`
	By        Principal `json:"by"` // who removed the owner: the purge's events name them
	CreatedAt time.Time `json:"created_at"`
}

// UserSecrets are a user's local sign-in secrets: a password hash and a second factor. Users
// are global, and so are their secrets, keyed by UserID. Users who only sign in through an
// identity provider have none. Nothing here is a secret in the clear: the password is a hash,
// the TOTP secret is sealed with a key the store never sees, and recovery codes are hashes.
type UserSecrets struct {
	UserID string `json:"user_id"`
	// PasswordHash is the password's hash as a PHC string, such as
	// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", or empty for a user without a password.
	PasswordHash  string    `json:"password_hash,omitempty"`
	PasswordSetAt time.Time `json:"password_set_at"`
	// TOTPSecret is the TOTP secret sealed (AES-GCM) with the embedder's key, or empty.
	TOTPSecret string `json:"totp_secret,omitempty"`
	// TOTPConfirmed says whether a code confirmed TOTPSecret: an unconfirmed secret is an
	// enrolment in progress and is not a second factor yet.
	TOTPConfirmed   bool      `json:"totp_confirmed,omitempty"`
	TOTPConfirmedAt time.Time `json:"totp_confirmed_at"`
	// RecoveryCodes are the hex SHA-256 digests of the unused recovery codes: using one
	// removes it.
	RecoveryCodes []string `json:"recovery_codes"`
	// SessionsNotBefore ends every session of the user created before it, in every account
	// (a password reset or change), at once.
	SessionsNotBefore time.Time `json:"sessions_not_before"`
}

// Session is a server-side dashboard session of a user in an account. The session token the
// browser holds names the session by its ID and carries a secret; the store keeps only the
// secret's SHA-256. AccountID, UserID, SecretHash, Method, IdPID and CreatedAt are fixed when
// it is first written; LastSeenAt moves.
type Session struct {
	ID         string `json:"id"`
	AccountID  string `json:"account_id"`
	UserID     string `json:"user_id"` // a user with a membership in AccountID when the session is created
	SecretHash string `json:"secret_hash"`
	// Method is how the user signed in ("password", "sso", or an embedder's own method).
	Method string `json:"method"`
	// IdPID is the identity provider the user signed in through, or empty.
	IdPID string `json:"idp_id,omitempty"`
	// SecondFactor is the second factor that confirmed the sign-in ("totp",
	// "recovery_code"), or empty.
	SecondFactor string `json:"second_factor,omitempty"`
	// UserAgent is the browser's User-Agent (at most MaxUserAgentLen bytes) and IP its
	// address, canonical (netip.Addr.String, no zone), or empty.
	UserAgent  string    `json:"user_agent,omitempty"`
	IP         string    `json:"ip,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the session's absolute end; an idle timeout, if any, counts from
	// LastSeenAt.
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionAuth is a session with what verifying it takes, read together (Reader.SessionAuth):
// its account, and, as nil when there is none, the user's membership in the account, the
// user's secrets and the identity provider the session names.
type SessionAuth struct {
	Session          Session
	Account          Account
	Membership       *Membership
	Secrets          *UserSecrets
	IdentityProvider *IdentityProvider
}

// EventType is the type of an audit event, "<resource>_<verb>.v<version>" such as
// "bot_user_created.v0". Package identity lists the types iamkit writes.
type EventType string

// Event is an audit event. Events are append-only.
type Event struct {
	ID        string          `json:"id"`
	AccountID string          `json:"account_id"`
	Type      EventType       `json:"type"` // e.g. "bot_user_created.v0"
	Principal Principal       `json:"principal"`
	Object    json.RawMessage `json:"object"` // the object after the change, secrets removed
	CreatedAt time.Time       `json:"created_at"`
}

// Principal is who caused an event.
type Principal struct {
	ID           string `json:"id"`
	Subject      string `json:"subject"`       // email of a user, name of a bot user
	Source       string `json:"source"`        // "api", "dashboard" or "sdk"
	CredentialID string `json:"credential_id"` // the credential used, if any
}

// Page selects one page of a newest-first listing: at most Limit records whose key sorts
// before BeforeID (all of them when BeforeID is empty). BeforeID need not exist any more.
// Limit must be between 1 and MaxPageLimit.
type Page struct {
	BeforeID string
	Limit    int
}

// Use records that a credential was used at a time, from an address, for Store.RecordUse.
type Use struct {
	CredentialID string
	At           time.Time
	IP           netip.Addr // the client's address; the zero Addr when unknown
}

// IP rule actions (IPPolicyRule.Action).
const (
	IPAllow = "allow"
	IPDeny  = "deny"
)

// IP restriction types (IPRestriction.Type): what an account-wide restriction applies to.
const (
	RestrictDashboard = "dashboard" // dashboard sign-in and sessions
	RestrictAPI       = "api"       // the API, with any bearer credential
	RestrictAgent     = "agent"     // agents starting tunnel sessions
)

// IPPolicy is a named set of IP policy rules of an account (ngrok's IP policy).
type IPPolicy struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Description string    `json:"description"` // at most MaxDescriptionLen bytes
	Metadata    string    `json:"metadata"`    // at most MaxMetadataLen bytes
	CreatedAt   time.Time `json:"created_at"`
}

// IPPolicyRule is one rule of an IP policy: an IPv4 or IPv6 prefix, in canonical form
// (CanonicalPrefix), that the policy allows or denies. AccountID and PolicyID are fixed when
// it is first written; its policy must exist in its account.
type IPPolicyRule struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	PolicyID    string    `json:"policy_id"`
	CIDR        string    `json:"cidr"`
	Action      string    `json:"action"` // IPAllow or IPDeny
	Description string    `json:"description"`
	Metadata    string    `json:"metadata"`
	CreatedAt   time.Time `json:"created_at"`
}

// IPRestriction applies IP policies of an account to one way in (Type: RestrictDashboard,
// RestrictAPI or RestrictAgent). When Enforced is false it only warns: what it would deny is
// recorded, not refused. AccountID and Type are fixed when it is first written; each policy
// must exist in its account.
type IPRestriction struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Type        string    `json:"type"`
	PolicyIDs   []string  `json:"policy_ids"` // 1 to MaxIPPolicies, no repeats
	Enforced    bool      `json:"enforced"`
	Description string    `json:"description"`
	Metadata    string    `json:"metadata"`
	CreatedAt   time.Time `json:"created_at"`
}
