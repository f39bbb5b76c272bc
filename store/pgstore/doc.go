// Package pgstore is a store.Store on PostgreSQL, through github.com/jackc/pgx/v5 and a pool
// the caller owns (pgxpool), for platform teams whose system of record is PostgreSQL. Any
// number of processes may share one database: they see each other's commits through the
// change feed.
//
// # Usage
//
//	pool, err := pgxpool.New(ctx, "postgres://iamkit@db.internal/platform")
//	if err != nil {
//		return err
//	}
//	defer pool.Close() // the pool stays the caller's
//	st, err := pgstore.New(ctx, pool)
//	if err != nil {
//		return err // store.ErrInvalid with code CodeSchemaTooNew: the database is newer
//	}
//	defer st.Close()
//
// New needs a role that may create a schema and tables in the database the first time, and
// whenever a release brings a migration; afterwards it only reads, writes and LISTENs. A
// transaction or a View holds one connection of the pool and never waits for a second (its
// credentials' last-used times are read on the same connection), so any pool size works;
// the listening connection of the feed is taken out of the pool and does not count against
// its size.
//
// # Tables
//
// Everything lives in the schema "iamkit", beside whatever else the database holds. There is
// one table per record kind, with typed columns, so that a person querying the database
// sees sensible data:
//
//	accounts, users, memberships, invitations, bot_users, credentials, roles,
//	identity_providers, events, external_identities, tombstones, user_secrets, sessions, groups, domains,
//	ip_policies, ip_policy_rules, ip_restrictions
//
// Lists (roles, ACL rules, scopes, allowed IP prefixes, permissions, email domains) are
// text[]; an account's credential policy is one bigint column of nanoseconds per duration;
// audit event objects are json (not jsonb, which would rewrite the bytes the event was
// written with); times are timestamptz, NULL where the record's time is zero (a credential
// that never expires).
// Identifier columns are COLLATE "C", so listings come in byte order of their keys (newest
// first) whatever the database's collation. Besides them: last_used (RecordUse), single_use
// (single-use keys), feed, feed_heads and feed_meta (the change feed), and schema_version.
// store.New applies the contract's rules over this package, which only stores; the
// mapping of each record to its columns is one encode/scan pair per table.
//
// # Constraints
//
// The database itself refuses what the contract forbids, whoever writes to it:
//
//   - primary keys: the record's ID; (account_id, user_id) for memberships, (idp_id,
//     subject) for external identities;
//   - unique keys: users.email, accounts.key (when not empty), credentials.secret_hash and
//     credentials.fingerprint (when not empty; global), and per account bot user and role
//     names, invitation emails and identity provider entity IDs. A write that breaks one
//     fails with store.Conflict naming the index (the SQLSTATE 23505 is mapped through the
//     constraint's name);
//   - foreign keys: every record of an account references accounts (ON DELETE RESTRICT:
//     accounts are never deleted); memberships and external identities reference users
//     (which are never deleted); last_used references credentials ON DELETE CASCADE, so
//     deleting a credential deletes its last-used time. A write that breaks one (a bot
//     user of an account that does not exist) fails with store.ErrInvalid naming the field,
//     e.g. bot_user.account_id;
//   - checks: a membership's status is active or disabled, a credential's kind is
//     authtoken, api_key or ssh_key, seats are not negative, a password hash is a PHC
//     string, a session's secret hash is 64 hex digits, its method and second factor are
//     short tags, its user agent at most 256 bytes and it expires after it began
//     (store.ErrInvalid too). A session's address is an inet, a host address.
//
// Text columns cannot hold a NUL byte or invalid UTF-8: a write of such a string fails with
// store.ErrInvalid naming its field, and a lookup of one finds nothing.
//
// A credential's owner has no foreign key: it is a bot user of the account or a user with a
// membership in it, which no single reference can say; store.New checks it when the
// credential is created, and deleting the owner deletes its credentials in the same
// transaction. An external identity's IdP has none either: deleting an identity provider
// leaves its links, pointers that every reader checks.
//
// # Transactions
//
// Update runs its function in one REPEATABLE READ transaction: its reads share a snapshot
// and see its own writes. Each Put is an upsert under a savepoint, so a refused write (a
// unique key taken) leaves the transaction usable, as in the other adapters. An Update may
// write the records of one account, plus users: the account is the unit of atomicity and
// of the feed's shards, and an Update that writes in two accounts fails with store.ErrInvalid
// and commits nothing.
//
// REPEATABLE READ is enough, and cheaper than SERIALIZABLE's predicate locks (whose page
// granularity would make writers of different accounts conflict): PostgreSQL refuses, with a
// serialization failure, to update a row that another transaction changed after the snapshot
// was taken, so two read-modify-writes of one record cannot both commit (no lost update).
// And every commit that writes anything updates its shard's head row (see below), so two
// writing transactions of one account that overlap always conflict: the later one runs again
// on a fresh snapshot, and the invariants the rules check by reading (a seat limit, the last
// administrator) hold as if the account's transactions ran one at a time. Global unique keys
// are held by unique indexes, which need no snapshot. A transaction that fails with a
// serialization failure (40001) or a deadlock (40P01) runs again after a short random pause,
// up to WithMaxAttempts times (default 10); then Update fails with store.ErrUnavailable, code
// store.CodeAborted. Its function may therefore run more than once. View runs in a REPEATABLE
// READ, READ ONLY transaction: its reads share one snapshot.
//
// Errors: a connection that fails, or a server that is down, shutting down or out of
// resources, is store.ErrUnavailable; a COMMIT whose connection failed says its outcome is
// unknown. No error holds a record's values.
//
// # Change feed
//
// The feed has N shards (WithShards when the database is set up, default 16; the number is
// kept in feed_meta). An account's commits go to the shard its ID's shard tag hashes to
// (store.ShardTag), a commit of users alone to that of the first user's. Each commit is one
// row of feed: its shard, its revision, its commit time and its changes (jsonb). A
// transaction that writes nothing writes no row.
//
// Sequences would not do: a sequence value is taken before commit, so two transactions can
// commit in the other order than their values, and a follower that read the later one would
// then skip the earlier one for ever. Instead each commit takes its revision with
//
//	UPDATE iamkit.feed_heads SET rev = rev + 1 WHERE shard = $1 RETURNING rev
//
// as the last statement before COMMIT. The row lock it takes is held until COMMIT, so the
// commits of a shard take their revisions one at a time in commit order, with no holes (a
// transaction that rolls back gives its revision back), and one that sees revision r+1
// committed also sees r: a follower that reads the revisions above its position never skips
// one. A cursor is the feed's epoch (a random name feed_meta holds) and one position per
// shard: "<epoch>:<rev0>,<rev1>,...". Head reads the heads. Changes reads, in one statement
// and so one snapshot, each shard's commits after the cursor, and returns them merged by
// commit time (never reordering a shard's).
//
// Followers are woken with LISTEN/NOTIFY: every commit NOTIFYs the channel iamkit_feed from
// its transaction (delivered at COMMIT), and each Store keeps one connection, taken out of
// the pool when the first Changes call blocks, that LISTENs and wakes the blocked calls. A
// notification can be lost (the listening connection fails, a commit is made by hand), so a
// blocked call also reads the feed every poll interval (WithPollInterval, default 1s; every
// 100ms while the listening connection is being set up again) and once more before its
// context's deadline, so that the caller's deadline never swallows a commit that is there.
// Verifiers of several processes fed by one database thus learn of a revocation as soon as
// PostgreSQL delivers the notification, and within the poll interval if it is lost; while the
// database is down their Changes calls fail with store.ErrUnavailable, so they fail closed,
// and the same Store resumes from the same cursor when it is back.
//
// PostgreSQL serialises the COMMITs of transactions that NOTIFY (they take a short lock on
// its notification queue), so NOTIFY bounds the write rate of a database: the benchmarks are
// to say where.
//
// Retention: each commit deletes, in the same statement, the rows of its shard that are
// more than WithFeedRetention (default 4096) revisions old. A cursor that cannot be followed
// gets a Batch with Gap set, whose Next resumes at the oldest commit still held: one whose
// next revision was trimmed (or deleted by hand), one ahead of the heads (the database was
// restored from an older backup or reset), and one of another epoch (another database, or
// one set up anew).
//
// Last uses (RecordUse) are one batched upsert into last_used that keeps the later time,
// with the address it came from (inet, NULL when unknown), and skips credentials that do not
// exist, outside transactions and the feed. Single-use
// keys expire by the store's clock (WithClock), compared in SQL; expired ones are swept at
// most once a minute.
//
// # Migrations
//
// The schema is a list of SQL migrations embedded in the binary (migrations/NNNN_name.sql).
// New applies the ones the database lacks, in one transaction under an advisory lock: a crash
// leaves the schema as it was (PostgreSQL's DDL is transactional, so there is no "dirty"
// state to repair), and processes opening one database at once wait for each other. Each
// version is recorded in iamkit.schema_version, and the set of versions recorded, not the
// newest alone, says what a database has: versions may skip a number that work developed in
// parallel holds, and when that migration arrives it is applied to databases that have the
// later ones. A database recording a version this code does not know is refused with
// store.ErrInvalid, code CodeSchemaTooNew, Limit the newest version this code knows: an older
// release must not write tables whose meaning changed.
// The runner is the package's own, a few dozen lines: migration libraries (pressly/goose,
// golang-migrate) need database/sql beside the pool and a version table outside the schema
// (where it could collide with the embedder's own), and add a dirty state or a polling lock
// that one transaction makes unnecessary.
//
// # What an operator sees
//
//	SELECT * FROM iamkit.schema_version;       -- the migrations applied, and when
//	SELECT * FROM iamkit.feed_heads;            -- each shard's newest revision
//	SELECT shard, rev, committed_at, changes
//	  FROM iamkit.feed ORDER BY committed_at DESC LIMIT 20;  -- the latest commits
//	SELECT * FROM pg_stat_activity WHERE query = 'LISTEN iamkit_feed';  -- the followers
//
// Deleting rows of iamkit.feed by hand is safe: followers behind them get a gap and flush
// their caches. Editing records by hand bypasses the feed: caches do not learn of it.
package pgstore
