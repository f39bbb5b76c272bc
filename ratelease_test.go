package iamkit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestRateLimit_LeasesHoldAcrossProcessesOnRedis: two IAMs on one Redis (two processes)
// count an account's API requests against one limit, though each takes its tokens in leases
// (fewer round trips than requests): together they let exactly the limit through (plus what
// the bucket refilled while the test ran, at the rate), however the requests alternate,
// and the tokens a process leased and did not spend go back to the other once its lease
// has expired.
func TestRateLimit_LeasesHoldAcrossProcessesOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	clk := clock.NewFake(time.Now()) // the leases' clock; Redis keeps the buckets' own
	rate := store.Rate{Limit: 100, Period: time.Minute}
	metered := identity.PayAsYouGo()
	metered.Name = "metered"
	metered.APIRate = rate
	catalog, err := identity.NewCatalog(metered)
	if err != nil {
		t.Fatal(err)
	}
	trips := &redistest.RoundTrips{Marked: true}
	prefix := srv.Prefix + ":" + redistest.UniquePrefix()
	open := func() *iamkit.IAM {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		client.AddHook(trips)
		t.Cleanup(func() { client.Close() })
		st, err := redisstore.New(t.Context(), client, redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		iam, err := iamkit.New(st, catalog, iamkit.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		return iam
	}
	a, b := open(), open()
	ctx := t.Context()
	boot, err := a.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "m", AccountName: "M", Plan: metered.Name, AdminEmail: "a@m.test"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.Directory().Principal(ctx, boot.Account.ID, boot.Admin.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	let := func(iam *iamkit.IAM) bool {
		t.Helper()
		h := iam.RateLimit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		rctx := redistest.Mark(iamkit.WithPrincipal(ctx, admin))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(rctx, "GET", "/things", nil))
		switch {
		case rec.Code == http.StatusNoContent:
			return true
		case rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") != "":
			return false
		}
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
		return false
	}
	start := time.Now()
	let(a) // the plan's read, apart from the count of round trips
	let(b)
	admitted, before := 2, trips.N()
	for range 4 { // a ramps its leases up: 1, 2, 4 tokens; it holds 3 it has not spent
		if !let(a) {
			t.Fatal("refused within the limit")
		}
		admitted++
	}
	// The two alternate, then b alone, until both are refused.
	for i := 0; i < 4*rate.Limit; i++ {
		iam := b
		if i%2 == 0 && i < 40 {
			iam = a
		}
		if let(iam) {
			admitted++
		} else if iam == b && i >= 40 {
			break
		}
	}
	drained := admitted
	clk.Advance(2 * time.Second) // the leases expire: the next Take of each gives back the rest
	for _, iam := range []*iamkit.IAM{a, b, a, b} {
		for let(iam) {
			admitted++
		}
	}
	refill := int(time.Since(start).Seconds()*float64(rate.Limit)/rate.Period.Seconds()) + 1
	requests := trips.N() - before
	t.Logf("%d admitted (%d before the leases expired), %d round trips, %v", admitted, drained, requests, time.Since(start))
	if admitted < rate.Limit || admitted > rate.Limit+refill {
		t.Errorf("two processes let %d requests through, want %d (up to %d with the refill)", admitted, rate.Limit, rate.Limit+refill)
	}
	if drained >= rate.Limit {
		t.Errorf("%d let through before the leases expired: a had no unspent lease to give back", drained)
	}
	if requests*2 > int64(admitted) {
		t.Errorf("%d round trips for %d requests: the tokens were not leased", requests, admitted)
	}
}
