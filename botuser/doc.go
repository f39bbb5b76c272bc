// Package botuser manages bot users (service accounts; ngrok's newer name is service users,
// and a service user is the same record): principals that own credentials independently of
// any person, belong to one account, and never log into the dashboard.
//
// A bot user differs from a user in four ways, which this package and the store keep:
//   - it belongs to exactly one account, fixed at creation (there is no way to move it);
//   - it never takes a seat;
//   - it can never obtain a dashboard session: CanLogIn refuses it, and every login path
//     (password, SSO, IdP-initiated) calls CanLogIn before issuing one;
//   - it acts as a read/write Developer unless given roles (on plans with RBAC), which are
//     limited as ngrok limits a service user's: developer, developer_read_only and
//     team_manager (rbac.ServiceUserRoles), or custom roles granting nothing beyond them; it
//     can never be an administrator. Its credentials act with its roles (an access token's
//     within its scopes too).
//
// Deactivating a bot user (Active false) suspends every credential it owns in one write:
// the credentials are untouched, and the verifier sees their owner inactive through
// store.OwnerState. Reactivating restores them. Deleting a bot user revokes all of its
// credentials in the same small commit, irreversibly: the store writes a store.Tombstone
// that makes them gone for every read, and credential's Purger deletes them later, in
// batches, recording their events.
//
// Every call acts for a principal in its account (identity.Principal.AccountID), with one
// shape: Create(ctx, by, params), Get/Update/Delete(ctx, by, id), List(ctx, by, page).
// Only principals holding rbac.BotUsersWrite (administrators, by default) may create,
// update or delete bot users; reads need rbac.BotUsersRead. Both need a plan with
// identity.FeatureBotUsers.
//
// BotUserObject is a bot user's public representation, what its audit events record.
//
// # Errors
//
// Every error is a *store.Error (or wraps one). This package's codes are CodeNameTaken (a
// name used in the account, store.ErrConflict, Field "name") and CodeNoDashboard (a bot user
// at a login, store.ErrDenied); invalid arguments are store.ErrInvalid with the store's
// codes, naming the field; denials are rbac's.
package botuser
