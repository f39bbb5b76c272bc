package rbac

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/iamkit/iamkit/identity"
)

// Permission is one action on one kind of resource, written "resource:action". Permissions
// are small integers so that a set of them is one machine word (Set).
type Permission uint8

// The permissions. Their numeric values are not stable across versions: persist String().
const (
	AccountRead            Permission = iota + 1 // see the account, its plan and seat usage
	AccountManage                                // rename the account, change its settings (administrators only)
	BillingRead                                  // see plan, payment method and invoices
	BillingManage                                // change plan and payment details
	MembersRead                                  // see members and invitations
	MembersInvite                                // invite new members, revoke invitations
	MembersManage                                // add, disable, enable and remove members, change their roles
	RolesRead                                    // see custom roles
	RolesManage                                  // create, update and delete custom roles (administrators only)
	BotUsersRead                                 // see bot users
	BotUsersWrite                                // create, update, deactivate and delete bot users
	CredentialsRead                              // see authtokens, API keys and SSH credentials
	CredentialsWrite                             // create, update and delete credentials
	CredentialsAssignOwner                       // create credentials owned by another principal (administrators only)
	SSORead                                      // see identity providers and SSO settings
	SSOManage                                    // configure identity providers and SSO (administrators only)
	EventsRead                                   // read the audit event log
	ResourcesRead                                // see the embedder's developer resources (domains, endpoints, ...)
	ResourcesWrite                               // create, modify and delete the embedder's developer resources

	numPermissions = iota + 1 // one past the last permission
)

var permissionNames = [numPermissions]string{
	"",
	"account:read", "account:manage",
	"billing:read", "billing:manage",
	"members:read", "members:invite", "members:manage",
	"roles:read", "roles:manage",
	"bot_users:read", "bot_users:write",
	"credentials:read", "credentials:write", "credentials:assign_owner",
	"sso:read", "sso:manage",
	"events:read",
	"resources:read", "resources:write",
}

// feature is the plan feature a permission needs, if any: without it the permission is
// denied (ReasonNotInPlan) whatever the principal's roles.
var feature = [numPermissions]identity.Feature{
	RolesManage:            identity.FeatureCustomRoles,
	BotUsersRead:           identity.FeatureBotUsers,
	BotUsersWrite:          identity.FeatureBotUsers,
	CredentialsAssignOwner: identity.FeatureOwnerAssignment,
	SSORead:                identity.FeatureSSO,
	SSOManage:              identity.FeatureSSO,
}

// AdminOnly are the permissions only the Administrator role grants: custom roles cannot
// include them.
const AdminOnly = Set(1<<AccountManage | 1<<RolesManage | 1<<CredentialsAssignOwner | 1<<SSOManage)

// Valid reports whether p is one of the permissions.
func (p Permission) Valid() bool { return p > 0 && p < numPermissions }

// String returns "resource:action".
func (p Permission) String() string {
	if !p.Valid() {
		return fmt.Sprintf("permission(%d)", uint8(p))
	}
	return permissionNames[p]
}

// ParsePermission parses "resource:action". The error is a *identity.ValidationError.
func ParsePermission(s string) (Permission, error) {
	for p := Permission(1); p < numPermissions; p++ {
		if permissionNames[p] == s {
			return p, nil
		}
	}
	return 0, &identity.ValidationError{Field: "permission", Reason: "unknown permission; want resource:action such as credentials:read"}
}

// AllPermissions returns every permission, in order.
func AllPermissions() []Permission {
	ps := make([]Permission, 0, numPermissions-1)
	for p := Permission(1); p < numPermissions; p++ {
		ps = append(ps, p)
	}
	return ps
}

// Set is a set of permissions as a bit set. The zero Set is empty.
type Set uint64

// All is the set of every permission.
const All = Set(1<<numPermissions - 2)

// SetOf returns the set holding ps.
func SetOf(ps ...Permission) Set {
	var s Set
	for _, p := range ps {
		if p.Valid() {
			s |= 1 << p
		}
	}
	return s
}

// Has reports whether p is in s.
func (s Set) Has(p Permission) bool { return s&(1<<p) != 0 }

// Covers reports whether every permission of o is in s.
func (s Set) Covers(o Set) bool { return o&^s == 0 }

// Len returns the number of permissions in s.
func (s Set) Len() int { return bits.OnesCount64(uint64(s)) }

// Permissions returns the permissions in s, in order.
func (s Set) Permissions() []Permission {
	ps := make([]Permission, 0, s.Len())
	for p := Permission(1); p < numPermissions; p++ {
		if s.Has(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// Strings returns the permissions in s as "resource:action" strings, in order.
func (s Set) Strings() []string {
	out := make([]string, 0, s.Len())
	for _, p := range s.Permissions() {
		out = append(out, p.String())
	}
	return out
}

// String returns the permissions in braces, separated by spaces.
func (s Set) String() string { return "{" + strings.Join(s.Strings(), " ") + "}" }

// planMask returns the permissions plan allows.
func planMask(plan identity.Plan) Set {
	m := All
	for p := Permission(1); p < numPermissions; p++ {
		if f := feature[p]; f != "" && !plan.Has(f) {
			m &^= 1 << p
		}
	}
	return m
}
