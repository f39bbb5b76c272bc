package rbac_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// countingStore counts read transactions, to prove a warm Check does not touch the store.
type countingStore struct {
	store.Store
	views atomic.Int64
}

func (c *countingStore) View(ctx context.Context, fn func(store.Reader) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

func TestCache_WarmCheckNeitherReadsNorAllocates(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	cs := &countingStore{Store: e.Store}
	authz := testenv.Authz(t, cs, e.Plans, rbac.WithClock(e.Clock))
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() { defer close(done); authz.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := authz.Sync(e.Ctx); err != nil || !authz.Caching() {
		t.Fatalf("Sync: %v, caching %v", err, authz.Caching())
	}
	if d, err := authz.Check(e.Ctx, dev, rbac.CredentialsWrite); err != nil || !d.Allowed {
		t.Fatalf("cold Check = %v, %v", d, err)
	}
	before := cs.views.Load()
	allocs := testing.AllocsPerRun(1000, func() {
		if d, _ := authz.Check(e.Ctx, dev, rbac.CredentialsWrite); !d.Allowed {
			t.Fatal("denied")
		}
		if d, _ := authz.Check(e.Ctx, dev, rbac.BillingManage); d.Allowed {
			t.Fatal("allowed")
		}
	})
	if allocs != 0 {
		t.Errorf("warm Check allocates %v times", allocs)
	}
	if n := cs.views.Load() - before; n != 0 {
		t.Errorf("warm Check read the store %d times", n)
	}
}

// Every kind of change that affects a grant reaches the cache through the feed.
func TestCache_FollowsTheFeed(t *testing.T) {
	e := newEnv(t)
	e.run()
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	bot := e.bot(admin, "ci")
	expect := func(step string, p identity.Principal, perm rbac.Permission, allowed bool, reason rbac.Reason) {
		t.Helper()
		e.sync()
		if d := e.check(p, perm); d.Allowed != allowed || d.Reason != reason {
			t.Fatalf("%s: %v", step, d)
		}
	}
	expect("warm", dev, rbac.CredentialsWrite, true, rbac.ReasonGranted)
	expect("warm bot", bot, rbac.CredentialsWrite, true, rbac.ReasonGranted)
	expect("warm admin", admin, rbac.SSOManage, false, rbac.ReasonNotInPlan)

	e.Dir.DisableMember(e.Ctx, admin, dev.ID)
	expect("disabled", dev, rbac.CredentialsWrite, false, rbac.ReasonInactive)
	e.Dir.EnableMember(e.Ctx, admin, dev.ID)
	expect("enabled", dev, rbac.CredentialsWrite, true, rbac.ReasonGranted)
	e.Dir.SetMemberRoles(e.Ctx, admin, dev.ID, []string{rbac.RoleDeveloperReadOnly})
	expect("demoted", dev, rbac.CredentialsWrite, false, rbac.ReasonNoRole)

	off := false
	e.bots.Update(e.Ctx, admin, bot.ID, botuser.UpdateParams{Active: &off})
	expect("bot deactivated", bot, rbac.CredentialsWrite, false, rbac.ReasonInactive)
	e.bots.Delete(e.Ctx, admin, bot.ID)
	expect("bot deleted", bot, rbac.CredentialsWrite, false, rbac.ReasonNotMember)

	e.Dir.ChangePlan(e.Ctx, admin, "enterprise")
	expect("plan changed", admin, rbac.SSOManage, true, rbac.ReasonGranted)
	role, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "r", Permissions: []rbac.Permission{rbac.BillingRead}})
	if err != nil {
		t.Fatal(err)
	}
	e.Dir.SetMemberRoles(e.Ctx, admin, dev.ID, []string{role.ID})
	expect("custom role", dev, rbac.BillingRead, true, rbac.ReasonGranted)
	e.Authz.UpdateRole(e.Ctx, admin, role.ID, rbac.RoleSpec{Name: "r", Permissions: []rbac.Permission{rbac.EventsRead}})
	expect("custom role updated", dev, rbac.BillingRead, false, rbac.ReasonNoRole)
	e.Dir.RemoveMember(e.Ctx, admin, dev.ID)
	expect("removed", dev, rbac.EventsRead, false, rbac.ReasonNotMember)
}

// Without a live feed the cache is off and every Check reads the store: never stale.
func TestCache_OffWithoutFeed(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	if e.Authz.Caching() {
		t.Fatal("caching before Run")
	}
	if d := e.check(dev, rbac.CredentialsWrite); !d.Allowed {
		t.Fatal(d)
	}
	e.Dir.DisableMember(e.Ctx, admin, dev.ID)
	if d := e.check(dev, rbac.CredentialsWrite); d.Allowed { // no Sync needed
		t.Fatal(d)
	}
}

// When the feed has not been confirmed in sync within the maximum staleness, the cache
// switches itself off (fail closed).
func TestCache_FailsClosedWhenFeedGoesQuiet(t *testing.T) {
	e := newEnv(t, rbac.WithMaxStaleness(40*time.Millisecond), rbac.WithFeedPollInterval(time.Hour))
	e.run()
	_, admin := e.Account("admin@example.com", "payg")
	e.check(admin, rbac.MembersRead)
	e.sync()                     // every commit applied: the follower now waits on a quiet feed
	e.Clock.Advance(time.Minute) // the follower's last confirmation is now a minute old
	deadline := time.Now().Add(5 * time.Second)
	for e.Authz.Caching() {
		if time.Now().After(deadline) {
			t.Fatal("cache still on with a stale feed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := e.check(admin, rbac.MembersRead); !d.Allowed {
		t.Fatal(d)
	}
	e.sync() // confirmed in sync again
	if !e.Authz.Caching() {
		t.Fatal("cache not back on after Sync")
	}
}
