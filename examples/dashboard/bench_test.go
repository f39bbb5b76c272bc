package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// BenchmarkMembersPage measures the members page of an account with 1,000 members (its first
// page of 50, the seats and the pending invitations), requested by its administrator over
// HTTP on loopback, on memstore and on Redis: ns/op is the whole response, ttfb-ms the time
// to its first byte. BENCHMARKS.md has the figures.
func BenchmarkMembersPage(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		st, err := memstore.New()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchmarkMembersPage(b, st)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { client.Close() })
		st, err := redisstore.New(b.Context(), client, redisstore.WithPrefix(srv.Prefix))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchmarkMembersPage(b, st)
	})
}

func benchmarkMembersPage(b *testing.B, st store.Store) {
	e := newEnvOn(b, st)
	e.setPassword(e.app.Boot.Admin.ID)
	for i := range 999 {
		u, err := e.app.IAM.Directory().CreateUser(e.ctx, fmt.Sprintf("member%04d@example.test", i), fmt.Sprintf("Member %d", i))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.app.IAM.Directory().AddMember(e.ctx, e.app.Boot.Admin, u.ID, []string{rbac.RoleDeveloper}); err != nil {
			b.Fatal(err)
		}
	}
	e.sync()
	admin := e.signInHTTP(adminEmail)
	url := e.URL + "/a/" + e.account() + "/members"
	var ttfb time.Duration
	b.ReportAllocs()
	for b.Loop() {
		var start, first time.Time
		trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(e.ctx, trace), http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		res, err := admin.c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || n < 10_000 {
			b.Fatalf("status %d, %d bytes", res.StatusCode, n)
		}
		ttfb += first.Sub(start)
	}
	b.ReportMetric(float64(ttfb.Microseconds())/1000/float64(b.N), "ttfb-ms")
}
