package credential

import (
	"crypto/rand"
	"encoding/hex"
	"hash/maphash"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// BenchmarkCache1M fills a Verifier's cache with 1,000,000 authtokens of 100,000 owners, as
// misses would, and reports the heap it takes per cached credential (B/entry), owners and
// map overhead included: shared-acl gives every credential the same one-rule ACL (the
// Verifier parses it once and shares it), distinct-acls gives each credential a one-rule
// ACL of its own (a hostname of its own), so nothing is shared past the interned first
// 4,096. Run it with -benchtime=1x: one fill is the measurement.
func BenchmarkCache1M(b *testing.B) {
	shared := []string{"bind:*.example.com"}
	b.Run("shared-acl", func(b *testing.B) { cache1M(b, func(int) []string { return shared }) })
	b.Run("distinct-acls", func(b *testing.B) {
		cache1M(b, func(i int) []string { return []string{"bind:agent-" + strconv.Itoa(i) + ".example.com"} })
	})
}

// cache1M is BenchmarkCache1M with aclOf(i) the rules of the i-th credential.
func cache1M(b *testing.B, aclOf func(i int) []string) {
	const n, perOwner = 1_000_000, 10
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ids := id.NewGenerator(clk, rand.Reader)
	acct, _ := ids.New(id.Account)
	var perEntry float64
	for range b.N {
		v := verifierT(b, memT(b))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var owner string
		var secret [32]byte
		for i := range n {
			if i%perOwner == 0 {
				owner, _ = ids.NewIn(id.BotUser, acct)
			}
			cid, _ := ids.NewIn(id.Authtoken, acct)
			rand.Read(secret[:])
			c := store.Credential{ID: cid, AccountID: acct, Kind: store.Authtoken, OwnerID: owner,
				SecretHash: hex.EncodeToString(secret[:]), ACL: aclOf(i)}
			e, err := v.newEntry(c, store.Owner{ID: owner, State: store.OwnerActive, Bot: true, Subject: "bot"}, 0, true)
			if err != nil {
				b.Fatal(err)
			}
			body := id.Body(e.id()) // as loadToken keys it
			v.shards[maphash.String(v.seed, body)%numShards].creds[body] = e
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(v)
	}
	b.ReportMetric(perEntry, "B/entry")
}
