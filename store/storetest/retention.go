package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// testRetention covers what audit retention stands on: listing every account, and pruning
// an account's events oldest first, by age and by count, in bounded batches.
func testRetention(t *testing.T, ns NewStore) {
	leaf(t, "accounts_listed", ns, func(e *env) {
		ids := []string{e.putAccount(), e.putAccount(), e.putAccount()}
		slices.SortFunc(ids, func(a, b string) int { return strings.Compare(b, a) })
		page := func(p store.Page) []string {
			accts := mustRead(e, func(r store.Reader) ([]store.Account, error) { return r.Accounts(e.ctx, p) })
			out := []string{}
			for _, a := range accts {
				out = append(out, a.ID)
			}
			return out
		}
		diff(e.t, "first page of accounts", ids[:2], page(store.Page{Limit: 2}))
		diff(e.t, "second page of accounts", ids[2:], page(store.Page{BeforeID: ids[1], Limit: 2}))
	})

	// events appends n events to a new account, their CreatedAt a minute apart in ID order,
	// and returns the account and the events, oldest first.
	events := func(e *env, n int) (string, []store.Event) {
		acct := e.putAccount()
		evs := make([]store.Event, n)
		for i := range evs {
			evs[i] = e.newEvent(acct)
		}
		slices.SortFunc(evs, func(a, b store.Event) int { return strings.Compare(a.ID, b.ID) })
		base := e.now()
		for i := range evs {
			evs[i].CreatedAt = base.Add(time.Duration(i) * time.Minute)
		}
		e.update(func(tx store.Tx) error { return tx.AppendEvents(e.ctx, evs) })
		return acct, evs
	}
	stored := func(e *env, acct string) []store.Event {
		e.t.Helper()
		evs := mustRead(e, func(r store.Reader) ([]store.Event, error) {
			return r.Events(e.ctx, acct, store.Page{Limit: store.MaxPageLimit})
		})
		slices.Reverse(evs)
		return evs
	}
	prune := func(e *env, acct string, before time.Time, keep, limit int) (int, bool) {
		e.t.Helper()
		var (
			n    int
			done bool
		)
		e.update(func(tx store.Tx) error {
			var err error
			n, done, err = tx.PruneEvents(e.ctx, acct, before, keep, limit)
			return err
		})
		return n, done
	}
	type pruned struct {
		N    int
		Done bool
	}

	leaf(t, "prune_by_age", ns, func(e *env) {
		acct, evs := events(e, 10)
		other, others := events(e, 3)
		n, done := prune(e, acct, evs[4].CreatedAt, 0, 3)
		diff(e.t, "pruning events older than the fifth, 3 at most", pruned{3, false}, pruned{n, done})
		diff(e.t, "events left", evs[3:], stored(e, acct))
		n, done = prune(e, acct, evs[4].CreatedAt, 0, 3)
		diff(e.t, "pruning again", pruned{1, true}, pruned{n, done})
		diff(e.t, "events left", evs[4:], stored(e, acct))
		n, done = prune(e, acct, evs[4].CreatedAt, 0, 3)
		diff(e.t, "pruning with nothing left to prune", pruned{0, true}, pruned{n, done})
		diff(e.t, "another account's events", others, stored(e, other))
	})

	leaf(t, "prune_by_count", ns, func(e *env) {
		acct, evs := events(e, 10)
		n, done := prune(e, acct, time.Time{}, 6, 3)
		diff(e.t, "pruning to the newest 6, 3 at most", pruned{3, false}, pruned{n, done})
		diff(e.t, "events left", evs[3:], stored(e, acct))
		n, done = prune(e, acct, time.Time{}, 6, 3)
		diff(e.t, "pruning again", pruned{1, true}, pruned{n, done})
		diff(e.t, "events left", evs[4:], stored(e, acct))
		n, done = prune(e, acct, time.Time{}, 0, 3)
		diff(e.t, "pruning with neither bound", pruned{0, true}, pruned{n, done})
	})

	leaf(t, "prune_by_both", ns, func(e *env) {
		acct, evs := events(e, 10)
		n, done := prune(e, acct, evs[2].CreatedAt, 5, store.MaxPageLimit)
		diff(e.t, "pruning to the newest 5, and older than the third", pruned{5, true}, pruned{n, done})
		diff(e.t, "events left", evs[5:], stored(e, acct))
		n, done = prune(e, acct, evs[7].CreatedAt, 5, store.MaxPageLimit)
		diff(e.t, "pruning older than the eighth", pruned{2, true}, pruned{n, done})
		diff(e.t, "events left", evs[7:], stored(e, acct))
	})

	leaf(t, "prune_sees_own_writes", ns, func(e *env) {
		acct, evs := events(e, 4)
		late := e.newEvent(acct)
		for late.ID < evs[3].ID { // IDs of one fake-clock millisecond need not follow creation
			late = e.newEvent(acct)
		}
		late.CreatedAt = evs[3].CreatedAt.Add(time.Minute)
		e.update(func(tx store.Tx) error {
			if err := tx.AppendEvent(e.ctx, late); err != nil {
				return err
			}
			_, _, err := tx.PruneEvents(e.ctx, acct, time.Time{}, 2, store.MaxPageLimit)
			return err
		})
		diff(e.t, "events left", []store.Event{evs[3], late}, stored(e, acct))
	})

	leaf(t, "prune_validation", ns, func(e *env) {
		acct, _ := events(e, 2)
		for _, c := range []struct {
			name        string
			acct        string
			keep, limit int
			field       string
		}{
			{"no account", "", 1, 1, "account_id"},
			{"limit 0", acct, 1, 0, "limit"},
			{"limit over the page limit", acct, 1, store.MaxPageLimit + 1, "limit"},
			{"negative keep", acct, -1, 1, "keep"},
		} {
			err := e.tryUpdate(func(tx store.Tx) error {
				_, _, err := tx.PruneEvents(e.ctx, c.acct, time.Time{}, c.keep, c.limit)
				return err
			})
			wantIs(e.t, "PruneEvents with "+c.name, err, store.ErrInvalid)
			if ie := (*store.Error)(nil); !errors.As(err, &ie) || ie.Field != c.field {
				e.t.Errorf("PruneEvents with %s: %v, want a store.Error naming %s", c.name, err, c.field)
			}
		}
	})
}
