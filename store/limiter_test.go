package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// TestMemoryLimiter checks the generic cell rate: a burst of Limit, then one event per
// Period/Limit, a retry-after that says when, and Reset.
func TestMemoryLimiter(t *testing.T) {
	rate := store.Rate{Limit: 5, Period: 5 * time.Minute} // one token back a minute
	type step struct {
		advance time.Duration
		reset   bool
		allowed bool
		retry   time.Duration
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"burst_then_refused", []step{
			{allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{allowed: false, retry: time.Minute},
			{advance: 30 * time.Second, allowed: false, retry: 30 * time.Second},
		}},
		{"one_token_back_a_minute", []step{
			{allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{advance: time.Minute, allowed: true},
			{allowed: false, retry: time.Minute},
		}},
		{"full_again_after_a_period", []step{
			{allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{advance: 5 * time.Minute, allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{allowed: false, retry: time.Minute},
		}},
		{"reset_forgets", []step{
			{allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{reset: true, allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{allowed: false, retry: time.Minute},
		}},
		{"refusals_are_not_counted", []step{
			{allowed: true}, {allowed: true}, {allowed: true}, {allowed: true}, {allowed: true},
			{allowed: false, retry: time.Minute}, {allowed: false, retry: time.Minute}, {allowed: false, retry: time.Minute},
			{advance: time.Minute, allowed: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
			l, err := store.NewMemoryLimiter(10, clk)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range c.steps {
				clk.Advance(s.advance)
				if s.reset {
					if err := l.Reset(t.Context(), "k"); err != nil {
						t.Fatal(err)
					}
				}
				ok, retry, err := l.Allow(t.Context(), "k", rate)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ok != s.allowed || retry != s.retry {
					t.Fatalf("step %d: Allow = %v, retry after %v; want %v, %v", i, ok, retry, s.allowed, s.retry)
				}
			}
			// Another key is not affected.
			if ok, _, _ := l.Allow(t.Context(), "other", rate); !ok {
				t.Error("another key was refused")
			}
		})
	}
}

// TestMemoryLimiterBounded checks that the limiter keeps at most its bound of keys, forgetting
// the least recently used.
func TestMemoryLimiterBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	l, err := store.NewMemoryLimiter(3, clk)
	if err != nil {
		t.Fatal(err)
	}
	one := store.Rate{Limit: 1, Period: time.Hour}
	allow := func(key string) bool {
		t.Helper()
		ok, _, err := l.Allow(t.Context(), key, one)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, k := range []string{"a", "b", "c"} {
		if !allow(k) {
			t.Fatalf("first event of %s refused", k)
		}
	}
	if allow("a") {
		t.Fatal("second event of a allowed") // also makes a the most recently used
	}
	for i := range 100 {
		allow(fmt.Sprintf("flood-%d", i))
		if n := l.Len(); n > 3 {
			t.Fatalf("%d keys held, bound 3", n)
		}
	}
	if !allow("a") {
		t.Error("a was not forgotten under a flood of new keys")
	}
}

func TestMemoryLimiterRefuses(t *testing.T) {
	l, err := store.NewMemoryLimiter(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		rate  store.Rate
		field string
	}{
		{"zero_limit", store.Rate{Period: time.Second}, "rate.limit"},
		{"zero_period", store.Rate{Limit: 1}, "rate.period"},
		{"negative_period", store.Rate{Limit: 1, Period: -time.Second}, "rate.period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := l.Allow(t.Context(), "k", c.rate)
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != c.field {
				t.Fatalf("Allow with %+v: %v, want ErrInvalid on %s", c.rate, err, c.field)
			}
		})
	}
	if _, err := store.NewMemoryLimiter(-1, nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("NewMemoryLimiter(-1): %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := l.Allow(ctx, "k", store.Rate{Limit: 1, Period: time.Second}); !errors.Is(err, context.Canceled) {
		t.Errorf("Allow with a cancelled context: %v", err)
	}
}

// limiterBackend is a Backend that offers a Limiter of its own.
type limiterBackend struct {
	store.Backend
	l store.Limiter
}

func (b limiterBackend) Limiter() store.Limiter { return b.l }

func TestLimiterOf(t *testing.T) {
	b, err := memstore.NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if l, ok := store.LimiterOf(store.New(b)); ok || l != nil {
		t.Errorf("LimiterOf a store whose backend has no limiter = %v, %v", l, ok)
	}
	own, err := store.NewMemoryLimiter(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := store.LimiterOf(store.New(limiterBackend{b, own})); !ok || l != own {
		t.Errorf("LimiterOf a store whose backend has one = %v, %v", l, ok)
	}
	if l, ok := store.LimiterOf(nil); ok || l != nil {
		t.Errorf("LimiterOf(nil) = %v, %v", l, ok)
	}
}

// TestMemoryLimiterTake checks Take on the same buckets as Allow: a batch takes what fits,
// at most its size, a refund gives events back (never beyond a full bucket) before the
// batch, and a refusal says when an event will fit.
func TestMemoryLimiterTake(t *testing.T) {
	rate := store.Rate{Limit: 5, Period: 5 * time.Minute} // one token back a minute
	type step struct {
		allow     bool // Allow instead of Take
		unused, n int
		want      int // events taken (Allow: 1 or 0)
		retry     time.Duration
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"batches_take_what_fits", []step{{n: 3, want: 3}, {n: 3, want: 2}, {n: 1, retry: time.Minute}, {allow: true, retry: time.Minute}}},
		{"refund_before_the_batch", []step{{n: 5, want: 5}, {unused: 2, n: 1, want: 1}, {n: 5, want: 1}, {allow: true, retry: time.Minute}}},
		{"refund_never_overfills", []step{{n: 2, want: 2}, {unused: 10, n: 10, want: 5}, {allow: true, retry: time.Minute}}},
		{"refund_on_a_refusal_counts", []step{{n: 5, want: 5}, {unused: 1, n: 3, want: 1}, {n: 1, retry: time.Minute}}},
		{"shared_with_allow", []step{{allow: true, want: 1}, {allow: true, want: 1}, {n: 9, want: 3}, {allow: true, retry: time.Minute}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
			l, err := store.NewMemoryLimiter(10, clk)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range c.steps {
				var got int
				var retry time.Duration
				if s.allow {
					var ok bool
					ok, retry, err = l.Allow(t.Context(), "k", rate)
					if ok {
						got = 1
					}
				} else {
					got, retry, err = l.Take(t.Context(), "k", rate, s.unused, s.n)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != s.want || retry != s.retry {
					t.Fatalf("step %d: %d events, retry after %v; want %d, %v", i, got, retry, s.want, s.retry)
				}
			}
		})
	}
	l, err := store.NewMemoryLimiter(10, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ unused, n int }{{0, 0}, {-1, 1}} {
		if _, _, err := l.Take(t.Context(), "k", rate, bad.unused, bad.n); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Take(unused %d, n %d): %v, want ErrInvalid", bad.unused, bad.n, err)
		}
	}
}
