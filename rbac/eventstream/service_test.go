package eventstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

type world struct {
	ctx     context.Context
	iam     *iamkit.IAM
	admin   identity.Principal
	dev     identity.Principal
	streams *eventstream.Service
}

// newWorld is an IAM on memstore with audit streaming, an enterprise account, its
// administrator and a developer.
func newWorld(t *testing.T, key string, st store.Store) *world {
	t.Helper()
	ctx := t.Context()
	iam, err := iamkit.New(st, catalog(t), iamkit.WithAuditStreaming())
	if err != nil {
		t.Fatal(err)
	}
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: key, AccountName: key, Plan: identity.Enterprise().Name,
		AdminEmail: "admin@" + key + ".test"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := iam.Directory().Invite(ctx, boot.Admin, "dev@"+key+".test", []string{rbac.RoleDeveloper})
	if err != nil {
		t.Fatal(err)
	}
	m, err := iam.Directory().AcceptInvitationToken(ctx, inv.Token.Reveal(), "Dev", identity.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := iam.Directory().Principal(ctx, boot.Account.ID, m.UserID, identity.SourceAPI, "")
	if err != nil {
		t.Fatal(err)
	}
	return &world{ctx: ctx, iam: iam, admin: boot.Admin, dev: dev, streams: iam.EventStreams()}
}

func memStore(t testing.TB) store.Store {
	b, err := memstore.NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(b)
	t.Cleanup(func() { st.Close() })
	return st
}

func catalog(t testing.TB) *identity.Catalog {
	t.Helper()
	cat, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func wantErr(t *testing.T, what string, err, kind error, code, field string) {
	t.Helper()
	var se *store.Error
	if !errors.Is(err, kind) || (code != "" && store.CodeOf(err) != code) || (field != "" && (!errors.As(err, &se) || se.Field != field)) {
		t.Errorf("%s: %v, want %v code %q field %q", what, err, kind, code, field)
	}
}

// TestServiceRules: only administrators manage streaming; URLs, event types and
// destinations are checked; one account cannot see or name another's destinations; the
// secret is shown once and never listed.
func TestServiceRules(t *testing.T) {
	st := memStore(t)
	w := newWorld(t, "acme", st)
	other := newWorld(t, "globex", st)
	ctx := w.ctx
	dest, secret, err := w.streams.CreateDestination(ctx, w.admin, eventstream.DestinationParams{URL: "https://siem.example.com/h", Description: "SIEM"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret.Reveal(), "whsec_") || len(secret.Reveal()) < 40 || dest.Secret != "" || dest.Format != "json" {
		t.Errorf("created %+v with secret of %d bytes: want a whsec_ secret apart from the record", dest, len(secret.Reveal()))
	}
	listed, err := w.streams.Destinations(ctx, w.admin, store.Page{Limit: 10})
	if err != nil || len(listed) != 1 || listed[0].Secret != "" {
		t.Errorf("Destinations: %+v, %v; want one, without its secret", listed, err)
	}

	_, _, err = w.streams.CreateDestination(ctx, w.dev, eventstream.DestinationParams{URL: "https://siem.example.com/h"})
	wantErr(t, "a developer creating a destination", err, store.ErrDenied, "", "")
	_, err = w.streams.Destinations(ctx, w.dev, store.Page{Limit: 10})
	wantErr(t, "a developer listing destinations", err, store.ErrDenied, "", "")
	_, err = w.streams.Subscriptions(ctx, w.dev, store.Page{Limit: 10})
	wantErr(t, "a developer listing subscriptions", err, store.ErrDenied, "", "")

	for _, u := range []string{"http://siem.example.com/h", "https://127.0.0.1/h", "https://10.0.0.1@x/h", ""} {
		_, _, err = w.streams.CreateDestination(ctx, w.admin, eventstream.DestinationParams{URL: u})
		wantErr(t, "destination URL "+u, err, store.ErrInvalid, eventstream.CodeURLRefused, "target.webhook.url")
	}
	_, _, err = w.streams.CreateDestination(ctx, w.admin, eventstream.DestinationParams{URL: "https://x.example.com", Format: "xml"})
	wantErr(t, "format xml", err, store.ErrInvalid, "", "format")

	_, err = w.streams.CreateSubscription(ctx, w.admin, eventstream.SubscriptionParams{Types: []string{"bot_user_created.v0", "widget_made.v0"}, DestinationIDs: []string{dest.ID}})
	wantErr(t, "an unknown event type", err, store.ErrInvalid, eventstream.CodeUnknownEventType, "sources[1].type")
	_, err = w.streams.CreateSubscription(ctx, w.admin, eventstream.SubscriptionParams{Types: []string{"bot_user_created.v0", "bot_user_created.v0"}})
	wantErr(t, "a type twice", err, store.ErrInvalid, "", "sources[1].type")
	_, err = other.streams.CreateSubscription(ctx, other.admin, eventstream.SubscriptionParams{Types: []string{"bot_user_created.v0"}, DestinationIDs: []string{dest.ID}})
	wantErr(t, "another account's destination", err, store.ErrInvalid, "", "destination_ids")
	_, err = other.streams.Destination(ctx, other.admin, dest.ID)
	wantErr(t, "reading another account's destination", err, store.ErrNotFound, "", "")
	err = other.streams.DeleteDestination(ctx, other.admin, dest.ID)
	wantErr(t, "deleting another account's destination", err, store.ErrNotFound, "", "")

	sub, err := w.streams.CreateSubscription(ctx, w.admin, eventstream.SubscriptionParams{Types: []string{"bot_user_created.v0"}, DestinationIDs: []string{dest.ID}})
	if err != nil {
		t.Fatal(err)
	}
	// Deleting the destination takes it out of the subscription.
	if err := w.streams.DeleteDestination(ctx, w.admin, dest.ID); err != nil {
		t.Fatal(err)
	}
	sub, err = w.streams.Subscription(ctx, w.admin, sub.ID)
	if err != nil || len(sub.DestinationIDs) != 0 {
		t.Errorf("subscription after its destination was deleted: %+v, %v; want no destinations", sub, err)
	}
	page, err := w.iam.Authorizer().Events(ctx, w.admin, store.Page{Limit: 3})
	if err != nil || len(page.Events) < 2 || page.Events[0].Type != identity.EventEventDestinationDeleted || page.Events[1].Type != identity.EventEventSubscriptionUpdated {
		t.Errorf("newest events %+v, %v: want event_destination_deleted after event_subscription_updated", page.Events, err)
	}
	if evs, err := w.iam.Authorizer().Events(ctx, w.dev, store.Page{Limit: 100}); err == nil {
		for _, ev := range evs.Events {
			if strings.HasPrefix(string(ev.Type), "event_") {
				t.Errorf("a developer reads %s", ev.Type)
			}
		}
	}
}

// TestDestinationLimit: an account has at most MaxDestinations.
func TestDestinationLimit(t *testing.T) {
	w := newWorld(t, "acme", memStore(t))
	for range eventstream.MaxDestinations {
		if _, _, err := w.streams.CreateDestination(w.ctx, w.admin, eventstream.DestinationParams{URL: "https://siem.example.com/h"}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := w.streams.CreateDestination(w.ctx, w.admin, eventstream.DestinationParams{URL: "https://siem.example.com/h"})
	wantErr(t, "one destination too many", err, store.ErrLimitExceeded, "destination_limit", "")
}
