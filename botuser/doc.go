// Package botuser manages bot users (service accounts): principals that own credentials
// independently of any person, belong to one account, and never log into the dashboard.
//
// A bot user differs from a user in four ways, which this package and the store keep:
//   - it belongs to exactly one account, fixed at creation (there is no way to move it);
//   - it never takes a seat;
//   - it can never obtain a dashboard session: CanLogIn refuses it, and every login path
//     (password, SSO, IdP-initiated) calls CanLogIn before issuing one;
//   - it acts as a read/write Developer unless given roles (a feature ngrok lacks, on plans
//     with RBAC); it can never be an administrator.
//
// Deactivating a bot user (Active false) suspends every credential it owns in one write:
// the credentials are untouched, and the verifier sees their owner inactive through
// store.OwnerState. Reactivating restores them. Deleting a bot user revokes and deletes all
// of its credentials in the same transaction, irreversibly.
//
// Only principals holding rbac.BotUsersWrite (administrators, by default) may create,
// update or delete bot users. Reads do not authorize: guard them with rbac.BotUsersRead.
package botuser
