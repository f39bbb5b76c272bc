package identity_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// wantJSON fails unless v encodes as the JSON want (compared as values).
func wantJSON(t *testing.T, name string, v any, want string) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// TestObjects_AreTheAPIResources checks this package's public representations field by
// field: the resource as the API shows it, with no internal field (account_id, seats, SSO
// settings, token hash).
func TestObjects_AreTheAPIResources(t *testing.T) {
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 678, time.UTC)
	later := epoch.Add(time.Hour)
	ts, tl := identity.Timestamp(epoch), identity.Timestamp(later)
	wantJSON(t, "account", identity.AccountObjectOf(store.Account{ID: "ac_1", Name: "a", Plan: "free", Seats: 3, SSO: store.SSOSettings{Enforcement: "mixed"}, CreatedAt: epoch}),
		`{"id":"ac_1","name":"a","plan":"free","created_at":"`+ts+`"}`)
	wantJSON(t, "account with a credential policy", identity.AccountObjectOf(store.Account{ID: "ac_1", Name: "a", Plan: "free",
		CredentialPolicy: store.CredentialPolicy{AccessTokenMaxLifetime: 90 * 24 * time.Hour, MaxRotationOverlap: 90 * time.Minute},
		CreatedAt:        epoch}),
		`{"id":"ac_1","name":"a","plan":"free","credential_policy":{"access_token_max_lifetime":7776000,"max_rotation_overlap":5400},"created_at":"`+ts+`"}`)
	wantJSON(t, "account requiring a second factor", identity.AccountObjectOf(store.Account{ID: "ac_1", Name: "a", Plan: "free", RequireSecondFactor: true, CreatedAt: epoch}),
		`{"id":"ac_1","name":"a","plan":"free","require_second_factor":true,"created_at":"`+ts+`"}`)
	wantJSON(t, "member", identity.MemberObjectOf(
		store.Membership{AccountID: "ac_1", UserID: "usr_1", Roles: []string{"developer"}, Status: "active", CreatedAt: epoch, UpdatedAt: later},
		store.User{ID: "usr_1", Email: "ann@example.com", Name: "Ann"}),
		`{"id":"usr_1","email":"ann@example.com","name":"Ann","roles":["developer"],"status":"active","created_at":"`+ts+`","updated_at":"`+tl+`"}`)
	wantJSON(t, "invitation", identity.InvitationObjectOf(store.Invitation{ID: "inv_1", AccountID: "ac_1", Email: "bo@example.com", InvitedBy: "usr_1", ExpiresAt: later, CreatedAt: epoch, TokenHash: "deadbeef"}),
		`{"id":"inv_1","email":"bo@example.com","roles":[],"invited_by":"usr_1","expires_at":"`+tl+`","created_at":"`+ts+`"}`)
	if ts != "2025-01-02T03:04:05Z" {
		t.Errorf("Timestamp = %s", ts)
	}
}

// TestEventTypes_Resources: every type iamkit writes names its resource as its prefix, once;
// anything else has none.
func TestEventTypes_Resources(t *testing.T) {
	seen := map[store.EventType]bool{}
	for _, typ := range identity.EventTypes() {
		r := identity.ResourceOf(typ)
		if r == "" || !strings.HasPrefix(string(typ), string(r)+"_") || seen[typ] {
			t.Errorf("%s: resource %q", typ, r)
		}
		seen[typ] = true
	}
	for _, typ := range []store.EventType{"", "widget_created.v0", "member_created.v1", "member_created"} {
		if r := identity.ResourceOf(typ); r != "" {
			t.Errorf("%q: resource %q, want none", typ, r)
		}
	}
	for _, k := range []store.CredentialKind{store.Authtoken, store.APIKey, store.SSHCredential, store.AccessToken} {
		c, u, d := identity.CredentialEventTypes(k)
		for _, typ := range []store.EventType{c, u, d} {
			if !seen[typ] {
				t.Errorf("%s: %s is not an event type", k, typ)
			}
			if k == store.AccessToken && identity.ResourceOf(typ) != identity.ResourceAccessToken {
				t.Errorf("%s: %s is about %s", k, typ, identity.ResourceOf(typ))
			}
		}
	}
}
