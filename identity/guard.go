package identity

import (
	"context"
	"slices"

	"github.com/iamkit/iamkit/store"
)

// RoleAdministrator is the role that makes a member an administrator: every permission,
// account settings and SSO included. Every account keeps at least one active member holding
// it (Directory enforces this); package rbac defines what the other roles grant.
const RoleAdministrator = "admin"

// IsAdministrator reports whether roles include RoleAdministrator.
func IsAdministrator(roles []string) bool { return slices.Contains(roles, RoleAdministrator) }

// Op names a change to an account's members, invitations or plan, or a read of them, for a
// Guard.
type Op uint8

// The changes and reads a Guard is asked to permit.
const (
	OpChangePlan Op = iota + 1
	OpInvite
	OpRevokeInvitation
	OpAddMember
	OpSetRoles
	OpDisableMember
	OpEnableMember
	OpRemoveMember
	// OpReadAccount reads the account, its plan and seat usage (rbac: account:read).
	OpReadAccount
	// OpReadMembers reads members, their users and invitations (rbac: members:read).
	OpReadMembers
)

var opNames = [...]string{"invalid", "change_plan", "invite", "revoke_invitation", "add_member", "set_roles", "disable_member", "enable_member", "remove_member", "read_account", "read_members"}

// String returns the operation's name, such as "invite".
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "invalid"
}

// Change is a change a principal asks for, as a Guard sees it.
type Change struct {
	Op      Op
	By      Principal
	Account store.Account
	// Member is the target membership as it is before the change (OpSetRoles,
	// OpDisableMember, OpEnableMember, OpRemoveMember).
	Member *store.Membership
	// Roles are the roles being granted (OpInvite, OpAddMember, OpSetRoles), as
	// Guard.MemberRoles returned them.
	Roles []string
}

// Guard is the policy Directory consults inside the transaction of every change it makes and
// every read it serves on behalf of a principal. *rbac.Authorizer implements it: who may
// read, invite, manage members, grant which roles, change the plan. Directory itself keeps
// the rules that do not depend on role definitions: seats, the last administrator, email
// matching, expiry. Implementations must be safe for concurrent use and must only read
// through r.
type Guard interface {
	// Catalog returns the plans accounts may be on: the one catalog every package uses.
	Catalog() *Catalog
	// MemberRoles checks role names requested for a member or invitation of account and
	// returns the roles to store: deduplicated, sorted, and defaulted when roles is nil
	// (omitted). A non-nil empty list is an error matching store.ErrInvalid on "roles": it
	// never stands for the defaults.
	MemberRoles(ctx context.Context, r store.Reader, account store.Account, roles []string) ([]string, error)
	// Permit returns nil if c.By may make change c (or the read it names), and otherwise an
	// error saying why (matching store.ErrDenied for a denial).
	Permit(ctx context.Context, r store.Reader, c Change) error
}
