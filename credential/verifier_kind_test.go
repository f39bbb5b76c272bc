package credential

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// An API key's secret re-wrapped as an authtoken (same ID body, "iat" prefix, checksum
// recomputed, which anyone can do) must not verify as an authtoken, from the store or from
// the cache.
func TestSecretRewrappedUnderAnotherKindIsRejected(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ids := id.NewGenerator(clk, rand.Reader)
	st := memT(t)
	acct, _ := ids.New(id.Account)
	bot, _ := ids.NewIn(id.BotUser, acct)
	key, _ := ids.NewIn(id.APIKey, acct)
	tok, err := NewToken(store.APIKey, key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: acct}); err != nil {
			return err
		}
		if err := tx.PutBotUser(ctx, store.BotUser{ID: bot, AccountID: acct, Name: "b", Active: true}); err != nil {
			return err
		}
		return tx.PutCredential(ctx, store.Credential{ID: key, AccountID: acct, Kind: store.APIKey, OwnerID: bot, SecretHash: (*Hasher)(nil).HashHex(tok.Token())})
	})
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(TokenPrefixAuthtoken + tok.Reveal()[kindPrefixLen:])
	encodeChecksum((*[ChecksumLen]byte)(forged[secretEnd:]), checksum(forged[:secretEnd]))
	if _, err := ParseToken(string(forged)); err != nil {
		t.Fatalf("the forged token should be well formed: %v", err)
	}

	direct := verifierT(t, st, WithClock(clk)) // not running: reads the store every time
	if _, err := direct.Verify(ctx, store.Authtoken, string(forged)); err != ReasonUnknown {
		t.Errorf("uncached: %v, want %v", err, ReasonUnknown)
	}

	cached := verifierT(t, st, WithClock(clk))
	go cached.Run(ctx)
	if err := cached.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cached.Verify(ctx, store.APIKey, tok.Reveal()); err != nil {
		t.Fatalf("the real API key: %v", err)
	}
	if _, err := cached.Verify(ctx, store.Authtoken, string(forged)); err != ReasonUnknown {
		t.Errorf("cached: %v, want %v", err, ReasonUnknown)
	}
}

func TestEqual32(t *testing.T) {
	var a, b [32]byte
	rand.Read(a[:])
	b = a
	if !equal32(&a, &b) {
		t.Fatal("equal digests compared unequal")
	}
	for i := range 32 {
		for _, bit := range []byte{1, 0x80} {
			c := a
			c[i] ^= bit
			if equal32(&a, &c) {
				t.Fatalf("digests differing in byte %d compared equal", i)
			}
		}
	}
}
