package rbac_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// teamOnly reports whether eventType is about members, invitations, roles or SSO: what a
// principal without members:read, roles:read and sso:read must never see.
func teamOnly(eventType store.EventType) bool {
	for _, p := range []string{"member_", "invitation_", "role_", "identity_provider_", "sso_settings_"} {
		if strings.HasPrefix(string(eventType), p) {
			return true
		}
	}
	return false
}

// idpObject and ssoSettingsObject stand for package sso's objects of those resources (this
// package's tests do not depend on sso): what matters here is the resource.
type idpObject struct {
	ID       string `json:"id"`
	EntityID string `json:"entity_id"`
}

func (idpObject) Resource() identity.Resource { return identity.ResourceIdentityProvider }

type ssoSettingsObject struct {
	Provisioning string `json:"provisioning"`
	Enforcement  string `json:"enforcement"`
}

func (ssoSettingsObject) Resource() identity.Resource { return identity.ResourceSSOSettings }

// record appends n events of type t about object to the log, as by, straight into the store.
func (e *env) record(accountID string, by identity.Principal, t store.EventType, object identity.Object, n int) {
	e.T.Helper()
	rec := audit.New(e.IDs, e.Clock, identity.ResourceOf)
	err := e.Store.Update(e.Ctx, func(tx store.Tx) error {
		for range n {
			if err := rec.Record(e.Ctx, tx, accountID, t, by.Audit(), object); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

// readAll pages through the log as by, following Next, with limit events a call.
func (e *env) readAll(by identity.Principal, limit int) (events []store.Event, shortPages int) {
	e.T.Helper()
	p := store.Page{Limit: limit}
	for calls := 0; ; calls++ {
		if calls > 10000 {
			e.T.Fatal("paging does not end")
		}
		page, err := e.Authz.Events(e.Ctx, by, p)
		if err != nil {
			e.T.Fatalf("Events(%+v): %v", p, err)
		}
		if len(page.Events) > limit {
			e.T.Fatalf("%d events for limit %d", len(page.Events), limit)
		}
		events = append(events, page.Events...)
		if page.Next == "" {
			return events, shortPages
		}
		if len(page.Events) < limit {
			shortPages++
		}
		p.BeforeID = page.Next
	}
}

// TestEvents_ReadersSeeOnlyWhatTheyMayRead is the library half of the regression test for
// the event log bypassing permissions: after members, invitations, roles, identity
// providers and SSO settings changed, a developer read-only member and a bot user see none
// of those events and no email anywhere; a reader without bot_users:read does not see bot
// users' names either; an administrator sees the whole log as stored.
func TestEvents_ReadersSeeOnlyWhatTheyMayRead(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "enterprise")
	creds, err := credential.NewService(e.Store, e.Authz, credential.WithClock(e.Clock))
	if err != nil {
		t.Fatal(err)
	}

	// Team history.
	mate := e.Member(admin, "mate@example.com", rbac.RoleDeveloper)
	if _, err := e.Dir.SetMemberRoles(e.Ctx, admin, mate.ID, []string{rbac.RoleTeamManager}); err != nil {
		t.Fatal(err)
	}
	inv, err := e.Dir.Invite(e.Ctx, admin, "invitee@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Dir.RevokeInvitation(e.Ctx, admin, inv.ID); err != nil {
		t.Fatal(err)
	}
	role, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "auditor", Permissions: []rbac.Permission{rbac.EventsRead, rbac.CredentialsRead}})
	if err != nil {
		t.Fatal(err)
	}
	e.record(a.ID, admin, identity.EventIdentityProviderCreated, idpObject{ID: "idp_1", EntityID: "https://idp.example.com"}, 1)
	e.record(a.ID, admin, identity.EventSSOSettingsUpdated, ssoSettingsObject{"jit", "mixed"}, 1)
	if err := e.Dir.RemoveMember(e.Ctx, admin, mate.ID); err != nil {
		t.Fatal(err)
	}
	// An event of a type this version does not know (written by a newer one): administrators only.
	unknown := store.Event{AccountID: a.ID, Type: "widget_created.v0", Principal: admin.Audit(), Object: json.RawMessage(`{"id":"w_1"}`), CreatedAt: e.Clock.Now()}
	if unknown.ID, err = e.IDs.NewIn(id.Event, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.Update(e.Ctx, func(tx store.Tx) error { return tx.AppendEvent(e.Ctx, unknown) }); err != nil {
		t.Fatal(err)
	}

	// The readers, and credentials made by a user and by a bot.
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloperReadOnly)
	auditor := e.Member(admin, "auditor@example.com", role.ID)
	bot := e.bot(admin, "ci")
	for _, by := range []identity.Principal{admin, bot} {
		if _, err := creds.Create(e.Ctx, by, credential.CreateRequest{Kind: store.Authtoken, Description: "edge"}); err != nil {
			t.Fatal(err)
		}
	}
	emails := []string{"admin@example.com", "mate@example.com", "invitee@example.com", "dev@example.com", "auditor@example.com"}

	for _, tc := range []struct {
		name     string
		by       identity.Principal
		sees     []store.EventType // event types it must see
		botNames bool              // it may read bot users' names
	}{
		{"developer read-only member", dev, []store.EventType{"account_created.v0", "bot_user_created.v0", "tunnel_credential_created.v0"}, true},
		{"bot user", bot, []store.EventType{"account_created.v0", "bot_user_created.v0", "tunnel_credential_created.v0"}, true},
		{"custom role with events:read and credentials:read only", auditor, []store.EventType{"tunnel_credential_created.v0"}, false},
	} {
		events, _ := e.readAll(tc.by, store.MaxPageLimit)
		body, err := json.Marshal(events)
		if err != nil {
			t.Fatal(err)
		}
		for _, email := range emails {
			if strings.Contains(string(body), email) {
				t.Errorf("%s: the events hold %s", tc.name, email)
			}
		}
		if strings.Contains(string(body), "@") {
			t.Errorf("%s: the events hold an email address", tc.name)
		}
		var seen []store.EventType
		for _, ev := range events {
			seen = append(seen, ev.Type)
			if teamOnly(ev.Type) || ev.Type == unknown.Type {
				t.Errorf("%s sees %s: %s", tc.name, ev.Type, ev.Object)
			}
			if ev.Principal.ID == "" {
				t.Errorf("%s: %s lost its principal ID", tc.name, ev.Type)
			}
			if ev.Principal.ID == bot.ID && (ev.Principal.Subject == "ci") != tc.botNames {
				t.Errorf("%s: bot principal's subject %q", tc.name, ev.Principal.Subject)
			}
		}
		for _, want := range tc.sees {
			if !slices.Contains(seen, want) {
				t.Errorf("%s does not see %s, which it may read; saw %v", tc.name, want, seen)
			}
		}
		if !tc.botNames && slices.Contains(seen, "bot_user_created.v0") {
			t.Errorf("%s sees bot user events without bot_users:read", tc.name)
		}
	}

	events, _ := e.readAll(admin, 100)
	if stored := e.Events(a.ID); !equalEvents(events, stored) {
		t.Errorf("administrator sees %d events, the log holds %d (or they differ)", len(events), len(stored))
	}
}

func equalEvents(a, b []store.Event) bool {
	return slices.EqualFunc(a, b, func(x, y store.Event) bool {
		return x.ID == y.ID && x.Type == y.Type && x.Principal == y.Principal && string(x.Object) == string(y.Object)
	})
}

// TestEvents_NeedEventsRead: the log is closed to a member without events:read and to a
// malformed page; a principal reads its own account's log only.
func TestEvents_NeedEventsRead(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "enterprise")
	o, other := e.Account("other@example.com", "enterprise")
	team := e.Member(admin, "team@example.com", rbac.RoleTeamReadOnly)
	_, err := e.Authz.Events(e.Ctx, team, store.Page{Limit: 10})
	denied(t, err, rbac.ReasonNoRole)
	page, err := e.Authz.Events(e.Ctx, other, store.Page{Limit: 10})
	if err != nil || len(page.Events) == 0 {
		t.Fatalf("other's own log: %v, %v", page, err)
	}
	for _, ev := range page.Events {
		if ev.AccountID != o.ID || ev.AccountID == a.ID {
			t.Errorf("other's principal read an event of %s", ev.AccountID)
		}
	}
	for _, p := range []store.Page{{Limit: 0}, {Limit: store.MaxPageLimit + 1}, {Limit: 1, BeforeID: "usr_01JGJFGR4800VZ4FFEY59B0KSHPSMV"}} {
		if _, err := e.Authz.Events(e.Ctx, admin, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("page %+v: %v, want ErrInvalid", p, err)
		}
	}
}

// TestEvents_PagingOverSparseLog: when the events a reader may see are separated by runs of
// events it may not, longer than one call scans, paging by Next still returns every visible
// event exactly once, in order, through pages shorter than the limit (even empty).
func TestEvents_PagingOverSparseLog(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "enterprise")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloperReadOnly)
	bot := store.BotUser{ID: e.bot(admin, "ci").ID, AccountID: a.ID, Name: "ci", Active: true}
	roleID, err := e.IDs.NewIn(id.Role, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	role := store.Role{ID: roleID, AccountID: a.ID, Name: "hidden"}
	for _, run := range []int{0, 1, 1500, 3, 2500, 1} {
		e.Clock.Advance(time.Millisecond)
		e.record(a.ID, admin, identity.EventBotUserUpdated, botuser.BotUserObjectOf(bot), 1)
		e.record(a.ID, admin, identity.EventRoleUpdated, rbac.RoleObjectOf(role), run)
	}
	var want []string
	for _, ev := range e.Events(a.ID) {
		if !teamOnly(ev.Type) {
			want = append(want, ev.ID)
		}
	}
	for _, limit := range []int{1, 2, 7, store.MaxPageLimit} {
		events, short := e.readAll(dev, limit)
		got := make([]string, len(events))
		for i, ev := range events {
			got[i] = ev.ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: read %d events, want the %d visible ones once each, in order", limit, len(got), len(want))
		}
		// Below 100 a call scans 10 pages of 100 events, fewer than the longest run.
		if limit < 100 && short == 0 {
			t.Errorf("limit %d: no page was cut short by the scan bound: the test does not exercise it", limit)
		}
	}
	if events, _ := e.readAll(admin, store.MaxPageLimit); !equalEvents(events, e.Events(a.ID)) {
		t.Errorf("administrator read %d events, the log holds %d", len(events), len(e.Events(a.ID)))
	}
}

// TestEventPermission is the table of which permission reads which event type.
func TestEventPermission(t *testing.T) {
	want := map[identity.Resource]rbac.Permission{
		identity.ResourceAccount: rbac.AccountRead, identity.ResourceMember: rbac.MembersRead,
		identity.ResourceInvitation: rbac.MembersRead, identity.ResourceRole: rbac.RolesRead,
		identity.ResourceBotUser: rbac.BotUsersRead, identity.ResourceTunnelCredential: rbac.CredentialsRead,
		identity.ResourceAPIKey: rbac.CredentialsRead, identity.ResourceSSHPublicKey: rbac.CredentialsRead,
		identity.ResourceAccessToken:      rbac.CredentialsRead,
		identity.ResourceIdentityProvider: rbac.SSORead, identity.ResourceSSOSettings: rbac.SSORead,
		identity.ResourceDomain: rbac.SSORead,
		identity.ResourceSignIn: rbac.MembersRead, identity.ResourceSession: rbac.MembersRead,
		identity.ResourcePassword: rbac.MembersRead, identity.ResourceTOTP: rbac.MembersRead,
		identity.ResourceEventDestination: rbac.AccountManage, identity.ResourceEventSubscription: rbac.AccountManage,
		identity.ResourceGroup:    rbac.MembersRead,
		identity.ResourceIPPolicy: rbac.AccountRead, identity.ResourceIPPolicyRule: rbac.AccountRead,
		identity.ResourceIPRestriction: rbac.AccountRead,
	}
	for _, typ := range identity.EventTypes() {
		got, ok := rbac.EventPermission(typ)
		if w, known := want[identity.ResourceOf(typ)]; !ok || !known || got != w {
			t.Errorf("%s: %v, %v; want %v", typ, got, ok, w)
		}
	}
	for _, typ := range []store.EventType{"", "widget_created.v0", "member_created.v1"} {
		if p, ok := rbac.EventPermission(typ); ok {
			t.Errorf("%q: %v, want administrators only", typ, p)
		}
	}
}
