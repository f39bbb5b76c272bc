// Package redisstore is a store.Backend on Redis (github.com/redis/go-redis/v9), standalone,
// Sentinel failover or Redis Cluster, for when several processes share one set of accounts.
//
// # Usage
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	// or redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
//	st, err := redisstore.New(ctx, rdb, redisstore.WithPrefix("iamkit"))
//	if err != nil {
//		return err
//	}
//	defer st.Close() // the client stays the caller's to close
//	err = st.Update(ctx, func(tx store.Tx) error {
//		return tx.PutBotUser(ctx, bot)
//	})
//
// New returns the store.Store of store.New, which applies iamkit's rules; the Backend
// underneath (NewBackend) knows nothing of them. It stores the tables of store.Schema() and
// keeps their indexes, the same way for every table: the one thing it knows of a kind is
// that deleting a credential deletes its last-used time.
//
// New pings Redis (an error matching store.ErrUnavailable when it does not answer within
// ctx), then records the layout of the data under the prefix in "<prefix>:layout": the
// format version (2), the shard count and the prefix, with SET NX. Opening data recorded with
// another layout fails with an error matching store.ErrInvalid, code CodeLayoutMismatch, whose
// message gives the stored layout and the one asked for; New reads nothing else then. Data of
// format 1 (before the layout key existed) is not detected.
//
// # Shard buckets
//
// Every iamkit ID ends with a 4-character shard tag, and every record of an account carries
// the account's tag (store.ShardTag); a record routes by the tag of its primary key's first
// ID (store.RouteKey: a user by its own ID, a membership "account/user" by its account). The
// store hashes the tag into one of N shard buckets (WithShards, default 16) and gives each
// bucket a Redis hash tag, chosen so that the buckets' slots spread evenly over the default
// slot ranges of a cluster's masters. A bucket is the unit of atomicity: all the keys of an
// account, its records, indexes, last-used times and the feed stream its commits go to, live
// in its bucket's slot, so any record routes to its slot with no lookup and an Update about
// one account is one MULTI/EXEC on Redis Cluster too.
//
// The buckets, rather than one hash tag per account tag, are what the feed needs: a
// commit's stream entry must be written in the same MULTI/EXEC as its records, so in the
// same slot, and a subscriber must read every stream. With one stream per bucket it reads N.
//
// # Key layout
//
// With prefix P, {h} the hash tag of a bucket, <kind> a table's store.Kind, <index> an index
// name and <values> the index values joined with ':' (only the last may contain one):
//
//	P:{h}:r:<kind>:<primary key>  a record, JSON (encoding/json, read with
//	                              Table.DecodeJSON), in the bucket of its primary key
//	P:{h}:u:<kind>:<index>:<values>
//	                              per-account unique index: the primary key of the record
//	                              holding the values, in the bucket of the account (the
//	                              first value)
//	P:{h}:l:<kind>:<index>:<values>
//	                              per-account listing index: a sorted set of primary keys,
//	                              all scores 0, read newest first with ZREVRANGEBYLEX
//	P:{h}:lastused                hash: credential ID -> last use (RecordUse): the time,
//	                              then a space and the address when known
//	P:{h}:feed                    the bucket's change stream
//
// Global keys, each a single key outside every bucket:
//
//	P:u:<kind>:<index>:<values>   Global unique index (a user's email, a credential's
//	                              secret hash or fingerprint, an account's key): a pointer
//	P:l:<kind>:<index>:<values>   Global listing index (a user's memberships across
//	                              accounts, every account, every tombstone): a sorted set
//	                              of primary keys, as above. Accounts written before the
//	                              listing of every account existed are in it only once
//	                              written again.
//	P:once:<key>                  single-use key: expiry stamp + value, with PX
//	P:layout                      the layout of the data under P
//	P:feed-doorbell               Pub/Sub channel announcing commits (Cluster only)
//
// # Indexes
//
// A per-account index commits with its records, in the same MULTI/EXEC, so it is the truth.
// A Global index cannot: its keys live in other slots. A Global unique index entry is a
// pointer, never the truth, only a way to the record, which every lookup confirms (a pointer
// whose record does not hold its values reads as not found). A new value is claimed with SET
// NX just before the account's MULTI/EXEC, with the value "<primary key>|<lease
// deadline>|<nonce>"; the claim is released if the EXEC does not happen, and the old value's
// pointer is released after a commit that changed or deleted it. A pointer already set is
// taken over only if its record does not hold the value and its lease (30s, protecting a
// commit in flight) has passed. A Global listing index is kept the same way: added to
// before the commit, removed from after it, and every entry confirmed on read against its
// record's index values (a listing reads on until its page is full of confirmed records).
//
// # Transactions
//
// Update runs its function against a transaction that reads through one pinned connection,
// WATCHing every key it reads, buffers its writes in memory (later reads see them), and
// commits them with the feed entries in one MULTI/EXEC. If a watched key changed, the
// function runs again, up to WithMaxRetries times, then Update fails with an error matching
// store.ErrUnavailable, code store.CodeAborted. Put reads the stored record and the entries
// of the new record's unique values in one round trip, and checks every unique index before
// it buffers anything, so a refused Put leaves the transaction as it was. Count is the
// cardinality of the listing index's sorted set with the buffered changes applied.
//
// On Redis Cluster the pinned connection is to the master of the first bucket the function
// touches, and only that bucket's keys are WATCHed: reads of other buckets (a user's record
// while writing an account) are plain reads. An Update whose writes span two buckets (two
// accounts, or a user and an account, unless their tags share a bucket) fails with an error
// matching store.ErrInvalid, code CodeCrossShard, and writes nothing; on a standalone server
// it commits.
//
// View is read-committed: each read is one atomic read (a command, a pipeline or a script),
// but two reads may see different commits. GetMany is one pipeline (on Cluster, one per
// node, in parallel). List outside Update is one atomic read of the page and its records:
// a first page one SORT_RO (BY nosort DESC, GET <bucket head>*: Redis reads the records in
// C, in the index's slot; Redis 7, else the script), a later page one script call that
// returns the page's primary keys and records (the records of the index's bucket read with
// one MGET); plus a second round trip only for records in another bucket than the index (or,
// on a first page, one that is missing: its keys are read again with it).
//
// # Change feed
//
// Every commit appends one entry per bucket it wrote to that bucket's stream, in the same
// MULTI/EXEC, trimmed with XADD MAXLEN (approximately, ~, from a retention of 1000 up;
// exactly, one more than the retention, below). A Commit's Shard is the bucket number and its
// Revision the entry ID packed into a uint64 (milliseconds << 20 | sequence), strictly
// increasing along a bucket. The feed needs Redis 7.0 or later (XINFO STREAM's
// entries-added).
//
// A Cursor holds one position per bucket ("r3.<N>.<id>:<added>:<tag>...", an empty position
// meaning the start of a stream never written to): the ID of the last entry read, how many
// entries the stream had taken up to it (its entries-added then) and the random tag of the
// commit that wrote it (every entry carries its commit's tag, and a key beside each stream
// the last one written, which Head reads). Stream IDs alone
// cannot tell an emptied stream from a new one, nor a stream trimmed past the cursor from one
// that merely holds nothing new; the count can, so a position keeps its place whatever
// happens to the stream, and Head answers the last-generated ID and entries-added of a
// stream even when it is empty.
//
// Changes reads each stream with a script, atomically (one call over all the streams; on
// Cluster one per stream, pipelined: a round trip per node, in parallel). Streams are only
// ever trimmed from the oldest entry on, and the store never deletes single entries, so
// while a stream still holds the position's own entry (its ID with its tag: a stream restored
// from an older copy may give another entry the same ID) nothing after it was lost, and the
// entries after it are all the script reads (XRANGEs of a few entries each, up to 1000
// entries a stream and 256 KiB of changes a call, beyond its first entry: a subscriber far
// behind on large commits, such as purge batches, catches up over several short calls). Otherwise it reads the stream's
// length, entries-added, last-generated ID and oldest entry (XINFO STREAM) with the entries
// after the position: the entries trimmed are exactly the first entries-added - length,
// and Changes reports a gap when a stream
//
//   - trimmed an entry after the position (entries-added - length > the position's count),
//     whether or not anything is left in it;
//   - took fewer entries than the position counted, or ends before its ID: the stream was
//     deleted (a flush, a restart without persistence) or restored from an older copy (a
//     failover to a replica that lagged);
//   - is not the stream the position was taken on: it holds the position's entry by count
//     but its oldest entry is after it, or what follows the position is not what was added
//     after it (a stream deleted and written again).
//
// The gap's cursor resumes at the oldest entry held. One case escapes these checks: a stream
// deleted and written again, its new entries all after the position's ID, that has trimmed
// exactly as many entries as the position counted by the time the subscriber reads it. It
// takes a flush followed, before the subscriber's next read, by more commits to the stream
// than it had ever taken up to the position, to the entry.
//
// Changes returns at once what is already there, commits or a gap; only then does it wait,
// in steps: each at most the block wait (WithBlockWait) and at most three quarters of the
// time left before ctx's deadline, so that what a step finds reaches a caller that polls
// with short deadlines, such as a cache's feed follower, before it gives up (the rule
// store.Store.Changes states). On a standalone server a step is an XREAD BLOCK over all the
// streams, pipelined with the read above, which runs as soon as a commit wakes the XREAD or
// its block ends; the first step blocks for a millisecond only, which answers at once what
// is there and still lets a commit landing meanwhile wake it without another round trip. On
// Cluster, where one XREAD cannot span slots, the first step reads without waiting and each
// later one waits for a commit's PUBLISH on the doorbell channel (subscribed on every
// master: cross-node delivery over the cluster bus has a tail of tens of milliseconds) or
// the end of the step, then reads. A subscriber that lost its connection resumes from its cursor, without loss
// while the streams still hold what followed its positions, and with a gap otherwise.
//
// # Verifier reads
//
// CredentialAuth is store.New's generic read over the Backend: on a verifier's cache miss it
// takes two round trips, the credential's record, then its owner's bot user, membership and
// user in one GetMany (in the account's bucket, so one node on Cluster, for owners whose ID
// carries the account's tag), where the per-kind adapter before format 2 took one script
// call. Credential and the credential listings read the records, then the last-used times
// (LastUsed: one HMGET per bucket, pipelined), so two round trips too. RecordUse writes
// last-used times with one script call per bucket, pipelined, keeping the latest time and
// ignoring deleted credentials; they are outside transactions and the feed, and deleting a
// credential deletes its time. Single-use keys are a script (check the stored expiry against
// the store's clock, then SET with PX) to put and GETDEL to take.
//
// # Client configuration
//
// Update pins a connection per transaction (Client.Conn, or the master's for Cluster).
// go-redis v9.23.0 has a data race when such connections are dialled concurrently against a
// server without CLIENT MAINT_NOTIFICATIONS (Redis before 8) in its default "auto" mode:
// each Conn has its own lock but they share the client's *Options, which the failed
// handshake rewrites. It is harmless in effect but the race detector reports it; on such
// servers set
//
//	MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
//
// in the client's options. A client pool size of at least the number of concurrent Updates
// plus concurrent Changes calls avoids waiting for connections.
//
// Set ContextTimeoutEnabled in the client's options as well. Without it go-redis ignores
// the deadline of the context a command runs with and waits for Redis as long as its own
// ReadTimeout and WriteTimeout allow (seconds by default, indefinitely if they are
// disabled): a call into the store with a 200ms context against a paused, partitioned or
// overloaded Redis then returns after those seconds, and every caller behind it waits too.
// With it, each call ends by its context's deadline. The library does not rely on it for
// safety (credential.Verifier returns by its caller's deadline and ignores late answers
// whatever the client does; Changes bounds its blocking reads by the deadline itself), but
// without it the store's calls hold their connections past the deadlines, and embedders'
// own calls wait.
//
//	opts.ContextTimeoutEnabled = true
//
// # Rate limits
//
// Store offers a store.Limiter (store.LimiterBackend) on the same Redis, so that sign-in
// throttling and API rate limits hold across every process on it. It counts with
// github.com/go-redis/redis_rate (GCRA, one Lua script per call, Redis's own clock), under
// keys rate:<prefix>:limit:<key> that expire once their bucket is full again. The Limiter is
// also a store.BatchLimiter: Take gives back unused events and records up to n at once, in
// one script of its own on the same keys and arrival times (iamkit's API rate limit takes
// its tokens in leases with it).
//
// # Errors
//
// Errors follow the model of package store. redis.Nil never escapes: absent records are
// store.ErrNotFound. Other Redis and network errors match store.ErrUnavailable (code
// "unavailable") and wrap the go-redis error; context errors match context.Canceled or
// context.DeadlineExceeded. An Update that fails with a network error during its EXEC may or
// may not have committed (the error says so); it never half-applied.
package redisstore
