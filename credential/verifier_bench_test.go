package credential_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// benchFixture is a memstore with 100,000 authtokens of 1,000 bot users, built once per test
// binary: building it takes seconds, and every verifier benchmark reads it.
type benchFixture struct {
	st     store.Store
	tokens []string
}

var (
	fixtureOnce sync.Once
	fixture     benchFixture
)

func loadFixture(b *testing.B) *benchFixture {
	b.Helper()
	fixtureOnce.Do(func() {
		const bots, perBot = 1000, 100
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
		ids := id.NewGenerator(clk, rand.Reader)
		st, err := memstore.New()
		if err != nil {
			panic(err)
		}
		acct, _ := ids.New(id.Account)
		var h *credential.Hasher
		fixture.st = st
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Account{ID: acct}) }); err != nil {
			panic(err)
		}
		for range bots {
			bot, _ := ids.NewIn(id.BotUser, acct)
			err := st.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutBotUser(ctx, store.BotUser{ID: bot, AccountID: acct, Name: bot, Active: true}); err != nil {
					return err
				}
				for range perBot {
					cid, _ := ids.NewIn(id.Authtoken, acct)
					tok, err := credential.NewToken(store.Authtoken, cid, rand.Reader)
					if err != nil {
						return err
					}
					fixture.tokens = append(fixture.tokens, tok.Reveal())
					c := store.Credential{ID: cid, AccountID: acct, Kind: store.Authtoken, OwnerID: bot,
						SecretHash: h.HashHex(tok.Token()), ACL: []string{"bind:*.example.com"}}
					if err := tx.PutCredential(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				panic(err)
			}
		}
	})
	return &fixture
}

// runningVerifier starts a Verifier on the fixture and waits until it follows the feed.
func runningVerifier(b *testing.B, f *benchFixture, opts ...credential.Option) *credential.Verifier {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	v := verifier(b, f.st, opts...)
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	if err := v.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkVerifyHit verifies one cached authtoken among 100,000 stored, against three
// references in the same run:
//
//   - sha256-of-token: one sha256.Sum256 of the whole token (two SHA-256 blocks), the
//     reference of the first figures, kept for comparison;
//   - sha256-of-secret: one sha256.Sum256 of the token's secret part, the hash Verify
//     computes (one block);
//   - floor: the same hash plus one lookup, by the credential ID's body, in a map of the
//     digests of the same 100,000 credentials, and a comparison of the digests: the least
//     any cache in front of the store could do.
func BenchmarkVerifyHit(b *testing.B) {
	f := loadFixture(b)
	tok := f.tokens[len(f.tokens)/2]
	b.Run("sha256-of-token", func(b *testing.B) {
		b.ReportAllocs()
		data := []byte(tok)
		var sink [sha256.Size]byte
		for b.Loop() {
			sink = sha256.Sum256(data)
		}
		_ = sink
	})
	parsed, err := credential.ParseToken(tok)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sha256-of-secret", func(b *testing.B) {
		b.ReportAllocs()
		secret := []byte(parsed.SecretPart())
		var sink [sha256.Size]byte
		for b.Loop() {
			sink = sha256.Sum256(secret)
		}
		_ = sink
	})
	b.Run("floor", func(b *testing.B) {
		digests := make(map[string]*[sha256.Size]byte, len(f.tokens))
		for _, t := range f.tokens {
			p, err := credential.ParseToken(t)
			if err != nil {
				b.Fatal(err)
			}
			sum := credential.HashSecret(p)
			digests[p.IDBody()] = &sum
		}
		secret, body := []byte(parsed.SecretPart()), parsed.IDBody()
		b.ReportAllocs()
		for b.Loop() {
			sum := sha256.Sum256(secret)
			if d := digests[body]; d == nil || *d != sum {
				b.Fatal("the floor's lookup missed")
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		v := runningVerifier(b, f)
		ctx := context.Background()
		if _, err := v.Verify(ctx, store.Authtoken, tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, store.Authtoken, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-token", func(b *testing.B) {
		v := runningVerifier(b, f)
		ctx := context.Background()
		if _, err := v.VerifyToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.VerifyToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyHitInterleaved measures what BenchmarkVerifyHit does, Verify's cache hit
// and its references, in blocks of 2,000 calls that take turns (verify, verify-exact-clock,
// sha256-of-secret, floor, sha256-of-token, then again), so that a loaded machine slows them
// alike: it reports the median time per call of each over all its blocks, and the ratios of
// Verify's median to each reference's (x-secret, x-floor, x-token), and of the hit on a
// Verifier that reads the exact clock on every call (as iamkit.WithRevocationBound deploys
// it) to the hit on the coarse clock (exact-clock-x-verify). One iteration is one turn of
// the five blocks; run it with -benchtime 1000x or more.
func BenchmarkVerifyHitInterleaved(b *testing.B) {
	const block = 2000
	f := loadFixture(b)
	tok := f.tokens[len(f.tokens)/2]
	parsed, err := credential.ParseToken(tok)
	if err != nil {
		b.Fatal(err)
	}
	digests := make(map[string]*[sha256.Size]byte, len(f.tokens))
	for _, t := range f.tokens {
		p, err := credential.ParseToken(t)
		if err != nil {
			b.Fatal(err)
		}
		sum := credential.HashSecret(p)
		digests[p.IDBody()] = &sum
	}
	v := runningVerifier(b, f)
	// exact reads the exact clock on every call, as under iamkit.WithRevocationBound.
	exact := runningVerifier(b, f, credential.WithClock(clock.System{}))
	ctx := context.Background()
	for _, v := range []*credential.Verifier{v, exact} {
		if _, err := v.Verify(ctx, store.Authtoken, tok); err != nil {
			b.Fatal(err)
		}
	}
	secret, body, whole := []byte(parsed.SecretPart()), parsed.IDBody(), []byte(tok)
	var sink [sha256.Size]byte
	blocks := []struct {
		name string
		run  func()
		per  []time.Duration
	}{
		{name: "verify", run: func() {
			for range block {
				if _, err := v.Verify(ctx, store.Authtoken, tok); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{name: "verify-exact-clock", run: func() {
			for range block {
				if _, err := exact.Verify(ctx, store.Authtoken, tok); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{name: "secret", run: func() {
			for range block {
				sink = sha256.Sum256(secret)
			}
		}},
		{name: "floor", run: func() {
			for range block {
				sum := sha256.Sum256(secret)
				if d := digests[body]; d == nil || *d != sum {
					b.Fatal("the floor's lookup missed")
				}
			}
		}},
		{name: "token", run: func() {
			for range block {
				sink = sha256.Sum256(whole)
			}
		}},
	}
	for b.Loop() {
		for i := range blocks {
			t0 := time.Now()
			blocks[i].run()
			blocks[i].per = append(blocks[i].per, time.Since(t0)/block)
		}
	}
	_ = sink
	median := map[string]float64{}
	for _, bl := range blocks {
		slices.Sort(bl.per)
		median[bl.name] = float64(bl.per[len(bl.per)/2].Nanoseconds())
		b.ReportMetric(median[bl.name], bl.name+"-ns")
	}
	for _, ref := range []string{"secret", "floor", "token"} {
		b.ReportMetric(median["verify"]/median[ref], "x-"+ref)
	}
	b.ReportMetric(median["verify-exact-clock"]/median["verify"], "exact-clock-x-verify")
}

// BenchmarkVerifyHitParallel verifies 100,000 cached authtokens from every P; run it with
// -cpu 1,2 to see how it scales.
func BenchmarkVerifyHitParallel(b *testing.B) {
	f := loadFixture(b)
	v := runningVerifier(b, f)
	ctx := context.Background()
	for _, tok := range f.tokens {
		if _, err := v.Verify(ctx, store.Authtoken, tok); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919)) // each goroutine starts elsewhere in the token list
		for pb.Next() {
			i = (i + 1) % len(f.tokens)
			if _, err := v.Verify(ctx, store.Authtoken, f.tokens[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyMalformed rejects a token whose checksum does not match.
func BenchmarkVerifyMalformed(b *testing.B) {
	f := loadFixture(b)
	v := runningVerifier(b, f)
	good := f.tokens[0]
	bad := good[:len(good)-1] + "A"
	if bad == good {
		bad = good[:len(good)-1] + "B"
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, store.Authtoken, bad); err != credential.ReasonMalformed {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMiss verifies with a Verifier that never caches (it is not following the
// feed, so it reads memstore on every call): the cost of a cache miss.
func BenchmarkVerifyMiss(b *testing.B) {
	f := loadFixture(b)
	v := verifier(b, f.st)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % len(f.tokens)
		if _, err := v.Verify(ctx, store.Authtoken, f.tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyHitRestricted compares, in one run, cache hits of a credential without
// restrictions (an authtoken) and of access tokens with 8 scopes and a 16-entry address
// allow-list, all IPv4 or all IPv6, whose last entry holds the client: the allow-list loop
// runs to its end. Every case verifies with the client's address (VerifyTokenFrom).
func BenchmarkVerifyHitRestricted(b *testing.B) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ids := id.NewGenerator(clk, rand.Reader)
	st, err := memstore.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	acct, _ := ids.New(id.Account)
	bot, _ := ids.NewIn(id.BotUser, acct)
	var v4, v6 []string
	for i := range credential.MaxAllowedIPs / 2 {
		v4 = append(v4, fmt.Sprintf("10.%d.0.0/16", i))
		v6 = append(v6, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)).String())
	}
	scopes := []string{"credentials:read", "credentials:write", "bot_users:read", "account:read", "events:read",
		"members:read", "roles:read", "tunnel:start"}
	var h *credential.Hasher
	tokens := map[string]string{}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: acct, Plan: "payg"}); err != nil {
			return err
		}
		if err := tx.PutBotUser(ctx, store.BotUser{ID: bot, AccountID: acct, Name: "ci", Active: true}); err != nil {
			return err
		}
		for name, c := range map[string]store.Credential{
			"plain": {Kind: store.Authtoken, ACL: []string{"bind:*.example.com"}},
			"v4":    {Kind: store.AccessToken, ACL: []string{"bind:*.example.com"}, AllowedIPs: v4, Scopes: scopes},
			"v6":    {Kind: store.AccessToken, ACL: []string{"bind:*.example.com"}, AllowedIPs: v6, Scopes: scopes},
		} {
			prefix := id.Authtoken
			if c.Kind == store.AccessToken {
				prefix = id.AccessToken
			}
			c.ID, _ = ids.NewIn(prefix, acct)
			c.AccountID, c.OwnerID = acct, bot
			tok, err := credential.NewToken(c.Kind, c.ID, rand.Reader)
			if err != nil {
				return err
			}
			c.SecretHash = h.HashHex(tok.Token())
			tokens[name] = tok.Reveal()
			if err := tx.PutCredential(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	v := runningVerifier(b, &benchFixture{st: st})
	last4 := netip.MustParseAddr("10.15.200.1")
	last6 := netip.MustParseAddr("2001:db8:f::1")
	for _, c := range []struct {
		name  string
		token string
		addr  netip.Addr
	}{
		{"plain", tokens["plain"], last4},
		{"cidr16-v4-scopes8", tokens["v4"], last4},
		{"cidr16-v6-scopes8", tokens["v6"], last6},
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := v.VerifyTokenFrom(ctx, c.token, c.addr); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.VerifyTokenFrom(ctx, c.token, c.addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
