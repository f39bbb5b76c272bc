package credential

import (
	"crypto/rand"
	"encoding/hex"
	"hash/maphash"
	"runtime"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// BenchmarkCache1M fills a Verifier's cache with 1,000,000 authtokens of 100,000 owners, as
// misses would, and reports the heap it takes per cached credential (B/entry), owners and
// map overhead included. Run it with -benchtime=1x: one fill is the measurement.
func BenchmarkCache1M(b *testing.B) {
	const n, perOwner = 1_000_000, 10
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ids := id.NewGenerator(clk, rand.Reader)
	acct, _ := ids.New(id.Account)
	acl := []string{"bind:*.example.com"}
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
				SecretHash: hex.EncodeToString(secret[:]), ACL: acl}
			e, err := v.newEntry(c, store.Owner{ID: owner, State: store.OwnerActive, Bot: true, Subject: "bot"}, 0, true)
			if err != nil {
				b.Fatal(err)
			}
			body := id.Body(c.ID)
			v.shards[maphash.String(v.seed, body)%numShards].creds[body] = e
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(v)
	}
	b.ReportMetric(perEntry, "B/entry")
}
