package rbac_test

import (
	"context"
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestBotUserPageRoundTripsOnRedis: listing a page of 100 bot users through botuser.Service
// is two round trips to Redis, whatever the page's size, while the Authorizer's cache is off
// (authorized in the same View: the account and the caller's membership in one read, then
// the page), and one once it is on (authorized from the cached grant: RequireRead).
func TestBotUserPageRoundTripsOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { c.Close() })
	rt := &redistest.RoundTrips{Marked: true}
	c.AddHook(rt)
	ctx := t.Context()
	st, err := redisstore.New(ctx, c, redisstore.WithPrefix(srv.Prefix+":"+redistest.UniquePrefix()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := identity.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dir.CreateUser(ctx, "admin@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := dir.CreateAccount(ctx, u.ID, "acme", "enterprise")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dir.Principal(ctx, acct.ID, u.ID, identity.SourceAPI, "")
	if err != nil {
		t.Fatal(err)
	}
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	if err := st.Update(ctx, func(tx store.Tx) error {
		for i := range 120 {
			bid, err := ids.NewIn(id.BotUser, acct.ID)
			if err != nil {
				return err
			}
			if err := tx.PutBotUser(ctx, store.BotUser{ID: bid, AccountID: acct.ID, Name: "bot-" + strconv.Itoa(i), Active: true, CreatedAt: time.Now().UTC()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pages := func(t *testing.T, want int64) {
		t.Helper()
		ctx := redistest.Mark(ctx)
		for _, limit := range []int{1, 100} {
			least := int64(1 << 30)
			for range 3 { // the least of three: a run that dials also counts its handshake
				before := rt.N()
				bs, err := bots.List(ctx, admin, store.Page{Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(bs) != limit {
					t.Fatalf("a page of %d bot users, want %d", len(bs), limit)
				}
				least = min(least, rt.N()-before)
			}
			if least != want {
				t.Errorf("a page of %d bot users took %d round trips, want %d", limit, least, want)
			}
		}
	}
	pages(t, 2) // the cache is off: Run is not running
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); authz.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := authz.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !authz.Caching() {
		t.Fatal("the cache is off after Sync")
	}
	pages(t, 1)
}
