package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/iamkit/iamkit/examples/internal/storeopen"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
)

// TestRateLimitSharedOnRedis: two API servers, each with its own IAM and its own Redis
// client (as two processes), on one Redis share an account's rate limit: requests through
// either count against it, and once it is spent both refuse with 429, ERR_NGROK_226 and the
// retry headers.
func TestRateLimitSharedOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	url := redistest.Start(t, redistest.WithPrivate()).URL
	plans := examplePlans()
	for i := range plans {
		plans[i].APIRate = store.Rate{Limit: 10, Period: time.Minute}
	}
	catalog, err := identity.NewCatalog(plans...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var (
		bases []string
		key   string
	)
	for range 2 {
		st, closeStore, err := storeopen.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeStore)
		srv := httptest.NewUnstartedServer(nil)
		base := "http://" + srv.Listener.Addr().String()
		iam, _, err := newIAM(st, catalog, base, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := iam.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { iam.Close(ctx) })
		b, err := iam.Bootstrap(ctx, bootstrapSpec("admin@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if boot := resultOf(b); boot.APIKey != "" {
			key = boot.APIKey
		}
		if srv.Config.Handler, err = newServer(deps{IAM: iam, BaseURL: base}); err != nil {
			t.Fatal(err)
		}
		srv.Start()
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
	}
	get := func(base string) *response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/credentials", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Ngrok-Version", "2")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return &response{t: t, status: resp.StatusCode, header: resp.Header, body: body}
	}
	for i := range 10 {
		if r := get(bases[i%2]); r.status != http.StatusOK || r.header.Get("RateLimit-Limit") != "10" {
			t.Fatalf("request %d, within the limit: %d %v", i+1, r.status, r.header)
		}
	}
	for _, base := range bases {
		r := get(base)
		r.wantError(http.StatusTooManyRequests, "ERR_NGROK_226")
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || wait < 1 || wait > 6 || r.header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("server %s over the shared limit: Retry-After %q, RateLimit-Remaining %q; want 1..6 s (one request back every 6 s), 0",
				base, r.header.Get("Retry-After"), r.header.Get("RateLimit-Remaining"))
		}
	}
}
