// Package redisstore is a store.Store on Redis (github.com/redis/go-redis/v9), standalone,
// Sentinel failover or Redis Cluster, for when several processes share one set of accounts.
//
// # Usage
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	// or redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
//	st, err := redisstore.New(rdb, redisstore.WithPrefix("iamkit"))
//	if err != nil {
//		return err
//	}
//	defer st.Close() // the client stays the caller's to close
//	err = st.Update(ctx, func(tx store.Tx) error {
//		return tx.PutBotUser(ctx, bot)
//	})
//
// # Shard buckets
//
// Every iamkit ID ends with a 4-character shard tag, and every record of an account carries
// the account's tag (store.ShardTag). The store hashes the tag into one of N shard buckets
// (WithShards, default 16) and gives each bucket a Redis hash tag, chosen so that the
// buckets' slots spread evenly over the default slot ranges of a cluster's masters. A
// bucket is the unit of atomicity: all the keys of an account, its records, indexes,
// per-account unique keys, last-used times and the feed stream its commits go to, live in
// its bucket's slot, so any record ID routes to its slot with no lookup and an Update about
// one account is one MULTI/EXEC on Redis Cluster too.
//
// The buckets, rather than one hash tag per account tag, are what the feed needs: a
// commit's stream entry must be written in the same MULTI/EXEC as its records, so in the
// same slot, and a subscriber must read every stream. With one stream per bucket it reads N.
//
// # Key layout
//
// With prefix P and {h} the hash tag of the bucket of the ID named first:
//
//	P:{h}:ac:<account>            account record (JSON)
//	P:{h}:usr:<user>              user record (users have their own random tag)
//	P:{h}:inv:<id>, bot:<id>, cr:<id>, role:<id>, idp:<id>, ev:<id>
//	                              the records of an account, under their own IDs
//	P:{h}:x:<account>:mem:<user>  membership record
//	P:{h}:x:<account>:ix:<what>   newest-first indexes: sorted sets of IDs, all scores 0,
//	                              read with ZREVRANGEBYLEX (IDs sort by creation):
//	                              mem, inv, bot, role, idp, ev, cr:<kind>, cro:<owner>
//	P:{h}:x:<account>:ms:<status> set of the user IDs of members with that status
//	P:{h}:x:<account>:u:<kind>:<value>
//	                              per-account unique keys (bot and role names, invitation
//	                              emails, IdP entity IDs): the ID holding the value
//	P:{h}:xid:<idp>:<subject>     external identity: an IdP subject's link to a user
//	P:{h}:lastused                hash: credential ID -> last-used time (RecordUse)
//	P:{h}:feed                    the bucket's change stream
//
// Global keys, each a single key outside every bucket:
//
//	P:email:<email>               pointer to the user with that email
//	P:secret:<hash>               pointer to the credential with that secret hash
//	P:fp:<fingerprint>            pointer to the SSH credential with that fingerprint
//	P:um:<user>                   set of the accounts the user is a member of
//	P:once:<key>                  single-use key: expiry stamp + value, with PX
//	P:feed-doorbell               Pub/Sub channel announcing commits (Cluster only)
//
// # Global unique keys
//
// A pointer is never the truth, only a way to the record, which every lookup confirms (a
// pointer whose record does not hold its value reads as not found). A new email, secret
// hash or fingerprint is claimed with SET NX just before the account's MULTI/EXEC, with the
// value "<id>|<lease deadline>|<nonce>"; the claim is released if the EXEC does not happen,
// and the old value's pointer is released after a commit that changed or deleted it. A
// pointer already set is taken over only if its record does not hold the value and its
// lease (30s, protecting a commit in flight) has passed. The per-user membership index is
// maintained the same way: added to before the commit, removed from after, confirmed by
// every read.
//
// # Transactions
//
// Update runs its function against a transaction that reads through one pinned connection,
// WATCHing every key it reads, buffers its writes in memory (later reads see them), and
// commits them with the feed entries in one MULTI/EXEC. If a watched key changed, the
// function runs again, up to WithMaxRetries times, then Update fails with an error matching
// store.ErrAborted. Cascades (deleting a bot user or a membership deletes the owner's
// credentials) are part of the same EXEC.
//
// On Redis Cluster the pinned connection is to the master of the first bucket the function
// touches, and only that bucket's keys are WATCHed: reads of other buckets (a user's record
// while writing an account) are plain reads. An Update whose writes span two buckets (two
// accounts, or a user and an account, unless their tags share a bucket) fails with an error
// matching store.ErrInvalid and writes nothing; on a standalone server it commits.
//
// View is read-committed: each Reader call is one atomic read (a command, a pipeline or a
// script), but two calls may see different commits.
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
// A Cursor holds one position per bucket ("r2.<N>.<id>:<added>...", an empty position
// meaning the start of a stream never written to): the ID of the last entry read and how
// many entries the stream had taken up to it (its entries-added then). Stream IDs alone
// cannot tell an emptied stream from a new one, nor a stream trimmed past the cursor from one
// that merely holds nothing new; the count can, so a position keeps its place whatever
// happens to the stream, and Head answers the last-generated ID and entries-added of a
// stream even when it is empty.
//
// Changes reads each stream with a script, atomically (one call over all the streams; on
// Cluster one per stream, pipelined: a round trip per node, in parallel). Streams are only
// ever trimmed from the oldest entry on, and the store never deletes single entries, so
// while a stream still holds the position's own entry nothing after it was lost, and the
// entries after it are all the script reads (an XRANGE). Otherwise it reads the stream's
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
// CredentialAuth (outside Update) is one script call in the credential's slot: it returns
// the credential, its last-used time and its owner's state (bot user or membership) in one
// round trip. RecordUse writes last-used times with one script call per bucket, pipelined,
// keeping the latest time and ignoring deleted credentials; they are outside transactions
// and the feed. Single-use keys are a script (check the stored expiry against the store's
// clock, then SET with PX) to put and GETDEL to take.
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
// # Errors
//
// redis.Nil never escapes: absent records are store.ErrNotFound. Other Redis and network
// errors are wrapped ("redisstore: ..."), and context errors match context.Canceled or
// context.DeadlineExceeded. An Update that fails with a network error may or may not have
// committed; it never half-applied.
package redisstore
