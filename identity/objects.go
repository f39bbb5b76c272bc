package identity

import (
	"slices"
	"time"

	"github.com/iamkit/iamkit/store"
)

// Object is a resource's public representation: what audit events record as their object
// and what an API serves (adding its own "uri"). Each package defines those of the resources
// it owns (AccountObject, MemberObject and InvitationObject here, rbac.RoleObject,
// botuser.BotUserObject, credential's and sso's), with the JSON names of iamkit's API.
// Internal fields never appear: no account_id (an event has it), no secret or its hash, no
// raw IdP metadata. Every object reports its Resource.
type Object interface {
	Resource() Resource
}

// AccountObject is an account. Its SSO settings are a resource of their own
// (sso.SettingsObject); its credential policy is shown here, when it sets anything.
type AccountObject struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Plan string `json:"plan"`
	// RequireSecondFactor: members who sign in with a password must confirm with a second
	// factor (package sso). Omitted when false, so that the account reads as before for
	// accounts that never set it.
	RequireSecondFactor bool                   `json:"require_second_factor,omitempty"`
	CredentialPolicy    CredentialPolicyObject `json:"credential_policy,omitzero"`
	CreatedAt           string                 `json:"created_at"`
}

// Resource returns ResourceAccount.
func (AccountObject) Resource() Resource { return ResourceAccount }

// AccountObjectOf returns the object of an account.
func AccountObjectOf(a store.Account) AccountObject {
	return AccountObject{
		ID: a.ID, Name: a.Name, Plan: a.Plan, RequireSecondFactor: a.RequireSecondFactor,
		CredentialPolicy: CredentialPolicyObjectOf(a.CredentialPolicy),
		CreatedAt:        Timestamp(a.CreatedAt),
	}
}

// CredentialPolicyObject is an account's credential policy (store.CredentialPolicy), its
// durations in whole seconds; a duration left to the default is omitted.
type CredentialPolicyObject struct {
	AuthtokenMaxLifetime   int64 `json:"authtoken_max_lifetime,omitempty"`
	APIKeyMaxLifetime      int64 `json:"api_key_max_lifetime,omitempty"`
	SSHKeyMaxLifetime      int64 `json:"ssh_key_max_lifetime,omitempty"`
	AccessTokenMaxLifetime int64 `json:"access_token_max_lifetime,omitempty"`
	MaxRotationOverlap     int64 `json:"max_rotation_overlap,omitempty"`
}

// CredentialPolicyObjectOf returns the object of a credential policy.
func CredentialPolicyObjectOf(p store.CredentialPolicy) CredentialPolicyObject {
	sec := func(d time.Duration) int64 { return int64(d / time.Second) }
	return CredentialPolicyObject{
		AuthtokenMaxLifetime: sec(p.AuthtokenMaxLifetime), APIKeyMaxLifetime: sec(p.APIKeyMaxLifetime),
		SSHKeyMaxLifetime: sec(p.SSHKeyMaxLifetime), AccessTokenMaxLifetime: sec(p.AccessTokenMaxLifetime),
		MaxRotationOverlap: sec(p.MaxRotationOverlap),
	}
}

// MemberObject is a member: a membership with its user's email and name. ID is the user's.
type MemberObject struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Name      string   `json:"name,omitempty"`
	Roles     []string `json:"roles"`
	Status    string   `json:"status"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

// Resource returns ResourceMember.
func (MemberObject) Resource() Resource { return ResourceMember }

// MemberObjectOf returns the object of membership m of user u.
func MemberObjectOf(m store.Membership, u store.User) MemberObject {
	return MemberObject{
		ID: m.UserID, Email: u.Email, Name: u.Name, Roles: list(m.Roles), Status: m.Status,
		CreatedAt: Timestamp(m.CreatedAt), UpdatedAt: Timestamp(m.UpdatedAt),
	}
}

// InvitationObject is an invitation, without its token.
type InvitationObject struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
	InvitedBy string   `json:"invited_by"`
	ExpiresAt string   `json:"expires_at"`
	CreatedAt string   `json:"created_at"`
}

// Resource returns ResourceInvitation.
func (InvitationObject) Resource() Resource { return ResourceInvitation }

// InvitationObjectOf returns the object of an invitation.
func InvitationObjectOf(inv store.Invitation) InvitationObject {
	return InvitationObject{
		ID: inv.ID, Email: inv.Email, Roles: list(inv.Roles), InvitedBy: inv.InvitedBy,
		ExpiresAt: Timestamp(inv.ExpiresAt), CreatedAt: Timestamp(inv.CreatedAt),
	}
}

// list returns a copy of s that marshals as [] rather than null when empty.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
