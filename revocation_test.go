package iamkit_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// stuckFeed is a store whose change feed stops delivering while stuck is set: Changes waits
// for its caller's deadline, as a feed read stalled by a busy store or a paused process
// would, and a call already waiting when it sticks delivers nothing. Head still answers, so
// the follower can tell it is behind.
type stuckFeed struct {
	store.Store
	stuck atomic.Bool
}

func (s *stuckFeed) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	if !s.stuck.Load() {
		b, err := s.Store.Changes(ctx, after)
		if !s.stuck.Load() {
			return b, err
		}
		// Stuck while it waited: what it read is never delivered (the cursor stays).
	}
	<-ctx.Done()
	return store.Batch{}, ctx.Err()
}

// TestRevocationBound: with WithRevocationBound, once deleting a bot user or removing a
// member returns, another instance's Verifier refuses the owner's credentials it had cached,
// although its change feed has not delivered the removal (it is stuck): the removal waited
// out the bound, and that Verifier, out of sync for longer, reads the store. Without the
// bound, the same Verifier still serves the credential from its cache.
func TestRevocationBound(t *testing.T) {
	const bound = 30 * time.Millisecond
	for _, c := range []struct {
		name    string
		opts    []iamkit.Option
		refused bool
	}{
		{"bound", []iamkit.Option{iamkit.WithRevocationBound(bound)}, true},
		{"no bound", nil, false},
	} {
		for _, owner := range []string{"bot user", "member"} {
			t.Run(c.name+"/"+owner, func(t *testing.T) {
				ctx := t.Context()
				st, err := memstore.New()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				feed := &stuckFeed{Store: st}
				a, b := startIAM(t, st, c.opts...), startIAM(t, feed, c.opts...)
				boot, err := a.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
					Plan: identity.Enterprise().Name, AdminEmail: "admin@acme.test", AdminName: "Ada"})
				if err != nil {
					t.Fatal(err)
				}
				by := boot.Admin
				remove, token := ownerWithToken(t, a, by, owner)
				if err := b.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := b.Authenticate(ctx, token); err != nil {
					t.Fatalf("before the removal: %v", err)
				}
				feed.stuck.Store(true)
				start := time.Now()
				if err := remove(ctx); err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); c.refused && took < bound {
					t.Fatalf("the removal returned after %v, before the bound of %v", took, bound)
				}
				_, err = b.Authenticate(ctx, token)
				if got := err != nil; got != c.refused {
					t.Fatalf("the other instance, its feed stuck, right after the removal: %v; want refused %v", err, c.refused)
				}
				if c.refused && !errors.Is(err, credential.ReasonUnknown) {
					t.Fatalf("refused with %v, want %v", err, credential.ReasonUnknown)
				}
			})
		}
	}
}

// startIAM starts an IAM over st until the test ends.
func startIAM(t *testing.T, st store.Store, opts ...iamkit.Option) *iamkit.IAM {
	t.Helper()
	iam, err := iamkit.New(st, plans(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := iam.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(context.WithoutCancel(t.Context())) })
	return iam
}

// ownerWithToken makes an owner of the kind named (a bot user, or a member) with an
// authtoken, and returns the call that removes it and the token.
func ownerWithToken(t *testing.T, iam *iamkit.IAM, by identity.Principal, owner string) (func(context.Context) error, string) {
	t.Helper()
	ctx := t.Context()
	var (
		ownerID string
		remove  func(context.Context) error
	)
	switch owner {
	case "bot user":
		bot, err := iam.BotUsers().Create(ctx, by, botuser.CreateParams{Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		ownerID = bot.ID
		remove = func(ctx context.Context) error { return iam.BotUsers().Delete(ctx, by, bot.ID) }
	default:
		u, err := iam.Directory().CreateUser(ctx, "dev@acme.test", "Dev")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iam.Directory().AddMember(ctx, by, u.ID, []string{rbac.RoleDeveloper}); err != nil {
			t.Fatal(err)
		}
		ownerID = u.ID
		remove = func(ctx context.Context) error { return iam.Directory().RemoveMember(ctx, by, u.ID) }
	}
	cred, err := iam.Credentials().Create(ctx, by, credential.CreateRequest{Kind: store.Authtoken, OwnerID: ownerID})
	if err != nil {
		t.Fatal(err)
	}
	return remove, cred.Token.Reveal()
}

// TestRevocationBoundOutOfRange: the bound is refused outside its range, naming it.
func TestRevocationBoundOutOfRange(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []time.Duration{-time.Second, iamkit.MinRevocationBound - 1, identity.MaxRevocationWait + 1} {
		_, err := iamkit.New(st, plans(t), iamkit.WithRevocationBound(d))
		var se *store.Error
		if !errors.As(err, &se) || se.Field != "revocation_bound" || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("WithRevocationBound(%v): %v", d, err)
		}
	}
}
