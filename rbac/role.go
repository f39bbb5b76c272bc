package rbac

import "github.com/iamkit/iamkit/identity"

// Names of the built-in roles, modelled on ngrok's. ngrok gives every user one Developer,
// one Team and optionally the Billing role, or the Administrator flag; here a member holds
// any set of roles and gets the union of their permissions.
const (
	RoleAdministrator     = identity.RoleAdministrator // every permission, SSO and account settings included
	RoleDeveloper         = "developer"                // Developer read/write
	RoleDeveloperReadOnly = "developer_read_only"      // Developer read-only
	RoleTeamManager       = "team_manager"             // Team manager: invite, remove, change roles (not of administrators)
	RoleTeamInvite        = "team_invite"              // Team invite-only: see members and invite
	RoleTeamReadOnly      = "team_read_only"           // Team read-only: see members
	RoleBilling           = "billing"                  // Billing access
)

// BuiltinRole is a role every account has.
type BuiltinRole struct {
	Name        string
	Description string
	// Permissions are the built-in permissions the role grants. Registered permissions a
	// role grants besides are in Permissions.RoleGrants (Administrator grants all of them).
	Permissions Set
}

type builtinRole struct {
	name, description string
	perms             Set
}

// builtins are the built-in roles with their built-in permissions; Administrator's set is
// completed by the registry.
var builtins = [...]builtinRole{
	{RoleAdministrator, "Full control of the account, including SSO and account settings.", allBuiltins()},
	{RoleDeveloper, "Create, modify and delete credentials and developer resources.", SetOf(
		AccountRead, BotUsersRead, CredentialsRead, CredentialsWrite, EventsRead, TunnelStart)},
	{RoleDeveloperReadOnly, "See credentials and developer resources; start agents.", SetOf(
		AccountRead, BotUsersRead, CredentialsRead, EventsRead, TunnelStart)},
	{RoleTeamManager, "Invite and remove members and change their roles, except administrators'.", SetOf(
		AccountRead, MembersRead, MembersInvite, MembersManage, RolesRead)},
	{RoleTeamInvite, "See members and invite new ones.", SetOf(
		AccountRead, MembersRead, MembersInvite, RolesRead)},
	{RoleTeamReadOnly, "See members.", SetOf(AccountRead, MembersRead, RolesRead)},
	{RoleBilling, "See and change the plan and billing details.", SetOf(AccountRead, BillingRead, BillingManage)},
}

func allBuiltins() Set {
	var s Set
	for p := Permission(1); p <= numBuiltins; p++ {
		s = s.With(p)
	}
	return s
}

// BuiltinRoles returns the built-in roles with their built-in permissions.
func BuiltinRoles() []BuiltinRole {
	out := make([]BuiltinRole, len(builtins))
	for i, b := range builtins {
		out[i] = BuiltinRole{Name: b.name, Description: b.description, Permissions: b.perms}
	}
	return out
}

// builtin returns the built-in permissions of a built-in role.
func builtin(name string) (Set, bool) {
	for _, b := range builtins {
		if b.name == name {
			return b.perms, true
		}
	}
	return Set{}, false
}

// DefaultMemberRoles returns the roles given to members invited or added without roles, on
// plans with RBAC: Developer read/write and Team invite-only, what ngrok gives members
// provisioned by SSO or SCIM.
func DefaultMemberRoles() []string { return []string{RoleDeveloper, RoleTeamInvite} }

// DefaultBotRoles returns the roles a bot user without roles acts with: Developer
// read/write, as ngrok's service users do.
func DefaultBotRoles() []string { return []string{RoleDeveloper} }

// ServiceUserRoles returns the built-in roles a service (bot) user may hold, as ngrok's
// service users: Developer read/write, Developer read-only and Team manager. A service user
// may also hold custom roles that grant nothing beyond them (Permissions.ServiceUserGrants);
// whatever its roles, it never holds more.
func ServiceUserRoles() []string {
	return []string{RoleDeveloper, RoleDeveloperReadOnly, RoleTeamManager}
}

// MaxRoles is the most roles a member, invitation or bot user may hold.
const MaxRoles = 16
