package iamkit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
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
