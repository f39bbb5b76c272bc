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
// makes its credentials in that account gone at once (a store.Tombstone), to be purged in
// batches by credential's purger. Disabling or removing a member also ends its dashboard
// sessions (store.Session, package sso) in that account, in the same transaction.
//
// Seats are active members plus pending, unexpired invitations; bot users never count. An
// invitation, direct addition or re-enabling that would exceed the plan's seats fails with
// store.ErrLimitExceeded, code CodeSeatLimit. An invitation carries preset roles and an
// expiry, and nobody accepts it on another's behalf: either the invited user accepts as
// itself, authenticated (AcceptInvitation; to anyone else the invitation reads as not found),
// or whoever holds the single-use token Invite returned, delivered to the invited address,
// accepts with it (AcceptInvitationToken), which creates the user if the person has none. The
// token is an InvitationToken, redacted wherever it is printed; only its SHA-256 is stored. A
// refused acceptance stores nothing.
//
// # Names
//
// Every name in iamkit (accounts, users, bot users, custom roles) follows one rule,
// CheckName: valid UTF-8 of at most store.MaxNameLen bytes, with no control, format or
// invisible characters (NUL, bidi overrides, zero-width characters, ...), not blank and not
// padded with whitespace. Free text such as a role's description follows CheckDescription.
// Refusals match store.ErrInvalid and name the field.
//
// # Authorization and the Guard
//
// Directory enforces the rules that do not depend on role definitions: seats, emails,
// expiry, and that an account always keeps an active administrator (CodeLastAdministrator).
// Who may read, invite, manage members or grant which roles is asked of a Guard, inside the
// same transaction as the read or the change; *rbac.Authorizer is the Guard, and holds the
// plan catalog (Guard.Catalog), which is passed once, to rbac.New:
//
//	plans, _ := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
//	authz, _ := rbac.New(st, plans)
//	go authz.Run(ctx)
//	dir, _ := identity.New(st, authz)
//
// Every call that acts or reads for someone has one shape, Op(ctx, by, [id], [params]): by
// is the acting Principal and the account is always by.AccountID. Reads are authorized like
// writes: Account, Plan and Seats need OpReadAccount (rbac: account:read); Member, Members,
// User, Invitation and Invitations need OpReadMembers (rbac: members:read). The self-read
// rule: a member may always read its own membership (Member) and its own user (User),
// whatever its roles, even while disabled.
//
// A few calls have no actor yet, and check no permission: CreateUser (sign-up),
// CreateAccount (bootstrap: the founder becomes the first administrator), UserByEmail,
// Memberships and Principal (sign-in: who is this, and which accounts may they enter?), and
// AcceptInvitationToken (the token is the authority). Serve them only where that is right.
//
// # Principals and audit events
//
// A Principal is a user or a bot user acting in one account through one source (api,
// dashboard, sdk) and possibly one credential. Build it with PrincipalFor or
// Directory.Principal after authentication (credential.Result.Principal after a
// verification, which alone can build the principal of an access token: it carries the
// token's Scope, which rbac ANDs with the principal's grants). Every change a Directory makes writes an audit event in the same
// transaction, attributed to the principal; rbac.Authorizer.Events reads them, filtered by
// what the reader may read (events about members and invitations need rbac.MembersRead).
// Users themselves belong to no account, so creating one writes no event: joining an account
// does.
//
// The event types iamkit writes are this package's Event* constants (EventTypes lists them;
// ResourceOf names the Resource each is about). An event's object is the public
// representation of its resource, defined by the package that owns it: AccountObject,
// MemberObject and InvitationObject here, rbac.RoleObject, botuser.BotUserObject,
// credential.TokenCredentialObject (authtokens, API keys and access tokens) and
// credential.SSHCredentialObject, sso.IdentityProviderObject, sso.SettingsObject,
// sso.SignInObject, sso.SessionObject, sso.PasswordObject and sso.TOTPObject. An API built on
// iamkit serves the same representations. Events about a user's password or second factor,
// which belong to no account, are recorded in the account the user acted in.
//
// # Errors
//
// Every error is a *store.Error (or wraps one): it matches one of the store's sentinels with
// errors.Is and carries a stable code (store.CodeOf). Invalid arguments (including an ID
// with the wrong prefix, rejected before any lookup) match store.ErrInvalid and name the
// field and the limit. Missing records match store.ErrNotFound; denials by the Guard
// store.ErrDenied. This package's own codes are:
//
//   - CodeSeatLimit (store.ErrLimitExceeded): over the plan's seats; Limit is the seat limit.
//   - CodeFeatureUnavailable (store.ErrFeatureUnavailable): the plan lacks the Feature named
//     in Field.
//   - CodeUnknownPlan (store.ErrInvalid): a plan name the catalog does not hold, asked for or
//     stored on an account.
//   - CodeAlreadyMember, CodeAlreadyInvited, CodeInvitationExpired and
//     CodeLastAdministrator (store.ErrConflict).
//
// and the store's CodeRequired, CodeTooLong, CodeOutOfRange, CodeInvalidValue (invalid
// arguments) and CodeAlreadyExists (a taken email).
package identity
