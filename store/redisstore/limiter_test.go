package redisstore_test

import (
	"errors"
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

// TestLimiterTake: Take counts on the buckets Allow uses, across two stores on one Redis: a
// batch takes what fits, a refund gives events back first (never beyond a full bucket), and
// a refusal says when an event will fit (about a minute at 5 per 5 minutes).
func TestLimiterTake(t *testing.T) {
	srv := sharedServer(t)
	open := func(prefix string) store.BatchLimiter {
		st, err := redisstore.New(t.Context(), newClient(t, srv), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		l, ok := store.LimiterOf(st)
		if !ok {
			t.Fatal("redisstore offers no Limiter")
		}
		b, ok := l.(store.BatchLimiter)
		if !ok {
			t.Fatal("redisstore's Limiter is no BatchLimiter")
		}
		return b
	}
	rate := store.Rate{Limit: 5, Period: 5 * time.Minute}
	type step struct {
		second    bool // through the other store
		allow     bool // Allow instead of Take
		unused, n int
		want      int
		refused   bool
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"batches_take_what_fits", []step{{n: 3, want: 3}, {second: true, n: 3, want: 2}, {n: 1, refused: true}, {second: true, allow: true, refused: true}}},
		{"refund_before_the_batch", []step{{n: 5, want: 5}, {unused: 2, n: 1, want: 1}, {second: true, n: 5, want: 1}, {allow: true, refused: true}}},
		{"refund_never_overfills", []step{{n: 2, want: 2}, {unused: 10, n: 10, want: 5}, {second: true, allow: true, refused: true}}},
		{"shared_with_allow", []step{{allow: true, want: 1}, {second: true, allow: true, want: 1}, {n: 9, want: 3}, {second: true, n: 1, refused: true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			prefix := "take:" + redistest.UniquePrefix()
			ls := []store.BatchLimiter{open(prefix), open(prefix)}
			for i, s := range c.steps {
				l := ls[0]
				if s.second {
					l = ls[1]
				}
				var (
					got   int
					retry time.Duration
					err   error
				)
				if s.allow {
					var ok bool
					if ok, retry, err = l.Allow(t.Context(), "api:acct", rate); ok {
						got = 1
					}
				} else {
					got, retry, err = l.Take(t.Context(), "api:acct", rate, s.unused, s.n)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				wantRetry := !s.refused || retry > 50*time.Second && retry <= time.Minute
				if got != s.want || !wantRetry {
					t.Fatalf("step %d: %d events, retry after %v; want %d (refused, about a minute: %v)", i, got, retry, s.want, s.refused)
				}
			}
		})
	}
	if _, _, err := open("take:"+redistest.UniquePrefix()).Take(t.Context(), "k", rate, 0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Take of no events: %v, want ErrInvalid", err)
	}
}
