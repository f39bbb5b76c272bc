package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
)

// teamOnlyEventPrefixes are the event types a developer read-only member or a bot user (no
// members:read, roles:read or sso:read) must never see.
var teamOnlyEventPrefixes = []string{"member_", "invitation_", "role_", "identity_provider_", "sso_settings_"}

func teamOnly(eventType string) bool {
	for _, p := range teamOnlyEventPrefixes {
		if strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return false
}

// teamHistory makes an account's log hold every kind of team change (members, invitations,
// roles, identity providers, SSO settings) next to credential and bot user changes, and
// returns the emails it used.
func (e *env) teamHistory() []string {
	e.t.Helper()
	emails := []string{"admin@example.com", "teammate@example.com", "invitee@example.com", "revoked@example.com"}
	mate := e.addMember("teammate@example.com", "developer")
	e.req("PATCH", "/members/"+mate, map[string]any{"roles": []string{"team_manager"}}).want(http.StatusOK, nil)
	e.req("POST", "/invitations", map[string]any{"email": "invitee@example.com", "roles": []string{"developer"}}).want(http.StatusCreated, nil)
	var inv invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "revoked@example.com"}).want(http.StatusCreated, &inv)
	e.req("DELETE", "/invitations/"+inv.ID, nil).want(http.StatusNoContent, nil)
	var role roleOutT
	e.req("POST", "/roles", map[string]any{"name": "auditor", "permissions": []string{"events:read"}}).want(http.StatusCreated, &role)
	e.req("PATCH", "/roles/"+role.ID, map[string]any{"permissions": []string{"events:read", "members:read"}}).want(http.StatusOK, nil)
	var idp idpOutT
	e.verifyDomains("example.com")
	e.req("POST", "/identity_providers", map[string]any{
		"description": "Okta", "metadata_xml": idpMetadata(e.t, "https://idp.example.com/metadata"), "domains": []string{"example.com"},
	}).want(http.StatusCreated, &idp)
	e.req("PATCH", "/identity_providers/"+idp.ID, map[string]any{"description": "Okta (prod)"}).want(http.StatusOK, nil)
	e.req("PATCH", "/sso_settings", map[string]any{"provisioning": "jit"}).want(http.StatusOK, nil)
	e.req("POST", "/credentials", map[string]any{"description": "edge"}).want(http.StatusCreated, nil)
	e.req("DELETE", "/members/"+mate, nil).want(http.StatusNoContent, nil)
	return emails
}

// reader is someone reading the log with their own API key.
type reader struct {
	name, key string
}

// readers returns a developer read-only member and a bot user of the account, each with an
// API key, and the member's email.
func (e *env) readers() ([]reader, string) {
	e.t.Helper()
	const devEmail = "dev.readonly@example.com"
	dev := e.addMember(devEmail, "developer_read_only")
	devKey := e.createAPIKey(dev)
	bot := e.createBot("ci")
	botKey := e.createAPIKey(bot.ID)
	return []reader{{"developer read-only member", *devKey.Token}, {"bot user", *botKey.Token}}, devEmail
}

// TestEvents_ReadersSeeOnlyWhatTheyMayRead is the regression test for the event log
// bypassing permissions: a developer read-only member and a bot user, who get 403 on
// /members, /invitations, /roles and /identity_providers, must not find those records (or
// anyone's email) in GET /events, while an administrator sees every event.
func TestEvents_ReadersSeeOnlyWhatTheyMayRead(t *testing.T) {
	e := newEnv(t)
	rs, devEmail := e.readers()
	emails := append(e.teamHistory(), devEmail)

	// The helpers fail e.t, the parent test: no subtests.
	for _, r := range rs {
		{
			for _, path := range []string{"/members", "/invitations", "/roles", "/identity_providers", "/sso_settings"} {
				e.reqAs(r.key, "GET", path, nil).want(http.StatusForbidden, nil)
			}
			events, body := e.eventsAs(r.key)
			for _, email := range emails {
				if strings.Contains(body, email) {
					t.Errorf("%s: response holds %s", r.name, email)
				}
			}
			if strings.Contains(body, "@") {
				t.Errorf("%s: response holds an email address", r.name)
			}
			var seen []string
			for _, ev := range events {
				if teamOnly(ev.EventType) {
					t.Errorf("%s sees %s: %s", r.name, ev.EventType, ev.Object)
				}
				seen = append(seen, ev.EventType)
			}
			for _, want := range []string{"api_key_created.v0", "bot_user_created.v0", "tunnel_credential_created.v0", "account_created.v0"} {
				if !slices.Contains(seen, want) {
					t.Errorf("%s does not see %s, which it may read; saw %v", r.name, want, seen)
				}
			}
		}
	}

	{ // the administrator
		events, _ := e.eventsAs(e.key)
		stored := e.storedEvents()
		if len(events) != len(stored) {
			t.Fatalf("administrator sees %d events, the log holds %d", len(events), len(stored))
		}
		for i, ev := range events {
			if ev.ID != stored[i].ID || ev.Principal.Subject != stored[i].Principal.Subject {
				t.Errorf("event %d: %s by %q, stored %s by %q", i, ev.ID, ev.Principal.Subject, stored[i].ID, stored[i].Principal.Subject)
			}
		}
		for _, prefix := range teamOnlyEventPrefixes {
			if !slices.ContainsFunc(events, func(ev eventOutT) bool { return strings.HasPrefix(ev.EventType, prefix) }) {
				t.Errorf("administrator sees no %s event", prefix)
			}
		}
	}
}

// TestEvents_PagingOverSparseLog pages through a log in which the events a developer
// read-only member may read are separated by runs of role changes longer than one call
// scans: every visible event comes back exactly once, in order, by following next_page_uri,
// including through pages that hold fewer events than the limit. The log is written through
// the library, as a long run of changes would write it.
func TestEvents_PagingOverSparseLog(t *testing.T) {
	e := newEnv(t)
	rs, _ := e.readers()
	dev := rs[0]
	ctx := t.Context()
	admin, err := e.iam.Directory().Principal(ctx, e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	eventsRead, err := e.iam.Authorizer().Permission("events:read")
	if err != nil {
		t.Fatal(err)
	}
	role, err := e.iam.Authorizer().CreateRole(ctx, admin, rbac.RoleSpec{Name: "hidden", Permissions: []rbac.Permission{eventsRead}})
	if err != nil {
		t.Fatal(err)
	}
	bot, err := e.iam.BotUsers().Create(ctx, admin, botuser.CreateParams{Name: "visible"})
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, run := range []int{1, 1500, 3, 2500, 1} {
		changes++
		name := "visible-" + strconv.Itoa(changes)
		if _, err := e.iam.BotUsers().Update(ctx, admin, bot.ID, botuser.UpdateParams{Name: &name}); err != nil { // bot_user_updated
			t.Fatal(err)
		}
		for range run {
			changes++
			spec := rbac.RoleSpec{Name: role.Name, Description: "change " + strconv.Itoa(changes), Permissions: []rbac.Permission{eventsRead}}
			if _, err := e.iam.Authorizer().UpdateRole(ctx, admin, role.ID, spec); err != nil { // role_updated
				t.Fatal(err)
			}
		}
	}

	var want []string
	for _, ev := range e.storedEvents() {
		if !teamOnly(string(ev.Type)) {
			want = append(want, ev.ID)
		}
	}
	for _, limit := range []int{1, 2, 7} {
		var got []string
		short := false
		next := "/events?limit=" + strconv.Itoa(limit)
		for pages := 0; next != ""; pages++ {
			if pages > len(want)+20 {
				t.Fatalf("limit %d: more pages than visible events", limit)
			}
			var evs eventListT
			e.reqAs(dev.key, "GET", next, nil).want(http.StatusOK, &evs)
			for _, ev := range evs.Events {
				got = append(got, ev.ID)
			}
			next = ""
			if evs.NextPageURI != nil {
				next = *evs.NextPageURI
				short = short || len(evs.Events) < limit
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: paged %d events, want the %d visible ones once each, in order", limit, len(got), len(want))
		}
		if !short {
			t.Errorf("limit %d: no page was cut short by the scan bound, so the test did not exercise it", limit)
		}
	}
}
