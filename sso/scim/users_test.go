package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
)

// filterPath is the listing a provisioning client sends to find a user by userName.
func filterPath(userName string) string {
	return "/scim/v2/Users?" + url.Values{"filter": {fmt.Sprintf("userName eq %q", userName)}, "startIndex": {"1"}, "count": {"100"}}.Encode()
}

// refusedWithin polls until check reports true, failing after a second: the bound the
// issue sets on deprovisioning.
func refusedWithin(t *testing.T, what string, check func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepted a second after deprovisioning", what)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%s refused %v after the SCIM response", what, time.Since(start))
}

// deprovisioned checks that a member's dashboard session has ended and its API key is
// refused by the Verifier within a second, and that the audit event of the change names the
// SCIM credential.
func (e *env) deprovisioned(session, apiKey string, event store.EventType) {
	e.t.Helper()
	if _, err := e.iam.Dashboard().Verify(e.ctx, e.boot.Account.ID, session); err == nil {
		e.t.Error("the dashboard session survived deprovisioning")
	}
	refusedWithin(e.t, "the member's API key", func() bool {
		_, err := e.iam.Authenticate(e.ctx, apiKey)
		return err != nil
	})
	e.wantEvent(event)
}

// wantEvent checks that the newest audit event of type t names the SCIM credential (the
// purger may have recorded the removed member's credentials' deletions after it).
func (e *env) wantEvent(t store.EventType) {
	e.t.Helper()
	var ev store.Event
	err := e.st.View(e.ctx, func(r store.Reader) error {
		evs, err := r.Events(e.ctx, e.boot.Account.ID, store.Page{Limit: 50})
		for _, x := range evs {
			if x.Type == t {
				ev = x
				break
			}
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if ev.Type != t || ev.Principal.CredentialID != e.tokID || ev.Principal.ID != e.bot.ID {
		e.t.Fatalf("newest event %s by %+v; want %s by the SCIM credential %s", ev.Type, ev.Principal, t, e.tokID)
	}
}

func resources(m map[string]any) []map[string]any {
	list, _ := m["Resources"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, r := range list {
		out = append(out, r.(map[string]any))
	}
	return out
}

// TestOktaSequence plays Okta's documented SCIM 2.0 provisioning requests: look the user up
// by userName, create, read, replace the profile, deactivate and reactivate with PATCH
// (Okta's {"op":"replace","value":{"active":false}}), then delete. Deactivation ends the
// member's dashboard session and its API key is refused within a second.
func TestOktaSequence(t *testing.T) {
	e := newEnv(t)
	if got := e.must(http.StatusOK, "GET", filterPath("test.user@acme.test"), ""); got["totalResults"] != 0.0 || len(resources(got)) != 0 {
		t.Fatalf("lookup before creation: %v", got)
	}
	created := e.must(http.StatusCreated, "POST", "/scim/v2/Users", `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName": "Test.User@acme.test",
		"name": {"givenName": "Test", "familyName": "User"},
		"emails": [{"primary": true, "value": "test.user@acme.test", "type": "work"}],
		"displayName": "Test User",
		"locale": "en-US",
		"externalId": "00ujl29u0le5T6Aj10h7",
		"groups": [],
		"password": "1mz050nq",
		"active": true
	}`)
	id, _ := created["id"].(string)
	if created["userName"] != "test.user@acme.test" || created["active"] != true || id == "" {
		t.Fatalf("created: %v", created)
	}
	e.wantEvent("member_created.v0")
	if m, err := e.iam.Directory().Member(e.ctx, e.boot.Admin, id); err != nil || m.Status != store.MemberActive || len(m.Roles) == 0 {
		t.Fatalf("membership after creation: %+v, %v", m, err)
	}
	if got := e.must(http.StatusOK, "GET", filterPath("test.user@acme.test"), ""); len(resources(got)) != 1 || resources(got)[0]["id"] != id {
		t.Fatalf("lookup after creation: %v", got)
	}
	e.must(http.StatusConflict, "POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "test.user@acme.test", "active": true}`)
	if got := e.must(http.StatusOK, "GET", "/scim/v2/Users/"+id, ""); got["displayName"] != "Test User" {
		t.Fatalf("get: %v", got)
	}
	e.must(http.StatusOK, "PUT", "/scim/v2/Users/"+id, `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"id": "`+id+`", "userName": "test.user@acme.test",
		"name": {"givenName": "Another", "familyName": "User"},
		"emails": [{"primary": true, "value": "test.user@acme.test", "type": "work"}],
		"displayName": "Another User", "active": true
	}`)
	session, apiKey := e.signedIn(id), e.userToken(id)
	e.sync()
	if _, err := e.iam.Authenticate(e.ctx, apiKey); err != nil {
		t.Fatalf("the member's API key before deactivation: %v", err)
	}
	got := e.must(http.StatusOK, "PATCH", "/scim/v2/Users/"+id, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"op": "replace", "value": {"active": false}}]
	}`)
	if got["active"] != false {
		t.Fatalf("after deactivation: %v", got)
	}
	e.deprovisioned(session, apiKey, "member_updated.v0")
	got = e.must(http.StatusOK, "PATCH", "/scim/v2/Users/"+id, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"op": "replace", "value": {"active": true}}]
	}`)
	if got["active"] != true {
		t.Fatalf("after reactivation: %v", got)
	}
	e.sync()
	if _, err := e.iam.Authenticate(e.ctx, apiKey); err != nil {
		t.Fatalf("the member's API key after reactivation: %v", err)
	}
	session = e.signedIn(id)
	e.must(http.StatusNoContent, "DELETE", "/scim/v2/Users/"+id, "")
	e.deprovisioned(session, apiKey, "member_deleted.v0")
	e.must(http.StatusNotFound, "GET", "/scim/v2/Users/"+id, "")
}

// TestEntraSequence plays Microsoft Entra ID's documented provisioning requests, with its
// quirks: the enterprise extension on creation, "Replace" in capitals, and "active" sent as
// the strings "False" and "True".
func TestEntraSequence(t *testing.T) {
	e := newEnv(t)
	const upn = "Test_User_dfeef4c5@acme.test"
	if got := e.must(http.StatusOK, "GET", filterPath(upn), ""); len(resources(got)) != 0 {
		t.Fatalf("lookup before creation: %v", got)
	}
	created := e.must(http.StatusCreated, "POST", "/scim/v2/Users", `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
		"userName": "`+upn+`",
		"active": true,
		"emails": [{"primary": true, "type": "work", "value": "Test_User_11bb6fd1@acme.test"}],
		"meta": {"resourceType": "User"},
		"name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
		"roles": []
	}`)
	id, _ := created["id"].(string)
	if got := e.must(http.StatusOK, "GET", filterPath(upn), ""); len(resources(got)) != 1 || resources(got)[0]["id"] != id {
		t.Fatalf("lookup after creation: %v", got)
	}
	e.must(http.StatusOK, "PATCH", "/scim/v2/Users/"+id, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [
			{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@acme.test"},
			{"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
		]
	}`)
	session, apiKey := e.signedIn(id), e.userToken(id)
	e.sync()
	got := e.must(http.StatusOK, "PATCH", "/scim/v2/Users/"+id, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"op": "Replace", "path": "active", "value": "False"}]
	}`)
	if got["active"] != false {
		t.Fatalf("after Entra's deactivation: %v", got)
	}
	e.deprovisioned(session, apiKey, "member_updated.v0")
	got = e.must(http.StatusOK, "PATCH", "/scim/v2/Users/"+id, `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"op": "Replace", "path": "active", "value": "True"}]
	}`)
	if got["active"] != true {
		t.Fatalf("after Entra's reactivation: %v", got)
	}
	e.must(http.StatusNoContent, "DELETE", "/scim/v2/Users/"+id, "")
	e.wantEvent("member_deleted.v0")
}

// TestUserNameIsFixed: the email of a global user does not change through one account's
// SCIM client.
func TestUserNameIsFixed(t *testing.T) {
	e := newEnv(t)
	created := e.must(http.StatusCreated, "POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@acme.test"}`)
	id := created["id"].(string)
	for _, c := range []struct{ method, body string }{
		{"PUT", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "robert@acme.test"}`},
		{"PATCH", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "userName", "value": "robert@acme.test"}]}`},
	} {
		got := e.must(http.StatusBadRequest, c.method, "/scim/v2/Users/"+id, c.body)
		if got["scimType"] != "mutability" {
			t.Errorf("%s: %v", c.method, got)
		}
	}
}

// TestCreateNeedsATrustedDomain: a SCIM client creates or adds users only on an email domain
// an identity provider of its account is trusted for, since users are global.
func TestCreateNeedsATrustedDomain(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.iam.Directory().EnsureUser(e.ctx, "alice@example.com", "Alice"); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"alice@example.com", "carol@elsewhere.test"} {
		got := e.must(http.StatusForbidden, "POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "`+email+`"}`)
		if got["schemas"].([]any)[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
			t.Errorf("%s: %v", email, got)
		}
	}
	if _, err := e.iam.Directory().UserByEmail(e.ctx, "carol@elsewhere.test"); err == nil {
		t.Error("a refused creation created the user")
	}
}

// TestAuthentication: only an access token of a service user holding scim:write within its
// scopes reaches the endpoints; every refusal is SCIM's error body.
func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	_, noScope, _ := e.serviceUser("no-scope", []string{rbac.RoleTeamManager}, "members:read", "members:manage")
	_, noRole, _ := e.serviceUser("read-only", []string{rbac.RoleDeveloperReadOnly}, scim.PermissionName)
	admin := e.userToken(e.boot.Admin.ID)
	e.sync()
	for _, c := range []struct {
		name, token string
		status      int
	}{
		{"no_token", "", http.StatusUnauthorized},
		{"garbage", "iap_nope", http.StatusUnauthorized},
		{"api_key_of_an_administrator", admin, http.StatusUnauthorized},
		{"access_token_without_the_scope", noScope, http.StatusForbidden},
		{"service_user_without_the_role", noRole, http.StatusForbidden},
		{"scim_token", e.token, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.doAs(c.token, "GET", "/scim/v2/Users", "")
			if status != c.status {
				t.Fatalf("status %d, want %d: %v", status, c.status, body)
			}
			if status != http.StatusOK && (body["status"] != fmt.Sprint(status) || body["schemas"] == nil) {
				t.Fatalf("error body %v", body)
			}
		})
	}
}

// TestDiscovery: the service provider's configuration, schemas and resource types.
func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	spc := e.must(http.StatusOK, "GET", "/scim/v2/ServiceProviderConfig", "")
	if p, _ := spc["patch"].(map[string]any); p["supported"] != true {
		t.Errorf("ServiceProviderConfig: %v", spc)
	}
	if got := e.must(http.StatusOK, "GET", "/scim/v2/Schemas", ""); got["totalResults"].(float64) < 1 {
		t.Errorf("Schemas: %v", got)
	}
	if got := e.must(http.StatusOK, "GET", "/scim/v2/ResourceTypes", ""); len(resources(got)) < 1 {
		t.Errorf("ResourceTypes: %v", got)
	}
	e.must(http.StatusNotFound, "GET", "/scim/v2/Nothing", "")
}

// TestListing: startIndex and count page the members; other filters are evaluated.
func TestListing(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.must(http.StatusCreated, "POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u%d@acme.test"}`, i))
	}
	got := e.must(http.StatusOK, "GET", "/scim/v2/Users?startIndex=2&count=3", "")
	if got["totalResults"] != 6.0 || len(resources(got)) != 3 || got["startIndex"] != 2.0 {
		t.Fatalf("page: %v", got)
	}
	got = e.must(http.StatusOK, "GET", "/scim/v2/Users?"+url.Values{"filter": {`userName sw "u1"`}}.Encode(), "")
	if got["totalResults"] != 1.0 {
		t.Fatalf("filter sw: %v", got)
	}
	e.must(http.StatusBadRequest, "GET", "/scim/v2/Users?"+url.Values{"filter": {`userName eq`}}.Encode(), "")
}
