package iamkit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestRateLimit: RateLimit counts requests per credential and per account at the rates of
// the account's plan, refuses the one over either with 429, Retry-After and the RateLimit
// headers, lets a credential's refused request cost its account nothing, and lets requests
// through again as the bucket refills.
func TestRateLimit(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	metered := identity.PayAsYouGo()
	metered.Name = "metered"
	metered.APIRate = store.Rate{Limit: 4, Period: time.Minute}
	metered.APICredentialRate = store.Rate{Limit: 3, Period: time.Minute}
	catalog, err := identity.NewCatalog(metered, identity.Free())
	if err != nil {
		t.Fatal(err)
	}
	st, err := memstore.New(memstore.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	iam, err := iamkit.New(st, catalog, iamkit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := iam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(context.Background()) })
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "m", AccountName: "M", Plan: "metered", AdminEmail: "a@m.test", APIKey: true})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := iam.Directory().Principal(ctx, boot.Account.ID, boot.Admin.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	second, err := iam.Credentials().Create(ctx, admin, credential.CreateRequest{Kind: store.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := iam.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	h := iam.BearerAuth(iam.RateLimit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	call := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, "GET", "/things", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	refused := func(rec *httptest.ResponseRecorder, field, wait string) {
		t.Helper()
		var body iamkit.ErrorBody
		if rec.Code != http.StatusTooManyRequests || json.Unmarshal(rec.Body.Bytes(), &body) != nil ||
			body.Error.Code != iamkit.CodeRateLimited || body.Error.Field != field {
			t.Fatalf("got %d %s, want 429 %s about the %s", rec.Code, rec.Body, iamkit.CodeRateLimited, field)
		}
		if h := rec.Header(); h.Get("Retry-After") != wait || h.Get("RateLimit-Reset") != wait || h.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("headers %v, want Retry-After and RateLimit-Reset %s, RateLimit-Remaining 0", h, wait)
		}
	}
	first, other := boot.APIKey.Token.Reveal(), second.Token.Reveal()
	for i := range 3 {
		rec := call(first)
		if rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit-Limit") != "4" || rec.Header().Get("RateLimit-Policy") != "4;w=60" {
			t.Fatalf("request %d: %d %v", i+1, rec.Code, rec.Header())
		}
	}
	refused(call(first), "credential", "20") // 3 per minute: one back every 20 s
	if rec := call(other); rec.Code != http.StatusNoContent {
		t.Fatalf("the account's fourth request, through another key: %d %s", rec.Code, rec.Body)
	}
	refused(call(other), "account", "15") // 4 per minute: one back every 15 s
	clk.Advance(15 * time.Second)
	if rec := call(other); rec.Code != http.StatusNoContent {
		t.Fatalf("after 15 s: %d %s", rec.Code, rec.Body)
	}
	// The account's refusal above counted against the key (its own check comes first): its
	// third request in 15 s is over its 3 per minute.
	refused(call(other), "credential", "5")

	// Without an authenticated principal there is nobody to count.
	rec := httptest.NewRecorder()
	iam.RateLimit(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("no principal: %d", rec.Code)
	}
}

// BenchmarkRateLimit measures a request through BearerAuth and RateLimit, on memstore (the
// in-process limiter) and on a real Redis (redis_rate: one round trip), beside the same
// request through BearerAuth alone, the reference measured in the same run. The plan's rate
// is high enough never to refuse.
func BenchmarkRateLimit(b *testing.B) {
	for _, backend := range []string{"memory", "redis"} {
		b.Run(backend, func(b *testing.B) {
			iam, token := rateBench(b, backend == "redis")
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			for _, h := range []struct {
				name string
				h    http.Handler
			}{
				{"bearer_auth", iam.BearerAuth(ok)},
				{"bearer_auth_rate_limit", iam.BearerAuth(iam.RateLimit(ok))},
			} {
				b.Run(h.name, func(b *testing.B) {
					req := httptest.NewRequestWithContext(b.Context(), "GET", "/things", nil)
					req.Header.Set("Authorization", "Bearer "+token)
					b.ReportAllocs()
					for b.Loop() {
						rec := httptest.NewRecorder()
						h.h.ServeHTTP(rec, req)
						if rec.Code != http.StatusNoContent {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}

// rateBench is an IAM on memstore or a real Redis whose account's plan allows a billion API
// requests a second, bootstrapped, with its administrator's API key.
func rateBench(b *testing.B, onRedis bool) (*iamkit.IAM, string) {
	var st store.Store
	if onRedis {
		srv := redistest.Start(b)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		b.Cleanup(func() { client.Close() })
		s, err := redisstore.New(b.Context(), client, redisstore.WithPrefix(srv.Prefix))
		if err != nil {
			b.Fatal(err)
		}
		st = s
	} else {
		s, err := memstore.New()
		if err != nil {
			b.Fatal(err)
		}
		st = s
	}
	b.Cleanup(func() { st.Close() })
	unlimited := identity.PayAsYouGo()
	unlimited.APIRate = store.Rate{Limit: 1_000_000_000, Period: time.Second}
	catalog, err := identity.NewCatalog(unlimited)
	if err != nil {
		b.Fatal(err)
	}
	iam, err := iamkit.New(st, catalog)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := iam.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { iam.Close(ctx) })
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "b", AccountName: "B", Plan: unlimited.Name, AdminEmail: "a@b.test", APIKey: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := iam.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	return iam, boot.APIKey.Token.Reveal()
}
