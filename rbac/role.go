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
	Permissions Set
}

var builtins = []BuiltinRole{
	{RoleAdministrator, "Full control of the account, including SSO and account settings.", All},
	{RoleDeveloper, "Create, modify and delete credentials and developer resources.", SetOf(
		AccountRead, BotUsersRead, CredentialsRead, CredentialsWrite, EventsRead, ResourcesRead, ResourcesWrite)},
	{RoleDeveloperReadOnly, "See credentials and developer resources.", SetOf(
		AccountRead, BotUsersRead, CredentialsRead, EventsRead, ResourcesRead)},
	{RoleTeamManager, "Invite and remove members and change their roles, except administrators'.", SetOf(
		AccountRead, MembersRead, MembersInvite, MembersManage, RolesRead)},
	{RoleTeamInvite, "See members and invite new ones.", SetOf(
		AccountRead, MembersRead, MembersInvite, RolesRead)},
	{RoleTeamReadOnly, "See members.", SetOf(AccountRead, MembersRead, RolesRead)},
	{RoleBilling, "See and change the plan and billing details.", SetOf(AccountRead, BillingRead, BillingManage)},
}

// BuiltinRoles returns the built-in roles.
func BuiltinRoles() []BuiltinRole { return append([]BuiltinRole(nil), builtins...) }

// builtin returns the permissions of a built-in role.
func builtin(name string) (Set, bool) {
	for _, b := range builtins {
		if b.Name == name {
			return b.Permissions, true
		}
	}
	return 0, false
}

// DefaultMemberRoles are the roles of an invitation or member created with none, on plans
// with RBAC: Developer read/write and Team invite-only, what ngrok gives members provisioned
// by SSO or SCIM.
var defaultMemberRoles = []string{RoleDeveloper, RoleTeamInvite}

// DefaultMemberRoles returns the roles given to members invited or added without roles, on
// plans with RBAC.
func DefaultMemberRoles() []string { return append([]string(nil), defaultMemberRoles...) }

// DefaultBotRoles are the roles a bot user without roles acts with: Developer read/write,
// as ngrok's service users do.
func DefaultBotRoles() []string { return []string{RoleDeveloper} }

// MaxRoles is the most roles a member, invitation or bot user may hold.
const MaxRoles = 16
