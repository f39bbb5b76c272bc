// Package rbac holds permissions, the built-in and custom roles, and the Authorizer that
// decides whether a principal may act on an account.
//
// # Permissions and roles
//
// A Permission is "resource:action" (credentials:write, members:invite, sso:manage, ...);
// a Set of them is a fixed array of two 64-bit words. The built-in roles follow ngrok's:
// Administrator (every permission, the only role with account settings, SSO, custom-role
// management and credential owner assignment: AdminOnly), Developer read/write or
// read-only, Team manager, invite-only or read-only, and Billing. A member holds any set of
// roles and gets the union of their permissions. Accounts whose plan includes
// identity.FeatureCustomRoles may define their own roles (CreateRole); members reference
// them by ID.
//
// # Embedder-defined permissions
//
// The 18 built-in permissions cover iamkit's own resources, and the agent: tunnel:start
// (TunnelStart, ngrok's scope name), which Developer and Developer read-only grant, is what an
// access token needs to start agent sessions. An embedder registers its own,
// for resources iamkit does not know (endpoints, domains, ...), in a Permissions registry
// passed to New:
//
//	perms, err := rbac.NewPermissions(
//		rbac.PermissionSpec{Name: "endpoints:read", Roles: []string{rbac.RoleDeveloper, rbac.RoleDeveloperReadOnly}},
//		rbac.PermissionSpec{Name: "endpoints:write", Roles: []string{rbac.RoleDeveloper}},
//	)
//	authz, err := rbac.New(st, plans, rbac.WithPermissions(perms))
//	write, err := authz.Permission("endpoints:write") // look it up once, Check it often
//
// A registered permission is granted by the built-in roles its spec lists and always by
// Administrator; custom roles may include it; its Feature, if set, gates it on the plan.
// Registered permissions compile to the same bit sets as the built-ins, so Check stays a bit
// test without allocation. A registry holds at most MaxPermissions (128) in all. Names and
// parsing go through the registry: Permissions.Name and Permissions.Lookup (or
// Authorizer.Permission).
//
// Plans without identity.FeatureRBAC behave as ngrok's plans without RBAC: every active
// member acts as an administrator (members are stored with the Administrator role, and
// asking for another role fails with store.ErrFeatureUnavailable), and bot users act as
// developers. Permissions tied to a plan feature (SSO, bot users, owner assignment, custom
// roles, or a registered permission's Feature) are denied with ReasonNotInPlan when the
// plan lacks it.
//
// Bot users (ngrok's service users) act as Developer read/write unless given roles, which
// needs RBAC. Their roles are limited as ngrok limits a service user's (ServiceUserRoles):
// Developer, Developer read-only and Team manager, or custom roles that grant nothing beyond
// those three; whatever a custom role grants later, a bot user never holds more
// (Permissions.ServiceUserGrants). They are never administrators.
//
// # Scoped principals
//
// A principal acting with an access token carries the token's scopes, compiled into an
// identity.Scope (the bits of a Set). Every decision (Check, CheckIn, Require, the Guard's,
// the audit log's) ANDs it with the principal's grants: a permission its roles grant but its
// scope leaves out is denied with ReasonOutOfScope, and a scope never adds to the roles, so a
// demoted owner's tokens shrink with it. What a scoped principal may grant is limited by its
// scope too, and it is an administrator only if its scope covers everything it holds. A
// principal whose CredentialID is an access token's but that carries no scope is denied
// everything. The warm Check pays one more bit test, still without allocation.
//
// # Checking
//
// Check returns a Decision: allowed or not, and why (the granting role, or a Reason). A
// deny is not an error. Require turns a deny into an error for middleware. The account is
// always the principal's (Principal.AccountID).
//
//	authz, err := rbac.New(st, plans)
//	go authz.Run(ctx) // follow the change feed: enables the cache
//	if err := authz.Require(ctx, principal, rbac.BotUsersWrite); err != nil {
//		// errors.Is(err, store.ErrDenied); store.CodeOf(err) is the Reason's code
//	}
//
// Grants compile to bit sets cached per (account, principal): a warm Check is a map lookup
// and a bit test, without allocation or store access. The cache is invalidated from the
// store's change feed (memberships, bot users, roles and accounts that a commit touches;
// everything on a gap), and switched off whenever the feed has not been confirmed in sync
// within WithMaxStaleness. Sync gives read-your-writes. CheckIn and RequireIn read
// through a transaction instead, for authorizing a change consistently with it. RequireRead,
// for reads inside a View, answers from the cache while it is live and through the View
// otherwise: a read so authorized costs no store access for the permission check.
//
// # Reading the audit log
//
// Events is the only way the library reads an account's audit log, and it never reveals
// more than the reader may read directly: it needs EventsRead, and each event is visible
// only to a reader holding the permission that reads its resource (EventPermission:
// members:read for member and invitation events, roles:read, sso:read, bot_users:read,
// credentials:read, account:read; an event type this version does not know, administrators
// only). The principal's subject is blanked, its ID kept, for a reader who may not read
// members (a user's email) or bot users (a bot user's name). A call reads a bounded stretch
// of the log, so a page may be short, even empty, and still be followed: page on with
// EventPage.Next.
//
// # Audit retention
//
// A Pruner keeps each account's log within a Retention (DefaultRetention: 90 days and
// 100,000 events), deleting the oldest events in the background, 250 a transaction: every
// account when it starts and hourly (WithPruneInterval), and an account as soon as the feed
// has shown it 1% of its bound in new events. Pruning writes only event deletions, which
// the Authorizer's and the Verifier's caches ignore. The iamkit facade runs one
// (iamkit.WithAuditRetention).
//
// # Granting rules
//
// As the identity.Guard, the Authorizer enforces: nobody invites or grants roles with
// permissions they do not hold themselves; only administrators invite, grant or change
// administrators; reading members and invitations needs members:read, reading the account
// account:read. identity enforces that the last active administrator cannot be removed,
// disabled or demoted. Role and Roles need roles:read, like every read of iamkit's services.
//
// # Errors
//
// Every error is a *store.Error (or wraps one). A denial (Require, RequireIn, and every
// call that acts or reads for a principal) matches store.ErrDenied, names the permission
// denied in Field, and has its Reason's code: CodeNoRole, CodeNotInPlan, CodeNotMember,
// CodeInactive, CodeOtherAccount, CodeNoAccount, CodeExceedsGrantor, CodeAdminOnly or
// CodeOutOfScope. A
// permission name the registry does not hold is store.ErrInvalid with CodeUnknownPermission;
// other invalid arguments are store.ErrInvalid with the store's codes, naming the field.
package rbac
