package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestClusterTransactions checks the Cluster-specific rules: an Update writing two accounts
// in different buckets fails with ErrInvalid and writes nothing; an Update that first reads
// a record of another bucket then writes one account commits (the store re-pins it).
func TestClusterTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master cluster")
	}
	cl := sharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaintNotificationsConfig: noMaintNotifications()})
	t.Cleanup(func() { c.Close() })
	rt := &redistest.RoundTrips{} // counted per node: a pipeline over two nodes is two round trips
	c.OnNewNode(func(n *redis.Client) { n.AddHook(rt) })
	s, err := redisstore.New(t.Context(), c, redisstore.WithPrefix(redistest.UniquePrefix()), redisstore.WithShards(64))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ids := id.NewGenerator(clock.System{}, rand.Reader)

	// Two accounts whose tags fall in different buckets (on different masters, most likely).
	a1, _ := ids.New(id.Account)
	var a2 string
	for {
		a2, _ = ids.New(id.Account)
		if bucketDiffers(a1, a2, 64) {
			break
		}
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: a1, Name: "one"}); err != nil {
			return err
		}
		return tx.PutAccount(ctx, store.Account{ID: a2, Name: "two"})
	})
	if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != redisstore.CodeCrossShard {
		t.Fatalf("Update across buckets: %v (code %q), want an error matching ErrInvalid, code %q",
			err, store.CodeOf(err), redisstore.CodeCrossShard)
	}
	t.Logf("cross-bucket Update refused: %v", err)
	for _, a := range []string{a1, a2} {
		err := s.View(ctx, func(r store.Reader) error { _, err := r.Account(ctx, a); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("account %s after the refused Update: %v, want ErrNotFound", a, err)
		}
	}

	// Read a2's bucket first, then write a1: the transaction must move to a1's node.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Account{ID: a2, Name: "two"}) }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err = s.Update(ctx, func(tx store.Tx) error {
		runs++
		if _, err := tx.Account(ctx, a2); err != nil {
			return err
		}
		return tx.PutAccount(ctx, store.Account{ID: a1, Name: "one"})
	})
	if err != nil {
		t.Fatalf("Update reading one bucket and writing another: %v", err)
	}
	if runs > 2 {
		t.Errorf("fn ran %d times, want at most 2 (one re-pin)", runs)
	}

	// CredentialAuth is two round trips on Cluster too: the credential, then its owner's
	// records, which live in the account's bucket.
	bot, _ := ids.NewIn(id.BotUser, a1)
	cr, _ := ids.NewIn(id.Authtoken, a1)
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutBotUser(ctx, store.BotUser{ID: bot, AccountID: a1, Name: "ci", Active: true})
	}); err != nil {
		t.Fatal(err)
	}
	// The first create is a warm-up: it may dial the account node's connection.
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutCredential(ctx, store.Credential{ID: cr, AccountID: a1, Kind: store.Authtoken, OwnerID: bot, SecretHash: "h-" + cr})
	}); err != nil {
		t.Fatal(err)
	}
	// Warm: the least of three creates (a create that needs a new connection also counts
	// the connection's handshake commands).
	least := int64(1 << 30)
	for range 3 {
		cr2, _ := ids.NewIn(id.Authtoken, a1)
		before := rt.N()
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.PutCredential(ctx, store.Credential{ID: cr2, AccountID: a1, Kind: store.Authtoken, OwnerID: bot, SecretHash: "h-" + cr2})
		}); err != nil {
			t.Fatal(err)
		}
		least = min(least, rt.N()-before)
	}
	if least != 5 {
		t.Errorf("create credential on Cluster took %d round trips, want 5", least)
	}
	auth := func() {
		if err := s.View(ctx, func(r store.Reader) error {
			got, o, err := r.CredentialAuth(ctx, cr)
			if err == nil && (got.ID != cr || o.State != store.OwnerActive) {
				t.Errorf("CredentialAuth = %s, %v", got.ID, o.State)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	auth() // warm-up: may dial the account node's connection
	before := rt.N()
	auth()
	if n := rt.N() - before; n != 2 {
		t.Errorf("CredentialAuth on Cluster took %d round trips, want 2", n)
	}
}

// bucketDiffers reports whether two IDs fall in different buckets of a store with n shards,
// by the documented rule (a hash of the last four characters).
func bucketDiffers(a, b string, n int) bool {
	h := func(s string) int {
		s = s[len(s)-4:]
		v := 0
		for i := 0; i < len(s); i++ {
			v = (v*31 + int(s[i])) % 65521
		}
		return v % n
	}
	return h(a) != h(b)
}

// TestClusterSlotMoved moves an account's slot to another master between two Updates, the
// way a resharding does, while the client still routes by the old layout: the second
// Update meets MOVED on its pinned connection, reloads the layout and commits.
func TestClusterSlotMoved(t *testing.T) {
	if testing.Short() {
		t.Skip("uses a 3-master cluster")
	}
	cl := sharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaintNotificationsConfig: noMaintNotifications()})
	t.Cleanup(func() { c.Close() })
	s, err := redisstore.New(t.Context(), c, redisstore.WithPrefix(redistest.UniquePrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	acct, _ := ids.New(id.Account)
	put := func(name string) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Account{ID: acct, Name: name}) })
	}
	if err := put("before"); err != nil {
		t.Fatal(err)
	}

	// Find the account's slot from a key of its bucket: the one its record was written to.
	var key string
	for _, a := range cl.Addrs {
		n := redis.NewClient(&redis.Options{Addr: a, MaintNotificationsConfig: noMaintNotifications()})
		keys, _ := n.Keys(ctx, "*:r:account:"+acct).Result()
		n.Close()
		if len(keys) == 1 {
			key = keys[0]
		}
	}
	if key == "" {
		t.Fatal("account record not found on any master")
	}
	slot, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	src, err := c.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var dst *redis.Client
	for _, a := range cl.Addrs {
		if a != src.Options().Addr {
			dst = redis.NewClient(&redis.Options{Addr: a, MaintNotificationsConfig: noMaintNotifications()})
			t.Cleanup(func() { dst.Close() })
			break
		}
	}
	srcID, _ := src.ClusterMyID(ctx).Result()
	dstID, _ := dst.ClusterMyID(ctx).Result()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dst.Do(ctx, "cluster", "setslot", slot, "importing", srcID).Err())
	must(src.Do(ctx, "cluster", "setslot", slot, "migrating", dstID).Err())
	keys, err := src.ClusterGetKeysInSlot(ctx, int(slot), 10000).Result()
	must(err)
	host, port, _ := net.SplitHostPort(dst.Options().Addr)
	args := []any{"migrate", host, port, "", 0, 5000, "keys"}
	for _, k := range keys {
		args = append(args, k)
	}
	must(src.Do(ctx, args...).Err())
	for _, n := range []*redis.Client{dst, src} {
		must(n.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err())
	}
	for _, a := range cl.Addrs { // tell the third master too
		n := redis.NewClient(&redis.Options{Addr: a, MaintNotificationsConfig: noMaintNotifications()})
		_ = n.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err()
		n.Close()
	}

	if err := put("after"); err != nil {
		t.Fatalf("Update after the slot moved: %v", err)
	}
	var got store.Account
	if err := s.View(ctx, func(r store.Reader) error { var err error; got, err = r.Account(ctx, acct); return err }); err != nil {
		t.Fatal(err)
	}
	if got.Name != "after" {
		t.Fatalf("account name %q after the move, want %q", got.Name, "after")
	}
}
