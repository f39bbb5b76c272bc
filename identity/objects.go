package identity

import (
	"slices"

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
// (sso.SettingsObject).
type AccountObject struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Plan string `json:"plan"`
	// RequireSecondFactor: members who sign in with a password must confirm with a second
	// factor (package sso). Omitted when false, so that the account reads as before for
	// accounts that never set it.
	RequireSecondFactor bool   `json:"require_second_factor,omitempty"`
	CreatedAt           string `json:"created_at"`
}

// Resource returns ResourceAccount.
func (AccountObject) Resource() Resource { return ResourceAccount }

// AccountObjectOf returns the object of an account.
func AccountObjectOf(a store.Account) AccountObject {
	return AccountObject{ID: a.ID, Name: a.Name, Plan: a.Plan, RequireSecondFactor: a.RequireSecondFactor, CreatedAt: Timestamp(a.CreatedAt)}
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
