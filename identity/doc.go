// Package identity holds accounts, plans and seats, users, memberships, invitations and the
// Principal that every action is attributed to.
//
// # Plans
//
// A Plan is data the embedder defines: a name, a seat limit and a list of Features (RBAC,
// custom roles, SSO, credential ACLs, owner assignment, bot users, or the embedder's own).
// Free, PayAsYouGo and Enterprise are example values, not an enum. The plans accounts may be
// on are passed to New in a Catalog.
//
// # Users, members and seats
//
// Users are global and identified by a normalised, unique email (NormalizeEmail); one user
// may be a member of many accounts. A membership is active or disabled: disabling keeps the
// member's credentials but makes them unusable (store.OwnerState reports the owner
// inactive, and rbac denies the member), enabling restores them, and removing the member
// deletes its credentials in that account in the same transaction.
//
// Seats are active members plus pending, unexpired invitations; bot users never count.
// An invitation, direct addition or re-enabling that would exceed the plan's seats fails
// with a *SeatLimitError. An invitation carries preset roles and an expiry, and nobody
// accepts it on another's behalf: either the invited user accepts as itself, authenticated
// (AcceptInvitation; to anyone else the invitation reads as not found), or whoever holds the
// single-use token Invite returned, delivered to the invited address, accepts with it
// (AcceptInvitationToken), which creates the user if the person has none. The token is an
// InvitationToken, redacted wherever it is printed; only its SHA-256 is stored. A refused
// acceptance stores nothing.
//
// # Names
//
// Every name in iamkit (accounts, users, bot users, custom roles) follows one rule,
// CheckName: valid UTF-8 of at most store.MaxNameLen bytes, with no control, format or
// invisible characters (NUL, bidi overrides, zero-width characters, ...), not blank and not
// padded with whitespace. Free text such as a role's description follows CheckDescription.
// Refusals are *ValidationError values naming the field.
//
// # Authorization and the Guard
//
// Directory enforces the rules that do not depend on role definitions: seats, emails,
// expiry, and that an account always keeps an active administrator (ErrLastAdministrator).
// Who may invite, manage members or grant which roles is asked of a Guard, inside the same
// transaction; *rbac.Authorizer is the Guard:
//
//	plans, _ := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
//	authz := rbac.New(st, plans)
//	go authz.Run(ctx)
//	dir := identity.New(st, plans, authz)
//
// # Principals and audit events
//
// A Principal is a user or a bot user acting in one account through one source (api,
// dashboard, sdk) and possibly one credential. Build it with PrincipalFor or
// Directory.Principal after authentication. Every change a Directory makes writes an audit
// event in the same transaction, attributed to the principal; rbac.Authorizer.Events reads
// them, filtered by what the reader may read (events about members and invitations need
// rbac.MembersRead). Users themselves belong to no account, so creating one writes no event:
// joining an account does.
//
// # Errors
//
// Invalid arguments (including an ID with the wrong prefix, rejected before any lookup)
// return a *ValidationError naming the field and the limit; it matches ErrInvalid, which
// every domain package of iamkit shares. Missing records match ErrNotFound (which is
// store.ErrNotFound). Denials by the Guard are its own errors (rbac.ErrDenied).
package identity
