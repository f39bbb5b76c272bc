package redisstore_test

import (
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// TestLimiterShared: two stores on one Redis (two clients, as two processes have) count
// against the same limit; Reset through one frees it for the other; another prefix counts
// apart.
func TestLimiterShared(t *testing.T) {
	srv := sharedServer(t)
	prefix := "lim:" + redistest.UniquePrefix()
	open := func(prefix string) store.Limiter {
		st, err := redisstore.New(t.Context(), newClient(t, srv), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		l, ok := store.LimiterOf(st)
		if !ok {
			t.Fatal("redisstore offers no Limiter")
		}
		return l
	}
	a, b, other := open(prefix), open(prefix), open(prefix+"x")
	rate := store.Rate{Limit: 3, Period: time.Minute}
	allow := func(l store.Limiter) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := l.Allow(t.Context(), "api:acct", rate)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for i, l := range []store.Limiter{a, b, a} {
		if ok, _ := allow(l); !ok {
			t.Fatalf("event %d refused within the limit", i+1)
		}
	}
	ok, wait := allow(b)
	if ok || wait <= 0 || wait > 20*time.Second+time.Second {
		t.Fatalf("the fourth event through the other store: allowed %v, retry after %v; want refused, about 20 s", ok, wait)
	}
	if ok, _ := allow(other); !ok {
		t.Fatal("a store under another prefix shares the count")
	}
	if err := b.Reset(t.Context(), "api:acct"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(a); !ok {
		t.Fatal("refused after Reset through the other store")
	}
	if _, _, err := a.Allow(t.Context(), "k", store.Rate{}); err == nil {
		t.Fatal("a zero rate accepted")
	}
}
