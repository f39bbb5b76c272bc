package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// pagePath is the request the page benchmark and test send: the first 100 of 120 bot users.
const pagePath = "/bot_users?limit=100"

// requestRoundTrips counts the round trips made for API requests (the handler marks their
// contexts), not the change feed's reads, which share the client. client is the client it
// is hooked to, for the server's own statistics.
type requestRoundTrips struct {
	redistest.RoundTrips
	client *redis.Client
}

// serverTime returns the time the Redis server spent running commands so far (INFO
// commandstats, every command) and that time per command, or 0 without a Redis.
func (r *requestRoundTrips) serverTime(tb testing.TB) (time.Duration, map[string]time.Duration) {
	tb.Helper()
	if r.client == nil {
		return 0, nil
	}
	info, err := r.client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total time.Duration
	per := map[string]time.Duration{}
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				per[strings.TrimPrefix(name, "cmdstat_")] = time.Duration(n) * time.Microsecond
				total += time.Duration(n) * time.Microsecond
			}
		}
	}
	return total, per
}

// pageFixture is the API server on a store holding 120 bot users, behind a loopback HTTP
// server, and a bare handler behind another that answers every request with the bytes and
// headers the API server answered the page with.
type pageFixture struct {
	api, bare *httptest.Server
	key       string
	body      []byte // the page, as the API server wrote it
	rt        *requestRoundTrips
}

// redisPageStore returns a store on a Redis client of its own whose round trips for API
// requests rt counts.
func redisPageStore(tb testing.TB, rt *requestRoundTrips) store.Store {
	tb.Helper()
	srv := redistest.Start(tb, redistest.WithPrivate()) // its statistics are the page's alone
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	c.AddHook(rt)
	rt.client = c
	st, err := redisstore.New(tb.Context(), c, redisstore.WithPrefix(srv.Prefix+":"+redistest.UniquePrefix()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close(); c.Close() })
	return st
}

func memPageStore(tb testing.TB, _ *requestRoundTrips) store.Store {
	tb.Helper()
	st, err := memstore.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func newPageFixture(tb testing.TB, open func(testing.TB, *requestRoundTrips) store.Store) *pageFixture {
	tb.Helper()
	ctx := context.Background()
	f := &pageFixture{rt: &requestRoundTrips{RoundTrips: redistest.RoundTrips{Marked: true}}}
	st := open(tb, f.rt)
	// The benchmark sends thousands of requests a minute: raise the plans' API rate so that
	// the limiter still runs (and its round trip counts) but never refuses.
	ps := examplePlans()
	for i := range ps {
		ps[i].APIRate = store.Rate{Limit: 1 << 30, Period: time.Minute}
	}
	plans, err := identity.NewCatalog(ps...)
	if err != nil {
		tb.Fatal(err)
	}
	f.api = httptest.NewUnstartedServer(nil)
	base := "http://" + f.api.Listener.Addr().String()
	logger := slog.New(slog.DiscardHandler)
	iam, _, err := newIAM(st, plans, base, logger)
	if err != nil {
		tb.Fatal(err)
	}
	if err := iam.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { iam.Close(ctx) })
	boot, err := iam.Bootstrap(ctx, bootstrapSpec("admin@example.com"))
	if err != nil {
		tb.Fatal(err)
	}
	f.key = boot.APIKey.Token.Reveal()
	putBotUsers(tb, st, boot.Account.ID, 120)
	h, err := newServer(deps{IAM: iam, Logger: logger, BaseURL: base})
	if err != nil {
		tb.Fatal(err)
	}
	f.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(redistest.Mark(r.Context())))
	})
	f.api.Start()
	tb.Cleanup(f.api.Close)
	if err := iam.Sync(ctx); err != nil {
		tb.Fatal(err)
	}
	header, body := f.get(tb, f.api)
	f.body = body
	f.bare = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			if k != "Date" && k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.Write(body)
	}))
	tb.Cleanup(f.bare.Close)
	return f
}

// putBotUsers writes n bot users of the account.
func putBotUsers(tb testing.TB, st store.Store, accountID string, n int) {
	tb.Helper()
	ctx := tb.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	err := st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			bid, err := ids.NewIn(id.BotUser, accountID)
			if err != nil {
				return err
			}
			b := store.BotUser{ID: bid, AccountID: accountID, Name: "bot-" + strconv.Itoa(i), Active: true, CreatedAt: time.Now().UTC()}
			if err := tx.PutBotUser(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// get requests the page from srv with the administrator's key and returns the response's
// header and body; any status but 200 fails tb.
func (f *pageFixture) get(tb testing.TB, srv *httptest.Server) (http.Header, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+pagePath, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Ngrok-Version", "2")
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", pagePath, resp.StatusCode, body)
	}
	return resp.Header, body
}

// TestBotUsersPageRoundTripsOnRedis: a page of 100 bot users through the API server, its
// key verified from the Verifier's cache and its permission from the Authorizer's (warm after
// the first request: rbac.Authorizer.RequireRead, as RequirePermission), costs one round
// trip to Redis, the page's one read (a SORT_RO for a first page; rbac's
// TestBotUserPageRoundTripsOnRedis counts the same below the HTTP layer), and now and then
// one more for the account's API rate limit, which takes its tokens in leases
// (iamkit.IAM.RateLimit): at most pageLeaseTrips in pageRuns pages. It is the page the bare handler of the benchmark serves.
func TestBotUsersPageRoundTripsOnRedis(t *testing.T) {
	f := newPageFixture(t, redisPageStore)
	var page ngrokBotUserList
	dec := json.NewDecoder(bytes.NewReader(f.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&page); err != nil {
		t.Fatal(err)
	}
	if len(page.BotUsers) != 100 || page.NextPageURI == nil {
		t.Fatalf("the page has %d bot users and next page %v, want 100 and a next page", len(page.BotUsers), page.NextPageURI)
	}
	const (
		pageRuns       = 50
		pageLeaseTrips = 8 // leases of 1, 2, 4, ... 64 tokens: 7 Takes cover 127 requests
	)
	least, total := int64(1<<30), int64(0)
	for range pageRuns {
		before := f.rt.N()
		if _, body := f.get(t, f.api); !bytes.Equal(body, f.body) {
			t.Fatalf("the page changed between two requests:\n%s\n%s", f.body, body)
		}
		n := f.rt.N() - before
		least, total = min(least, n), total+n
	}
	t.Logf("a page of 100 bot users: %d round trips at least, %d in %d pages", least, total, pageRuns)
	if least != 1 { // none: the page was not read from Redis, or not counted
		t.Errorf("a page of 100 bot users through the API server took at least %d round trips to Redis, want 1", least)
	}
	if total > pageRuns+pageLeaseTrips {
		t.Errorf("%d pages took %d round trips to Redis, want at most %d (one each and %d for the rate limit's leases)", pageRuns, total, pageRuns+pageLeaseTrips, pageLeaseTrips)
	}
	if _, body := f.get(t, f.bare); !bytes.Equal(body, f.body) {
		t.Error("the bare handler serves other bytes than the API server")
	}
}

// BenchmarkBotUsersPage100 requests a page of 100 bot users (of 120) from the API server
// and the same bytes from a bare handler, alternately, over loopback HTTP with keep-alive,
// on Redis and on memstore. It reports the median and p99 of each (api-µs, bare-µs), the
// ratio of the medians (x-bare) and, on Redis, the round trips per page (roundtrips/op) and
// the time Redis spent running commands per page (redis-µs/op, from INFO commandstats: the
// change feed's reads included, as they are part of the server's load).
//
//	go test -run '^$' -bench BotUsersPage100 -benchtime 2000x -count 5 ./examples/apiserver/
func BenchmarkBotUsersPage100(b *testing.B) {
	for _, s := range []struct {
		name string
		open func(testing.TB, *requestRoundTrips) store.Store
	}{{"Redis", redisPageStore}, {"Memstore", memPageStore}} {
		b.Run(s.name, func(b *testing.B) {
			f := newPageFixture(b, s.open)
			for range 20 { // warm both connections and caches
				f.get(b, f.api)
				f.get(b, f.bare)
			}
			var api, bare []time.Duration
			before := f.rt.N()
			serverBefore, cmdsBefore := f.rt.serverTime(b)
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				f.get(b, f.api)
				t1 := time.Now()
				f.get(b, f.bare)
				api, bare = append(api, t1.Sub(t0)), append(bare, time.Since(t1))
			}
			slices.Sort(api)
			slices.Sort(bare)
			apiMed, bareMed := api[len(api)/2], bare[len(bare)/2]
			b.ReportMetric(float64(apiMed.Nanoseconds())/1e3, "api-µs")
			b.ReportMetric(float64(api[len(api)*99/100].Nanoseconds())/1e3, "api-p99-µs")
			b.ReportMetric(float64(bareMed.Nanoseconds())/1e3, "bare-µs")
			b.ReportMetric(float64(bare[len(bare)*99/100].Nanoseconds())/1e3, "bare-p99-µs")
			b.ReportMetric(float64(apiMed)/float64(bareMed), "x-bare")
			b.ReportMetric(float64(f.rt.N()-before)/float64(len(api)), "roundtrips/op")
			serverAfter, cmdsAfter := f.rt.serverTime(b)
			b.ReportMetric(float64((serverAfter-serverBefore).Nanoseconds())/1e3/float64(len(api)), "redis-µs/op")
			for cmd, d := range cmdsAfter {
				if per := (d - cmdsBefore[cmd]) / time.Duration(len(api)); per > 0 {
					b.Logf("Redis time per page in %s: %v", cmd, per)
				}
			}
		})
	}
}
