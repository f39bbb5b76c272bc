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
//	P:{h}:lastused                hash: credential ID -> last-used time (RecordUse)
//	P:{h}:feed                    the bucket's change stream
//
// Global keys, each a single key outside every bucket:
//
//	P:u:<kind>:<index>:<values>   Global unique index (a user's email, a credential's
//	                              secret hash or fingerprint, an account's key): a pointer
//	P:l:<kind>:<index>:<values>   Global listing index (a user's memberships across
//	                              accounts): a sorted set of primary keys, as above
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
// node, in parallel). List outside Update is one script call that returns the page's
// primary keys and records, plus a second round trip only for records in another bucket
// than the index.
//
// # Change feed
//
// Every commit appends one entry per bucket it wrote to that bucket's stream, in the same
// MULTI/EXEC, trimmed with XADD MAXLEN (approximately, ~, from a retention of 1000 up;
// exactly, one more than the retention, below). A Commit's Shard is the bucket number and its
// Revision the entry ID packed into a uint64 (milliseconds << 20 | sequence), strictly
// increasing along a bucket.
//
// A Cursor holds one stream position per bucket ("r1.<N>.<pos>...", an empty position
// meaning the start). Changes reads after the positions and, in the same pipeline, the first
// retained entry of each stream the cursor has a position in. When a stream no longer holds
// the cursor's own entry, Changes reports a gap and a cursor that resumes at the oldest
// entry retained; this may flag a gap a little early, never late. On a standalone server the
// read is one XREAD BLOCK over all the streams, in bounded steps (WithBlockWait). On Cluster,
// where one XREAD cannot span slots, it is one non-blocking XREAD per stream, pipelined (a
// round trip per node, in parallel), and between reads Changes waits for a commit's PUBLISH
// on the doorbell channel (subscribed on every master: cross-node delivery over the cluster
// bus has a tail of tens of milliseconds) or the end of the step. A subscriber that lost its
// connection resumes from its cursor, without loss while the streams still hold its
// positions, and with a gap otherwise.
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
// # Errors
//
// Errors follow the model of package store. redis.Nil never escapes: absent records are
// store.ErrNotFound. Other Redis and network errors match store.ErrUnavailable (code
// "unavailable") and wrap the go-redis error; context errors match context.Canceled or
// context.DeadlineExceeded. An Update that fails with a network error during its EXEC may or
// may not have committed (the error says so); it never half-applied.
package redisstore
