// Package store is iamkit's persistence contract: the records, the transactional Store
// interface that adapters implement, the sentinel errors they return, and the change feed
// that keeps caches (such as the credential verifier's) coherent.
//
// The package knows the shape of the data and the few invariants no caller may break; it
// knows nothing of the domain rules above it (plans, roles, seats, who may do what). Those
// live in identity, rbac, botuser, credential and sso, which all write through this contract.
//
// # Transactions
//
// All reads happen inside View and all writes inside Update. Update commits every write and
// audit event made by its function atomically, or none of them. Adapters may run the function
// more than once when a concurrent transaction conflicts with it (optimistic concurrency), so
// the function must have no side effects outside its Tx. A Reader or Tx must not be used after
// its function returns.
//
// # Invariants the store enforces
//
//   - Unique keys are unique: a user's email (globally), a bot user's name (per account), a
//     role's name (per account), an invitation's email (per account), an identity provider's
//     entity ID (per account), a credential's secret hash and an SSH key's fingerprint
//     (globally). A write that would break one fails with an error matching ErrConflict.
//   - A credential's account, owner, kind, secret and predecessor (RotatedFrom) are fixed when
//     it is first written; a later write that changes them fails with ErrInvalid, code
//     CodeImmutable. Its owner must be, when it is first written, a bot user of the same
//     account or a user with a membership in it.
//   - Deleting a bot user, or a membership, is one small write whatever the owner holds: it
//     writes a Tombstone, and from that commit on every read treats the owner's credentials
//     in the account as gone. Tx.PurgeCredentials deletes them later, in batches (the
//     credential package's Purger runs it).
//   - Audit events are append-only: an event is never replaced, only deleted, oldest first,
//     by Tx.PruneEvents (the rbac package's Pruner runs it).
//   - A dashboard session's account, user, secret hash, method, identity provider and creation
//     time are fixed when it is first written, and its user must then be a member of its
//     account. A user's sign-in secrets (UserSecrets) are global, like the user.
//
// # Sharding
//
// The account is the unit of atomicity and of sharding. An Update should touch one account's
// records (plus global unique keys); adapters that shard, such as a Redis Cluster one, may
// refuse transactions that span accounts, or that write a user (a global record) together
// with an account's records. Every iamkit ID ends with the 4-character shard tag
// of its account (see ShardTag), so an adapter can route a record by its ID alone.
//
// # Change feed
//
// Every committed Update that wrote anything is a Commit with a revision that orders it among
// the commits of its shard. Changes returns the commits after a Cursor, and says so with
// Batch.Gap when the subscriber has fallen behind what the store retains, so that a cache can
// flush instead of serving stale data. Last uses (RecordUse: time and address) are
// deliberately outside the feed.
//
// # Limits on rates
//
// Limiter counts events under keys against a Rate (sign-in attempts, say). NewMemoryLimiter
// is an in-process one, bounded in keys; an adapter may offer one shared by every process on
// its storage (LimiterBackend, found with LimiterOf). A BatchLimiter (MemoryLimiter, the
// Redis adapter's) also takes several events at once and takes back unused ones (Take), for
// callers that hand events out of a lease. An error about a rate carries the wait in
// Error.RetryAfter.
//
// # Copies
//
// Records are plain values. Adapters copy them on the way in and on the way out, so a caller
// may keep or modify what it got without affecting the store, and the reverse.
package store
