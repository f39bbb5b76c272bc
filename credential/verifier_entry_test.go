package credential

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// TestEntrySize pins the cache entry at 96 bytes, the allocator's size class below 112: one
// more byte of fields costs every cached credential 16 (issue 12's bound is 250 B each).
func TestEntrySize(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 96 {
		t.Errorf("unsafe.Sizeof(entry{}) = %d, want 96", got)
	}
}

// TestNewEntry_ACLInlineOrShared checks what a cache entry holds for an ACL: the first
// maxInternedACLs rule lists are shared between entries; later ones are encoded after the
// ID in the entry's own text; either way the entry gives back the ID, the kind and the ACL.
func TestNewEntry_ACLInlineOrShared(t *testing.T) {
	v := verifierT(t, memT(t))
	owner := store.Owner{ID: "bot_1", State: store.OwnerActive, Bot: true, Subject: "bot"}
	cred := func(kind store.CredentialKind, id string, rules ...string) store.Credential {
		c := store.Credential{ID: id, AccountID: "ac_1", Kind: kind, OwnerID: owner.ID,
			SecretHash: hex.EncodeToString(make([]byte, 32)), ACL: rules}
		if kind == store.AccessToken {
			c.Scopes = []string{"no-such-permission"}
		}
		return c
	}
	newEntry := func(c store.Credential) *entry {
		t.Helper()
		e, err := v.newEntry(c, owner, 0, false)
		if err != nil {
			t.Fatalf("newEntry(%q): %v", c.ID, err)
		}
		return e
	}
	check := func(e *entry, c store.Credential, shared bool) {
		t.Helper()
		acl := e.acl()
		if e.id() != c.ID || e.kind.kind() != c.Kind || !slices.Equal(acl.Rules(), c.ACL) || (e.shared != nil) != shared {
			t.Errorf("entry of %q %q %q: id %q kind %q rules %q shared %v; want shared %v",
				c.ID, c.Kind, c.ACL, e.id(), e.kind.kind(), acl.Rules(), e.shared != nil, shared)
		}
	}
	empty := cred(store.Authtoken, testAuthtokenID)
	if e := newEntry(empty); e.text != empty.ID || e.more != nil {
		t.Errorf("an entry without ACL, allow-list or scope: text %q, more %v; want the ID alone and nil", e.text, e.more)
	} else {
		check(e, empty, false)
	}
	first := cred(store.APIKey, testAPIKeyID, "bind:a.example.com", "bind:app=*")
	a, b := newEntry(first), newEntry(first)
	check(a, first, true)
	if a.shared != b.shared || a.text != first.ID {
		t.Errorf("two entries of the same rules do not share one ACL: %p %p, text %q", a.shared, b.shared, a.text)
	}
	for i := len(v.acls.m); i < maxInternedACLs; i++ {
		newEntry(cred(store.Authtoken, testAuthtokenID, "bind:fill-"+strconv.Itoa(i)+".example.com"))
	}
	own := cred(store.AccessToken, testAccessTokenID, "bind:own.Example.com", "bind:1.tcp.example.com:20002")
	e := newEntry(own)
	check(e, own, false)
	if !strings.HasPrefix(e.text, own.ID) || len(e.text) == len(own.ID) || e.more == nil || !e.more.scope.Limited() {
		t.Errorf("an entry past the interned ACLs: text %q, more %v; want the ID and the ACL's encoding, and a scope", e.text, e.more)
	}
	if acl := e.acl(); !acl.AllowsBind("OWN.example.com") || !acl.AllowsBind("1.tcp.example.com:20002") || acl.AllowsBind("a.example.com") {
		t.Errorf("the entry's own ACL %v decides wrongly", acl)
	}
	check(newEntry(first), first, true) // still shared: interned before the table filled
}

// TestNewEntry_AllowList checks that an entry's allow-list is kept and enforced.
func TestNewEntry_AllowList(t *testing.T) {
	v := verifierT(t, memT(t))
	c := store.Credential{ID: testAuthtokenID, AccountID: "ac_1", Kind: store.Authtoken, OwnerID: "bot_1",
		SecretHash: hex.EncodeToString(make([]byte, 32)), AllowedIPs: []string{"10.0.0.0/8"}}
	e, err := v.newEntry(c, store.Owner{ID: "bot_1", State: store.OwnerActive}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if e.more == nil || !e.more.allow.Allows(netip.MustParseAddr("10.1.2.3")) || e.more.allow.Allows(netip.MustParseAddr("11.0.0.1")) ||
		e.more.scope.Limited() {
		t.Errorf("entry with allow-list 10.0.0.0/8: more = %+v", e.more)
	}
}

// TestLoadToken_KeySharesTheEntryID: a token loaded into the cache is keyed by the body of
// the entry's own ID, so the map key keeps no second copy of the ID alive (48 bytes per
// cached token), and the hit gives the ID and the ACL back.
func TestLoadToken_KeySharesTheEntryID(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	ids := id.NewGenerator(clk, rand.Reader)
	st := memT(t)
	acct, _ := ids.New(id.Account)
	bot, _ := ids.NewIn(id.BotUser, acct)
	cid, _ := ids.NewIn(id.Authtoken, acct)
	tok, err := NewToken(store.Authtoken, cid, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rules := []string{"bind:a.example.com"}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: acct}); err != nil {
			return err
		}
		if err := tx.PutBotUser(ctx, store.BotUser{ID: bot, AccountID: acct, Name: "b", Active: true}); err != nil {
			return err
		}
		return tx.PutCredential(ctx, store.Credential{ID: cid, AccountID: acct, Kind: store.Authtoken, OwnerID: bot,
			SecretHash: (*Hasher)(nil).HashHex(tok.Token()), ACL: rules})
	})
	if err != nil {
		t.Fatal(err)
	}
	v := verifierT(t, st, WithClock(clk))
	go v.Run(ctx)
	if err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a miss, then a hit
		res, err := v.Verify(ctx, store.Authtoken, tok.Reveal())
		if err != nil || res.CredentialID != cid || !slices.Equal(res.ACL.Rules(), rules) {
			t.Fatalf("Verify: %+v, %v; want %s with ACL %q", res, err, cid, rules)
		}
	}
	body := id.Body(cid)
	sh := &v.shards[maphash.String(v.seed, body)%numShards]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for key, e := range sh.creds {
		start := uintptr(unsafe.Pointer(unsafe.StringData(e.text)))
		at := uintptr(unsafe.Pointer(unsafe.StringData(key)))
		if key != body || at < start || at >= start+uintptr(len(e.text)) {
			t.Errorf("the cache's key %q is not within the entry's text %q", key, e.text)
		}
		return
	}
	t.Error("the token is not cached")
}
