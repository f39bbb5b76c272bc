package audit_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 678, time.UTC)

// fixture is a store with one account.
type fixture struct {
	ctx  context.Context
	st   store.Store
	ids  *id.Generator
	rec  audit.Recorder[identity.Resource]
	acct string
	by   store.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(epoch)
	st, err := memstore.New(memstore.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := id.NewGenerator(clk, rand.Reader)
	f := &fixture{ctx: t.Context(), st: st, ids: g, rec: audit.New(g, clk, identity.ResourceOf)}
	if f.acct, err = g.New(id.Account); err != nil {
		t.Fatal(err)
	}
	f.by = store.Principal{ID: "usr_01JGJFGR4800VZ4FFEY59B0KSHPSMV", Subject: "ann@example.com", Source: "api", CredentialID: "ak_y"}
	err = st.Update(f.ctx, func(tx store.Tx) error {
		return tx.PutAccount(f.ctx, store.Account{ID: f.acct, Name: "a", Plan: "free", CreatedAt: epoch})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// record records one event in its own transaction and returns the error.
func (f *fixture) record(t store.EventType, obj audit.Object[identity.Resource]) error {
	return f.st.Update(f.ctx, func(tx store.Tx) error { return f.rec.Record(f.ctx, tx, f.acct, t, f.by, obj) })
}

// events returns the account's log, newest first.
func (f *fixture) events(t *testing.T) []store.Event {
	t.Helper()
	var out []store.Event
	err := f.st.View(f.ctx, func(r store.Reader) error {
		var err error
		out, err = r.Events(f.ctx, f.acct, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecord_AppendsInTheTransaction(t *testing.T) {
	f := newFixture(t)
	acct := identity.AccountObjectOf(store.Account{ID: f.acct, Name: "ci", Plan: "free", CreatedAt: epoch})
	if err := f.record(identity.EventAccountUpdated, acct); err != nil {
		t.Fatal(err)
	}
	evs := f.events(t)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.Type != "account_updated.v0" || ev.Principal != f.by || !ev.CreatedAt.Equal(epoch) ||
		id.Check(ev.ID, id.Event) != nil || id.Tag(ev.ID) != id.Tag(f.acct) || !strings.Contains(string(ev.Object), `"name":"ci"`) {
		t.Fatalf("event %+v %s", ev, ev.Object)
	}
	// A transaction that fails records nothing.
	f.st.Update(f.ctx, func(tx store.Tx) error {
		if err := f.rec.Record(f.ctx, tx, f.acct, identity.EventAccountUpdated, f.by, acct); err != nil {
			t.Fatal(err)
		}
		return store.ErrUnavailable
	})
	if evs := f.events(t); len(evs) != 1 {
		t.Fatalf("rolled-back event kept: %d events", len(evs))
	}
}

// notAnObject names a resource but does not encode as a JSON object.
type notAnObject []string

func (notAnObject) Resource() identity.Resource { return identity.ResourceAccount }

// TestRecord_RefusesWhatIsNotAnEventObject: no object, an object of another resource than
// the type's, a type iamkit does not write and an object that is no JSON object fail the
// transaction instead of logging whatever they hold.
func TestRecord_RefusesWhatIsNotAnEventObject(t *testing.T) {
	f := newFixture(t)
	member := identity.MemberObjectOf(store.Membership{UserID: "usr_1"}, store.User{Email: "a@example.com"})
	for _, tc := range []struct {
		name string
		typ  store.EventType
		obj  audit.Object[identity.Resource]
	}{
		{"no object", identity.EventMemberCreated, nil},
		{"another resource's object", identity.EventAccountCreated, member},
		{"a type iamkit does not write", "widget_created.v0", member},
		{"a newer version", "member_created.v1", member},
		{"not a JSON object", identity.EventAccountCreated, notAnObject{"a"}},
	} {
		if err := f.record(tc.typ, tc.obj); err == nil {
			t.Errorf("%s: recorded", tc.name)
		}
	}
	if evs := f.events(t); len(evs) != 0 {
		t.Fatalf("%d events recorded", len(evs))
	}
}
