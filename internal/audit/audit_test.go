package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 678, time.UTC)

// fixture is a store with one account and one user who is a member of it.
type fixture struct {
	ctx  context.Context
	st   *memstore.Store
	ids  *id.Generator
	rec  audit.Recorder
	acct string
	user store.User
	by   store.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := memstore.New(memstore.WithClock(clk.Now))
	t.Cleanup(func() { st.Close() })
	g := id.NewGenerator(clk, rand.Reader)
	f := &fixture{ctx: t.Context(), st: st, ids: g, rec: audit.Recorder{IDs: g, Clock: clk}}
	f.acct = f.newID(t, id.Account)
	uid, err := g.New(id.User)
	if err != nil {
		t.Fatal(err)
	}
	f.user = store.User{ID: uid, Email: "ann@example.com", Name: "Ann", CreatedAt: epoch}
	f.by = store.Principal{ID: uid, Subject: "ann@example.com", Source: "api", CredentialID: "ak_y"}
	if err := st.Update(f.ctx, func(tx store.Tx) error { return tx.PutUser(f.ctx, f.user) }); err != nil {
		t.Fatal(err)
	}
	err = st.Update(f.ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(f.ctx, store.Account{ID: f.acct, Name: "a", Plan: "free", CreatedAt: epoch}); err != nil {
			return err
		}
		return tx.PutMembership(f.ctx, store.Membership{AccountID: f.acct, UserID: uid, Roles: []string{"admin"}, Status: store.MemberActive, CreatedAt: epoch, UpdatedAt: epoch})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) newID(t *testing.T, p id.Prefix) string {
	t.Helper()
	var (
		s   string
		err error
	)
	if p == id.Account {
		s, err = f.ids.New(p)
	} else {
		s, err = f.ids.NewIn(p, f.acct)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// record records one event in its own transaction and returns the error.
func (f *fixture) record(t audit.Type, object any) error {
	return f.st.Update(f.ctx, func(tx store.Tx) error { return f.rec.Record(f.ctx, tx, f.acct, t, f.by, object) })
}

// events returns the account's whole log, newest first.
func (f *fixture) events(t *testing.T) []store.Event {
	t.Helper()
	var out []store.Event
	p := store.Page{Limit: store.MaxPageLimit}
	err := f.st.View(f.ctx, func(r store.Reader) error {
		for {
			evs, err := r.Events(f.ctx, f.acct, p)
			if err != nil {
				return err
			}
			out = append(out, evs...)
			if len(evs) < p.Limit {
				return nil
			}
			p.BeforeID = evs[len(evs)-1].ID
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecord_AppendsInTheTransaction(t *testing.T) {
	f := newFixture(t)
	bot := store.BotUser{ID: f.newID(t, id.BotUser), AccountID: f.acct, Name: "ci", Active: true, CreatedAt: epoch}
	if err := f.record(audit.BotUserCreated, bot); err != nil {
		t.Fatal(err)
	}
	evs := f.events(t)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.Type != "bot_user_created.v0" || ev.Principal != f.by || !ev.CreatedAt.Equal(epoch) ||
		id.Check(ev.ID, id.Event) != nil || id.Tag(ev.ID) != id.Tag(f.acct) || !strings.Contains(string(ev.Object), `"name":"ci"`) {
		t.Fatalf("event %+v %s", ev, ev.Object)
	}
	// A transaction that fails records nothing.
	f.st.Update(f.ctx, func(tx store.Tx) error {
		if err := f.rec.Record(f.ctx, tx, f.acct, audit.BotUserDeleted, f.by, bot); err != nil {
			t.Fatal(err)
		}
		return store.ErrAborted
	})
	if evs := f.events(t); len(evs) != 1 {
		t.Fatalf("rolled-back event kept: %d events", len(evs))
	}
}

// TestRecord_ObjectIsTheAPIResource checks each record kind's event object field by field:
// the resource as the API shows it, with no internal field (account_id, secret_hash,
// fingerprint, last_used_at, metadata_xml) and a null token.
func TestRecord_ObjectIsTheAPIResource(t *testing.T) {
	f := newFixture(t)
	later := epoch.Add(time.Hour)
	cred := store.Credential{
		AccountID: f.acct, OwnerID: f.user.ID, Description: "ci", Metadata: "m", ACL: []string{"bind:a.example.com"},
		SecretHash: "deadbeef", CreatedAt: epoch, LastUsedAt: later,
	}
	token, apiKey, ssh := cred, cred, cred
	token.ID, token.Kind = f.newID(t, id.Authtoken), store.Authtoken
	apiKey.ID, apiKey.Kind, apiKey.ACL, apiKey.ExpiresAt = f.newID(t, id.APIKey), store.APIKey, nil, later
	ssh.ID, ssh.Kind, ssh.SecretHash, ssh.PublicKey, ssh.Fingerprint = f.newID(t, id.SSHCredential), store.SSHCredential, "", "ssh-ed25519 AAAA", "SHA256:fp"
	idp := store.IdentityProvider{
		ID: f.newID(t, id.IdentityProvider), AccountID: f.acct, EntityID: "https://idp.example.com", MetadataXML: "<EntityDescriptor/>",
		Domains: []string{"example.com"}, CreatedAt: epoch,
	}
	ts := audit.Timestamp(epoch)
	for _, tc := range []struct {
		typ    audit.Type
		object any
		want   string
	}{
		{audit.AccountUpdated, store.Account{ID: f.acct, Name: "a", Plan: "free", Seats: 3, SSO: store.SSOSettings{Enforcement: "mixed"}, CreatedAt: epoch},
			`{"id":"` + f.acct + `","name":"a","plan":"free","created_at":"` + ts + `"}`},
		{audit.MemberUpdated, store.Membership{AccountID: f.acct, UserID: f.user.ID, Roles: []string{"developer"}, Status: "active", CreatedAt: epoch, UpdatedAt: later},
			`{"id":"` + f.user.ID + `","email":"ann@example.com","name":"Ann","roles":["developer"],"status":"active","created_at":"` + ts + `","updated_at":"` + audit.Timestamp(later) + `"}`},
		{audit.InvitationCreated, store.Invitation{ID: "inv_1", AccountID: f.acct, Email: "bo@example.com", InvitedBy: f.user.ID, ExpiresAt: later, CreatedAt: epoch},
			`{"id":"inv_1","email":"bo@example.com","roles":[],"invited_by":"` + f.user.ID + `","expires_at":"` + audit.Timestamp(later) + `","created_at":"` + ts + `"}`},
		{audit.RoleCreated, store.Role{ID: "role_1", AccountID: f.acct, Name: "r", Permissions: []string{"events:read"}, CreatedAt: epoch},
			`{"id":"role_1","name":"r","permissions":["events:read"],"created_at":"` + ts + `"}`},
		{audit.BotUserUpdated, store.BotUser{ID: "bot_1", AccountID: f.acct, Name: "ci", Roles: []string{"developer"}, CreatedAt: epoch},
			`{"id":"bot_1","name":"ci","active":false,"created_at":"` + ts + `","roles":["developer"]}`},
		{audit.TunnelCredentialCreated, token,
			`{"id":"` + token.ID + `","created_at":"` + ts + `","description":"ci","metadata":"m","token":null,"acl":["bind:a.example.com"],"owner_id":"` + f.user.ID + `"}`},
		{audit.APIKeyDeleted, apiKey,
			`{"id":"` + apiKey.ID + `","created_at":"` + ts + `","description":"ci","metadata":"m","token":null,"owner_id":"` + f.user.ID + `","expires_at":"` + audit.Timestamp(later) + `"}`},
		{audit.SSHPublicKeyUpdated, ssh,
			`{"id":"` + ssh.ID + `","created_at":"` + ts + `","description":"ci","metadata":"m","public_key":"ssh-ed25519 AAAA","acl":["bind:a.example.com"],"owner_id":"` + f.user.ID + `"}`},
		{audit.IdentityProviderUpdated, audit.IdentityProvider(idp, "https://idp.example.com/sso"),
			`{"id":"` + idp.ID + `","entity_id":"https://idp.example.com","sso_url":"https://idp.example.com/sso","allow_idp_initiated":false,"default_roles":[],"domains":["example.com"],"created_at":"` + ts + `"}`},
		{audit.SSOSettingsUpdated, audit.SSOSettings("jit", "off", time.Time{}),
			`{"provisioning":"jit","enforcement":"off","since":null}`},
	} {
		if err := f.record(tc.typ, tc.object); err != nil {
			t.Errorf("%s: %v", tc.typ, err)
			continue
		}
		got := f.events(t)[0].Object
		var gotV, wantV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.want), &wantV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%s:\n got %s\nwant %s", tc.typ, got, tc.want)
		}
	}
}

// TestRecord_RefusesWhatIsNotAnEventObject: a value with no event representation, a raw
// identity provider (whose object needs its SSO URL) and an object of another resource than
// the type's fail the transaction instead of logging whatever they hold.
func TestRecord_RefusesWhatIsNotAnEventObject(t *testing.T) {
	f := newFixture(t)
	type credentialLike struct {
		ID         string `json:"id"`
		SecretHash string `json:"secret_hash"`
	}
	for _, tc := range []struct {
		typ    audit.Type
		object any
	}{
		{audit.APIKeyCreated, credentialLike{ID: "ak_1", SecretHash: "deadbeef"}},
		{audit.APIKeyCreated, &store.Credential{ID: "ak_1", Kind: store.APIKey, SecretHash: "deadbeef"}},
		{audit.IdentityProviderCreated, store.IdentityProvider{ID: "idp_1", MetadataXML: "<EntityDescriptor/>"}},
		{audit.BotUserCreated, nil},
		{audit.BotUserCreated, store.Role{ID: "role_1"}},
		{audit.APIKeyCreated, store.Credential{ID: "cr_1", Kind: store.Authtoken}},
		{audit.Type("widget_created.v0"), store.BotUser{ID: "bot_1"}},
		{audit.SSOSettingsUpdated, audit.TokenCredentialObject{ID: "ak_1"}},
	} {
		if err := f.record(tc.typ, tc.object); err == nil {
			t.Errorf("%s with %T recorded", tc.typ, tc.object)
		}
	}
	// A member whose user cannot be read: the store's error.
	err := f.record(audit.MemberCreated, store.Membership{AccountID: f.acct, UserID: "usr_01JGJFGR4800VZ4FFEY59B0KSHPSMV"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("member without a user: %v, want ErrNotFound", err)
	}
	if evs := f.events(t); len(evs) != 0 {
		t.Fatalf("%d events recorded", len(evs))
	}
}

func TestTypes_Resources(t *testing.T) {
	seen := map[audit.Type]bool{}
	for _, typ := range audit.Types() {
		r := typ.Resource()
		if r == "" || !strings.HasPrefix(string(typ), string(r)+"_") || seen[typ] {
			t.Errorf("%s: resource %q", typ, r)
		}
		seen[typ] = true
	}
	for _, typ := range []audit.Type{"", "widget_created.v0", "member_created.v1", "member_created"} {
		if r := typ.Resource(); r != "" {
			t.Errorf("%q: resource %q, want none", typ, r)
		}
	}
}

// TestRecordOwnerCredentialsDeleted records one event per credential of the owner, over
// more than one page of credentials, and none for another owner's.
func TestRecordOwnerCredentialsDeleted(t *testing.T) {
	f := newFixture(t)
	bot := store.BotUser{ID: f.newID(t, id.BotUser), AccountID: f.acct, Name: "ci", Active: true, CreatedAt: epoch}
	want := map[string]audit.Type{}
	err := f.st.Update(f.ctx, func(tx store.Tx) error {
		if err := tx.PutBotUser(f.ctx, bot); err != nil {
			return err
		}
		for i := range store.MaxPageLimit + 2 {
			owner, kind, prefix := bot.ID, store.APIKey, id.APIKey
			if i%2 == 0 {
				kind, prefix = store.Authtoken, id.Authtoken
			}
			if i == 0 {
				owner = f.user.ID
			}
			c := store.Credential{ID: f.newID(t, prefix), AccountID: f.acct, Kind: kind, OwnerID: owner, SecretHash: fmt.Sprintf("%064x", i), CreatedAt: epoch}
			if err := tx.PutCredential(f.ctx, c); err != nil {
				return err
			}
			if owner == bot.ID {
				_, _, want[c.ID] = audit.CredentialTypes(kind)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = f.st.Update(f.ctx, func(tx store.Tx) error {
		return f.rec.RecordOwnerCredentialsDeleted(f.ctx, tx, f.acct, bot.ID, f.by)
	})
	if err != nil {
		t.Fatal(err)
	}
	evs := f.events(t)
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for _, ev := range evs {
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(ev.Object, &obj); err != nil || string(want[obj.ID]) != ev.Type {
			t.Fatalf("event %s about %s (%v), want %s", ev.Type, obj.ID, err, want[obj.ID])
		}
		delete(want, obj.ID)
	}
}
