package iamkit_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestIPRestrictions_AcrossProcessesOnRedis: two IAMs on one Redis (two processes of one
// deployment). A restriction made, and a rule deleted, through one reaches the other's Guard
// through the change feed: after Sync it refuses, then refuses what the deleted rule let in.
func TestIPRestrictions_AcrossProcessesOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	open := func() *iamkit.IAM {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		t.Cleanup(func() { client.Close() })
		b, err := redisstore.NewBackend(t.Context(), client, redisstore.WithPrefix(srv.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		st := store.New(b)
		t.Cleanup(func() { st.Close() })
		iam, err := iamkit.New(st, plans(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := iam.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { iam.Close(context.Background()) })
		return iam
	}
	a, b := open(), open()
	ctx := t.Context()
	boot, err := a.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.PayAsYouGo().Name, AdminEmail: "admin@acme.test", APIKey: true})
	if err != nil {
		t.Fatal(err)
	}
	key := boot.APIKey.Token.Reveal()
	office, home := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")
	sync := func() {
		t.Helper()
		for _, iam := range []*iamkit.IAM{a, b} {
			if err := iam.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	sync()
	if _, err := b.AuthenticateFrom(ctx, key, home); err != nil { // b caches "no restrictions"
		t.Fatal(err)
	}

	svc := a.IPRestrictions()
	pol, err := svc.CreatePolicy(ctx, boot.Admin, iprestrict.PolicyParams{})
	if err != nil {
		t.Fatal(err)
	}
	var ruleIDs []string
	for _, cidr := range []string{"192.0.2.0/24", "2001:db8::/32"} {
		allow := store.IPAllow
		r, err := svc.CreateRule(ctx, boot.Admin, iprestrict.RuleParams{PolicyID: pol.ID, CIDR: &cidr, Action: &allow})
		if err != nil {
			t.Fatal(err)
		}
		ruleIDs = append(ruleIDs, r.ID)
	}
	enforced := true
	if _, err := svc.CreateRestriction(ctx, boot.Admin, iprestrict.RestrictionParams{Type: store.RestrictAPI,
		PolicyIDs: &[]string{pol.ID}, Enforced: &enforced}); err != nil {
		t.Fatal(err)
	}
	sync()
	_, err = b.AuthenticateFrom(ctx, key, netip.MustParseAddr("198.51.100.1"))
	wantIPRestricted(t, "the other process, after the restriction", err)
	if _, err := b.AuthenticateFrom(ctx, key, home); err != nil {
		t.Fatalf("the other process, from an allowed address: %v", err)
	}

	if err := svc.DeleteRule(ctx, boot.Admin, ruleIDs[1]); err != nil {
		t.Fatal(err)
	}
	sync()
	_, err = b.AuthenticateFrom(ctx, key, home)
	wantIPRestricted(t, "the other process, after the IPv6 rule was deleted", err)
	if _, err := b.AuthenticateFrom(ctx, key, office); err != nil {
		t.Errorf("the other process, from the office: %v", err)
	}
}
