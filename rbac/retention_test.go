package rbac_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// appendEvents appends n events to an account, a minute apart in ID order, the newest
// created at the clock's time, and returns their IDs, oldest first.
func appendEvents(e *testenv.Env, accountID string, n int) []string {
	e.T.Helper()
	evs := make([]store.Event, n)
	for i := range evs {
		eid, err := e.IDs.NewIn(id.Event, accountID)
		if err != nil {
			e.T.Fatal(err)
		}
		evs[i] = store.Event{ID: eid, AccountID: accountID, Type: "bot_user_created.v0", Object: []byte(`{}`),
			Principal: store.Principal{ID: "usr_x", Source: "api"}}
	}
	slices.SortFunc(evs, func(a, b store.Event) int { return strings.Compare(a.ID, b.ID) })
	ids := make([]string, n)
	for i := range evs {
		evs[i].CreatedAt = e.Clock.Now().Add(-time.Duration(n-1-i) * time.Minute)
		ids[i] = evs[i].ID
	}
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error { return tx.AppendEvents(e.Ctx, evs) }); err != nil {
		e.T.Fatal(err)
	}
	return ids
}

// eventIDs returns an account's event IDs, oldest first.
func eventIDs(e *testenv.Env, accountID string) []string {
	e.T.Helper()
	var ids []string
	for _, ev := range e.Events(accountID) {
		ids = append(ids, ev.ID)
	}
	slices.Reverse(ids)
	return ids
}

// TestPruner_Prune: Prune visits every account and deletes, oldest first, the events the
// Retention does not keep, in batches, and nothing else.
func TestPruner_Prune(t *testing.T) {
	for _, c := range []struct {
		name string
		keep rbac.Retention
		left int // of 600 events a minute apart, the newest kept
	}{
		{"off", rbac.Retention{}, 600},
		{"by age: 2 hours", rbac.Retention{MaxAge: 2 * time.Hour}, 121},
		{"by count: 400", rbac.Retention{MaxCount: 400}, 400},
		{"by age and count: the stricter", rbac.Retention{MaxAge: 2 * time.Hour, MaxCount: 400}, 121},
		{"by age and count: the stricter, other way", rbac.Retention{MaxAge: 10 * time.Hour, MaxCount: 50}, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := testenv.New(t, nil)
			a1, _ := e.Account("one@example.com", "enterprise")
			a2, _ := e.Account("two@example.com", "enterprise")
			e.Clock.Advance(24 * time.Hour) // the accounts' own events are older than every bound
			var want [][]string
			for _, a := range []string{a1.ID, a2.ID} {
				ids := appendEvents(e, a, 600)
				want = append(want, ids[len(ids)-c.left:])
			}
			p, err := rbac.NewPruner(e.Store, c.keep, rbac.WithClock(e.Clock))
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Prune(e.Ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range []string{a1.ID, a2.ID} {
				got := eventIDs(e, a)
				if c.keep.Off() {
					got = got[len(got)-600:] // the account's own events stay too
				}
				if !slices.Equal(got, want[i]) {
					t.Fatalf("account %d keeps %d events (%d pruned in all), want the newest %d", i, len(got), n, c.left)
				}
			}
			if again, err := p.Prune(e.Ctx); err != nil || again != 0 {
				t.Fatalf("a second Prune: %d, %v", again, err)
			}
		})
	}
}

// TestPruner_RunPrunesOnTheFeed: a running Pruner with a bound by count prunes an account
// once the feed has shown it 1% of the bound (at least 100) new events, without waiting for
// its next visit of every account.
func TestPruner_RunPrunesOnTheFeed(t *testing.T) {
	e := testenv.New(t, nil)
	a, _ := e.Account("one@example.com", "enterprise")
	p, err := rbac.NewPruner(e.Store, rbac.Retention{MaxCount: 100}, rbac.WithClock(e.Clock),
		rbac.WithPruneInterval(time.Hour), rbac.WithFeedPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	}()
	var ids []string
	for range 3 {
		ids = append(ids, appendEvents(e, a.ID, 100)...)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := eventIDs(e, a.ID)
		if len(got) < 200 && !slices.Contains(got, ids[0]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the account still has %d events, its oldest appended one among them", len(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNewPruner_RefusesBadArguments: each bad argument is an error matching
// store.ErrInvalid that names it.
func TestNewPruner_RefusesBadArguments(t *testing.T) {
	st := testenv.Mem(t, nil)
	for _, c := range []struct {
		name  string
		st    store.Store
		keep  rbac.Retention
		opts  []rbac.Option
		field string
	}{
		{"no store", nil, rbac.DefaultRetention(), nil, "store"},
		{"a negative age", st, rbac.Retention{MaxAge: -time.Hour}, nil, "retention.max_age"},
		{"a negative count", st, rbac.Retention{MaxCount: -1}, nil, "retention.max_count"},
		{"no clock", st, rbac.DefaultRetention(), []rbac.Option{rbac.WithClock(nil)}, "clock"},
		{"a zero prune interval", st, rbac.DefaultRetention(), []rbac.Option{rbac.WithPruneInterval(0)}, "prune_interval"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rbac.NewPruner(c.st, c.keep, c.opts...)
			var se *store.Error
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != c.field {
				t.Fatalf("NewPruner = %v, want ErrInvalid naming %s", err, c.field)
			}
		})
	}
}
