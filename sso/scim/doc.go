// Package scim is a SCIM 2.0 service provider (RFC 7643, RFC 7644) through which an
// identity provider such as Okta or Microsoft Entra ID provisions and deprovisions the
// members of an account.
//
// Handler serves, below its prefix ("/scim/v2" unless WithPrefix says otherwise), /Users
// (POST, GET by id, GET with filter, startIndex and count, PUT, PATCH, DELETE), /Groups,
// /ServiceProviderConfig, /Schemas and /ResourceTypes, with the content type
// application/scim+json and SCIM's error body. The protocol (routing, schema validation of
// requests, filters, PATCH paths, list responses, discovery) is github.com/elimity-com/scim;
// this package maps its resources onto identity.Directory, so every change goes through the
// same rules, permission checks and audit events as the rest of the library.
//
// # Who may call it
//
// Each request authenticates with the Authenticate function New is given; the facade's
// (iamkit.IAM.SCIM) accepts access tokens only. The principal must be a service (bot) user
// holding PermissionName ("scim:write", registered with PermissionSpec; team managers and
// administrators hold it) within its token's scopes, and each change needs what it needs
// anywhere else: members:read to read, members:manage to create, change and remove members,
// and, since nobody grants what they do not hold, the permissions of the roles it grants (the
// directory's default member roles). Give the SCIM service user the team manager and
// developer roles and a token scoped to scim:write and what those roles grant.
//
// # Users
//
// A SCIM User is a member of the principal's account: id is the user's ID, userName and the
// single work email are the user's email, active is the membership's status, displayName the
// user's name. Users are global (one person may be a member of several accounts), so:
//
//   - creating needs an email whose domain an identity provider of the account is trusted
//     for (store.IdentityProvider.Domains), as just-in-time SSO does, whether or not the
//     user exists (CodeUntrustedDomain, 403 otherwise); an existing user becomes a member,
//     a new one is created first; a member already is 409 (uniqueness);
//   - userName never changes through SCIM (400, mutability), and displayName is taken only
//     when the user is created; other attributes (name, externalId, the enterprise
//     extension) are accepted and not kept.
//
// Setting active to false (PUT, or PATCH in Okta's {"op":"replace","value":{"active":false}}
// or Entra's {"op":"Replace","path":"active","value":"False"} shape: the strings "True" and
// "False" are read as booleans) disables the member: its dashboard sessions end and its
// credentials are suspended in that commit (identity.Directory.DisableMember); true enables
// it again. DELETE removes the member: sessions end and credentials are revoked in that
// commit (identity.Directory.RemoveMember). A Verifier refuses the credentials as soon as it
// follows the commit, well within a second. Every change records its audit event with the
// SCIM principal, its credential ID included.
//
// A filter `userName eq "<email>"` is one lookup; any other filter the library accepts is
// evaluated over the account's members, at most WithMaxMembers of them (tooMany beyond).
//
// # Groups and roles
//
// /Groups (POST, GET by id, GET with filter such as `displayName eq "Ops"`, PUT, PATCH,
// DELETE) keeps store.Group records: a display name unique in the account, an external ID,
// and members, which must be members of the account (400 otherwise). PATCH takes Okta's
// shapes (add to "members", remove by `members[value eq "<id>"]`, replace with a value
// object) and Entra's ("Add"/"Remove" with a list of {"value": <id>}, "Replace" of
// displayName). Each change records group_created, group_updated or group_deleted.
//
// Groups drive roles through the role rules of an identity provider (sso.SetRoleRules): a
// member's roles are what the rules of the oldest identity provider trusted for its email's
// domain that has rules give the display names of its groups (the rules' default roles when
// none matches). Every change to a group recalculates the roles of the members it adds or
// removes (all of them, when it is renamed or deleted), and a member SCIM creates starts with
// the roles of the groups it is already in. Before anything is written, the new roles are
// checked against both the SCIM principal and the rules' author as they are now: a change
// either may not grant is refused (403, code sso.CodeRoleRulesExceedAuthor for the author)
// and writes nothing. Role changes are member_updated events by the SCIM credential.
//
// # Errors and concurrency
//
// Library errors become SCIM errors: store.ErrNotFound 404, store.ErrConflict 409
// (uniqueness), store.ErrInvalid 400 (invalidValue), store.ErrUnauthenticated 401,
// store.ErrDenied, store.ErrFeatureUnavailable and store.ErrLimitExceeded (a seat limit) 403,
// anything else 500 without detail (logged with WithLogger). GroupObject is a group as its
// events record it. Codes of this package:
// CodeNotServiceUser and CodeUntrustedDomain (store.ErrDenied). A Handler holds no mutable
// state and is safe for concurrent use.
package scim
