package iamkit_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// redisWorld is newWorld on a real Redis, with the Backend's calls counted.
func redisWorld(tb testing.TB) *world {
	tb.Helper()
	srv := redistest.Start(tb)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	tb.Cleanup(func() { client.Close() })
	ctx := context.Background()
	b, err := redisstore.NewBackend(ctx, client, redisstore.WithPrefix(srv.Prefix))
	if err != nil {
		tb.Fatal(err)
	}
	cb := &countingBackend{Backend: b}
	st := store.New(cb)
	tb.Cleanup(func() { st.Close() })
	iam, err := iamkit.New(st, plans(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if err := iam.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { iam.Close(context.Background()) })
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.PayAsYouGo().Name, AdminEmail: "admin@acme.test", APIKey: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := iam.Sync(ctx); err != nil {
		tb.Fatal(err)
	}
	return &world{t: tb, ctx: ctx, backend: cb, iam: iam, boot: boot}
}

// TestAuthenticateAuthorizeOnRedisReadsNoStore: over a real Redis, a warm Authenticate plus
// Require makes no call to the store at all.
func TestAuthenticateAuthorizeOnRedisReadsNoStore(t *testing.T) {
	w := redisWorld(t)
	token := w.boot.APIKey.Token.Reveal()
	call := func() {
		p, err := w.iam.Authenticate(w.ctx, token)
		if err == nil {
			err = w.iam.Require(w.ctx, p, rbac.CredentialsWrite)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	call()
	before := w.backend.calls.Load()
	for range 100 {
		call()
	}
	if n := w.backend.calls.Load() - before; n != 0 {
		t.Fatalf("100 warm Authenticate+Require made %d store calls, want 0", n)
	}
}

// BenchmarkAuthenticateAuthorize measures Authenticate then Require on a cache hit over a real
// Redis, beside BenchmarkAuthenticateAuthorize/verify_hit, the Verifier's hit alone, as the
// reference measured in the same run.
func BenchmarkAuthenticateAuthorize(b *testing.B) {
	w := redisWorld(b)
	token := w.boot.APIKey.Token.Reveal()
	ctx := w.ctx
	if _, err := w.iam.Authenticate(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.Run("verify_hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := w.iam.Verifier().VerifyToken(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("authenticate_authorize", func(b *testing.B) {
		before := w.backend.calls.Load()
		b.ReportAllocs()
		for b.Loop() {
			p, err := w.iam.Authenticate(ctx, token)
			if err == nil {
				err = w.iam.Require(ctx, p, rbac.CredentialsWrite)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(w.backend.calls.Load()-before)/float64(b.N), "store-calls/op")
	})
}

// BenchmarkIPRestriction measures AuthenticateFrom on a cache hit (memstore) for an account
// whose API is restricted to 16 rules (v4 and v6, the address allowed by the last), beside
// the same call for an account without restrictions, the reference in the same run.
func BenchmarkIPRestriction(b *testing.B) {
	for _, bc := range []struct {
		name  string
		rules int
	}{{"no_restriction", 0}, {"api_restriction_16_rules", 16}} {
		b.Run(bc.name, func(b *testing.B) {
			w := newWorld(b)
			addr := netip.MustParseAddr("192.0.2.7")
			if bc.rules > 0 {
				var rules [][2]string
				for i := range bc.rules - 1 {
					rules = append(rules, [2]string{store.IPAllow, fmt.Sprintf("2001:db8:%x::/48", i)})
				}
				rules = append(rules, [2]string{store.IPAllow, "192.0.2.0/24"})
				pol, _ := w.ipPolicy(rules...)
				w.ipRestriction(store.RestrictAPI, true, pol.ID)
			}
			token := w.boot.APIKey.Token.Reveal()
			if _, err := w.iam.AuthenticateFrom(w.ctx, token, addr); err != nil {
				b.Fatal(err)
			}
			before := w.backend.calls.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := w.iam.AuthenticateFrom(w.ctx, token, addr); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(w.backend.calls.Load()-before)/float64(b.N), "store-calls/op")
		})
	}
}
