// Package storetest is the conformance suite every store.Store adapter must pass: iamkit's
// own (memstore, redisstore) and any third party's. It checks the behaviour the store
// package documents: CRUD of every record kind, copies in and out, validation limits,
// newest-first pagination and its boundaries, unique keys, lookups, the credential owner
// rules and owner states, cascading deletes, transaction atomicity, context cancellation,
// concurrent updates, the change feed (ordering, blocking, gaps), single-use keys,
// RecordUse and Close.
//
// # Running the suite
//
// An adapter runs the suite from an ordinary test, with a factory that returns a fresh,
// empty store for each subtest and registers its own cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
//			s := mystore.New(mystore.WithClock(o.Now), mystore.WithFeedRetention(o.FeedRetention))
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The factory must honour both Options: o.Now is the only clock the store may read (the
// suite advances it by hand to expire single-use keys), and o.FeedRetention bounds how many
// commits per shard the change feed keeps (the gap tests set it low). An adapter backed by a
// server (Redis) gives each subtest its own empty keyspace, for example a fresh database or
// a key prefix per subtest, and flushes it in its cleanup. The Close subtest closes its
// store itself, so the cleanup must tolerate a second Close.
//
// Subtests run in parallel and each has its own store, so run the suite under the race
// detector (go test -race). A failure names the behaviour and shows what was expected;
// record IDs are generated deterministically from the subtest's name, so a failure
// reproduces with the same IDs.
//
// Every write the suite makes stays within one account per Update (plus global unique
// keys; users are written in Updates of their own), so adapters that shard by account can
// pass it. Stored times are UTC with microsecond precision, so they survive a JSON round
// trip, and nil and empty slices compare equal.
//
// # Opting out
//
// There is no opt-out mechanism: every adapter is expected to pass every subtest. If an
// adapter truly cannot support a behaviour, the place to say so is a change to this
// package that adds a named category for it with a required, written reason (as SpiceDB's
// datastore suite does for its memdb adapter), reviewed like any other contract change.
// Behaviour specific to one adapter belongs in that adapter's own tests, not here.
package storetest
