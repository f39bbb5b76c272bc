package storetest

import (
	"context"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Records of audit streaming: destinations, subscriptions naming destinations of their
// account, a destination's delivery position, and dead letters listed by destination.

func (e *env) newDestination(accountID string) store.EventDestination {
	return store.EventDestination{
		ID: e.newIDIn(id.EventDestination, accountID), AccountID: accountID, Description: "siem", Metadata: `{"team":"sec"}`,
		Format: "json", URL: "https://siem.example.com/iamkit", Secret: "whsec_c2VjcmV0", CreatedAt: e.now(),
	}
}

func (e *env) putDestination(accountID string) store.EventDestination {
	e.t.Helper()
	d := e.newDestination(accountID)
	e.update(func(tx store.Tx) error { return tx.PutEventDestination(e.ctx, d) })
	return d
}

func (e *env) newDeadLetter(d store.EventDestination) store.DeadLetter {
	return store.DeadLetter{
		ID: e.newIDIn(id.DeadLetter, d.AccountID), AccountID: d.AccountID, DestinationID: d.ID,
		EventID: e.newIDIn(id.Event, d.AccountID), Attempts: 5, LastStatus: 503, LastError: "503 Service Unavailable", CreatedAt: e.now(),
	}
}

func testStreams(t *testing.T, ns NewStore) {
	runCRUD(t, ns, crudCase[store.EventDestination]{
		name: "event_destination",
		make: func(e *env) store.EventDestination { return e.newDestination(e.putAccount()) },
		change: func(d store.EventDestination) store.EventDestination {
			d.URL, d.Description, d.Secret = "https://other.example.com/hook", "renamed", "whsec_b3RoZXI"
			return d
		},
		put: func(ctx context.Context, tx store.Tx, d store.EventDestination) error {
			return tx.PutEventDestination(ctx, d)
		},
		get: func(ctx context.Context, r store.Reader, d store.EventDestination) (store.EventDestination, error) {
			return r.EventDestination(ctx, d.ID)
		},
		del: func(ctx context.Context, tx store.Tx, d store.EventDestination) error {
			return tx.DeleteEventDestination(ctx, d.ID)
		},
		list: func(ctx context.Context, r store.Reader, d store.EventDestination) ([]store.EventDestination, error) {
			return r.EventDestinations(ctx, d.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.EventSubscription]{
		name: "event_subscription",
		make: func(e *env) store.EventSubscription {
			d := e.putDestination(e.putAccount())
			return store.EventSubscription{ID: e.newIDIn(id.EventSubscription, d.AccountID), AccountID: d.AccountID,
				Types: []string{"bot_user_created.v0", "member_updated.v0"}, DestinationIDs: []string{d.ID}, CreatedAt: e.now()}
		},
		change: func(s store.EventSubscription) store.EventSubscription {
			s = s.Clone()
			s.Types = append(s.Types, "role_created.v0")
			s.Description = "more"
			return s
		},
		put: func(ctx context.Context, tx store.Tx, s store.EventSubscription) error {
			return tx.PutEventSubscription(ctx, s)
		},
		get: func(ctx context.Context, r store.Reader, s store.EventSubscription) (store.EventSubscription, error) {
			return r.EventSubscription(ctx, s.ID)
		},
		del: func(ctx context.Context, tx store.Tx, s store.EventSubscription) error {
			return tx.DeleteEventSubscription(ctx, s.ID)
		},
		list: func(ctx context.Context, r store.Reader, s store.EventSubscription) ([]store.EventSubscription, error) {
			return r.EventSubscriptions(ctx, s.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
		clone:  store.EventSubscription.Clone,
		mutate: func(s store.EventSubscription) { s.Types[0] = "mutated.v0" },
	})
	runCRUD(t, ns, crudCase[store.EventDelivery]{
		name: "event_delivery",
		make: func(e *env) store.EventDelivery {
			d := e.putDestination(e.putAccount())
			return store.EventDelivery{DestinationID: d.ID, AccountID: d.AccountID, Cursor: e.head(), UpdatedAt: e.now()}
		},
		change: func(d store.EventDelivery) store.EventDelivery {
			d.LastEventID, d.UpdatedAt = "ev_01KB0000000000000000000000AAAA", d.UpdatedAt.Add(1e9)
			d.Holder, d.HeldUntil = "w_0123456789abcdef", d.UpdatedAt.Add(30e9)
			return d
		},
		put: func(ctx context.Context, tx store.Tx, d store.EventDelivery) error {
			return tx.PutEventDelivery(ctx, d)
		},
		get: func(ctx context.Context, r store.Reader, d store.EventDelivery) (store.EventDelivery, error) {
			return r.EventDelivery(ctx, d.DestinationID)
		},
		del: func(ctx context.Context, tx store.Tx, d store.EventDelivery) error {
			return tx.DeleteEventDelivery(ctx, d.DestinationID)
		},
	})
	runCRUD(t, ns, crudCase[store.DeadLetter]{
		name: "dead_letter",
		make: func(e *env) store.DeadLetter { return e.newDeadLetter(e.putDestination(e.putAccount())) },
		change: func(l store.DeadLetter) store.DeadLetter {
			l.Attempts, l.LastStatus, l.LastError = 6, 0, "connection refused"
			return l
		},
		put: func(ctx context.Context, tx store.Tx, l store.DeadLetter) error { return tx.PutDeadLetter(ctx, l) },
		get: func(ctx context.Context, r store.Reader, l store.DeadLetter) (store.DeadLetter, error) {
			return r.DeadLetter(ctx, l.ID)
		},
		del: func(ctx context.Context, tx store.Tx, l store.DeadLetter) error {
			return tx.DeleteDeadLetter(ctx, l.ID)
		},
		list: func(ctx context.Context, r store.Reader, l store.DeadLetter) ([]store.DeadLetter, error) {
			return r.DeadLetters(ctx, l.AccountID, l.DestinationID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	t.Run("stream_rules", func(t *testing.T) {
		t.Parallel()
		testStreamRules(t, ns)
	})
}

func testStreamRules(t *testing.T, ns NewStore) {
	leaf(t, "subscription_names_destinations_of_its_account", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		mine, theirs := e.putDestination(acct), e.putDestination(other)
		sub := store.EventSubscription{ID: e.newIDIn(id.EventSubscription, acct), AccountID: acct, Types: []string{"role_created.v0"}, CreatedAt: e.now()}
		for _, c := range []struct {
			what string
			dest string
		}{{"another account's destination", theirs.ID}, {"a destination that does not exist", e.newIDIn(id.EventDestination, acct)}} {
			s := sub.Clone()
			s.DestinationIDs = []string{mine.ID, c.dest}
			err := e.tryUpdate(func(tx store.Tx) error { return tx.PutEventSubscription(e.ctx, s) })
			wantInvalid(e.t, "a subscription naming "+c.what, err, "event_subscription.destination_ids")
		}
		err := e.tryUpdate(func(tx store.Tx) error {
			return tx.PutEventDelivery(e.ctx, store.EventDelivery{DestinationID: theirs.ID, AccountID: acct, UpdatedAt: e.now()})
		})
		wantInvalid(e.t, "a delivery position for another account's destination", err, "event_delivery.destination_id")
	})
	leaf(t, "every_destination_and_dead_letters_by_destination", ns, func(e *env) {
		a, b := e.putDestination(e.putAccount()), e.putDestination(e.putAccount())
		all := mustRead(e, func(r store.Reader) ([]store.EventDestination, error) {
			return r.EveryEventDestination(e.ctx, store.Page{Limit: store.MaxPageLimit})
		})
		if len(all) != 2 || all[0].ID != max(a.ID, b.ID) || all[1].ID != min(a.ID, b.ID) {
			e.t.Fatalf("EveryEventDestination = %v, want both destinations, newest first", all)
		}
		second := e.putDestination(a.AccountID)
		l1, l2 := e.newDeadLetter(a), e.newDeadLetter(second)
		e.update(func(tx store.Tx) error {
			if err := tx.PutDeadLetter(e.ctx, l1); err != nil {
				return err
			}
			return tx.PutDeadLetter(e.ctx, l2)
		})
		got := mustRead(e, func(r store.Reader) ([]store.DeadLetter, error) {
			return r.DeadLetters(e.ctx, a.AccountID, a.ID, store.Page{Limit: 10})
		})
		if len(got) != 1 || got[0].ID != l1.ID {
			e.t.Fatalf("DeadLetters of one destination = %v, want only %s", got, l1.ID)
		}
	})
	leaf(t, "event_by_id", ns, func(e *env) {
		ev := e.newEvent(e.putAccount())
		e.update(func(tx store.Tx) error { return tx.AppendEvent(e.ctx, ev) })
		got := mustRead(e, func(r store.Reader) (store.Event, error) { return r.Event(e.ctx, ev.ID) })
		diff(e.t, "Event", ev, got)
		later := e.newEvent(ev.AccountID)
		e.update(func(tx store.Tx) error { return tx.AppendEvent(e.ctx, later) })
		after := mustRead(e, func(r store.Reader) ([]store.Event, error) { return r.EventsAfter(e.ctx, ev.AccountID, "", 10) })
		if len(after) != 2 || after[0].ID != ev.ID || after[1].ID != later.ID {
			e.t.Fatalf("EventsAfter from the start = %v, want both events, oldest first", after)
		}
		after = mustRead(e, func(r store.Reader) ([]store.Event, error) { return r.EventsAfter(e.ctx, ev.AccountID, ev.ID, 10) })
		if len(after) != 1 || after[0].ID != later.ID {
			e.t.Fatalf("EventsAfter(first) = %v, want the later event only", after)
		}
	})
}
