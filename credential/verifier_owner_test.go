package credential_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// TestResult_NamesTheOwner: a verification tells whether the owner is a bot user and what
// events name it by (the bot's name, the user's email), enough to build the acting
// principal with no store read; a renamed bot or a user whose email changed is named anew
// once the change reaches the cache.
func TestResult_NamesTheOwner(t *testing.T) {
	e := newEnv(t)
	botTok, _ := e.issue(store.Authtoken, e.bot, nil)
	user := e.newID(id.User, "")
	e.update(func(tx store.Tx) error {
		if err := tx.PutUser(e.ctx, store.User{ID: user, Email: "ann@example.com"}); err != nil {
			return err
		}
		return tx.PutMembership(e.ctx, store.Membership{AccountID: e.account, UserID: user, Status: store.MemberActive})
	})
	userTok, _ := e.issue(store.APIKey, user, nil)

	check := func(what, tok string, bot bool, subject string) {
		t.Helper()
		for range 2 { // a miss, then a hit
			res, err := e.v.VerifyToken(e.ctx, tok)
			if err != nil || res.OwnerBot != bot || res.Subject != subject {
				t.Fatalf("%s: %+v, %v; want bot=%v subject %q", what, res, err, bot, subject)
			}
			p := res.Principal(identity.SourceAPI)
			wantKind := identity.KindUser
			if bot {
				wantKind = identity.KindBotUser
			}
			if p.ID != res.OwnerID || p.Kind != wantKind || p.AccountID != e.account || p.Subject != subject || p.CredentialID != res.CredentialID || p.Validate() != nil {
				t.Fatalf("%s: principal %+v", what, p)
			}
		}
	}
	check("bot", botTok.Reveal(), true, "ci")
	check("user", userTok.Reveal(), false, "ann@example.com")

	e.update(func(tx store.Tx) error {
		b, err := tx.BotUser(e.ctx, e.bot)
		if err != nil {
			return err
		}
		b.Name = "deploy"
		return tx.PutBotUser(e.ctx, b)
	})
	check("renamed bot", botTok.Reveal(), true, "deploy")
	e.update(func(tx store.Tx) error { return tx.PutUser(e.ctx, store.User{ID: user, Email: "ann@new.example.com"}) })
	check("user with a new email", userTok.Reveal(), false, "ann@new.example.com")
}

// TestVerifyToken_AnyKind: VerifyToken takes a token of any kind, read from its prefix;
// Verify keeps refusing a token of another kind than asked.
func TestVerifyToken_AnyKind(t *testing.T) {
	e := newEnv(t)
	at, _ := e.issue(store.Authtoken, e.bot, nil)
	ak, _ := e.issue(store.APIKey, e.bot, nil)
	for _, c := range []struct {
		tok  string
		kind store.CredentialKind
	}{{at.Reveal(), store.Authtoken}, {ak.Reveal(), store.APIKey}} {
		res, err := e.v.VerifyToken(e.ctx, c.tok)
		if err != nil || res.Kind != c.kind {
			t.Errorf("VerifyToken(%s) = %+v, %v", c.kind, res, err)
		}
	}
	if _, err := e.v.Verify(e.ctx, store.Authtoken, ak.Reveal()); !errors.Is(err, credential.ReasonWrongKind) {
		t.Errorf("Verify of an API key as an authtoken: %v", err)
	}
	if _, err := e.v.VerifyToken(e.ctx, "ghp_not-ours"); !errors.Is(err, credential.ReasonMalformed) || store.CodeOf(err) != credential.CodeMalformedToken {
		t.Errorf("VerifyToken of garbage: %v", err)
	}
}

// TestReasons_MatchTheStoreKinds: every rejection is store.ErrUnauthenticated, but an
// unavailable store, which is store.ErrUnavailable (retrying may succeed); each has its code.
func TestReasons_MatchTheStoreKinds(t *testing.T) {
	codes := map[string]bool{}
	for _, r := range []credential.Reason{
		credential.ReasonMalformed, credential.ReasonWrongKind, credential.ReasonUnknown, credential.ReasonRevoked,
		credential.ReasonExpired, credential.ReasonOwnerInactive, credential.ReasonUnavailable,
	} {
		var err error = r
		kind := store.ErrUnauthenticated
		if r == credential.ReasonUnavailable {
			kind = store.ErrUnavailable
		}
		if store.KindOf(err) != kind || codes[store.CodeOf(err)] || store.CodeOf(err) == store.CodeInternal {
			t.Errorf("%v: kind %v, code %q", r, store.KindOf(err), store.CodeOf(err))
		}
		codes[store.CodeOf(err)] = true
	}
}

// TestVerify_HitAndRejectDoNotAllocate: a cache hit of Verify and of VerifyToken, and the
// rejection of a malformed token or of one of another kind, make no allocation.
func TestVerify_HitAndRejectDoNotAllocate(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.issue(store.Authtoken, e.bot, nil)
	if _, err := e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"Verify hit":      func() { e.v.Verify(e.ctx, store.Authtoken, tok.Reveal()) },
		"VerifyToken hit": func() { e.v.VerifyToken(e.ctx, tok.Reveal()) },
		"malformed":       func() { e.v.Verify(e.ctx, store.Authtoken, "iat_nope") },
		"wrong kind":      func() { e.v.Verify(e.ctx, store.APIKey, tok.Reveal()) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}
