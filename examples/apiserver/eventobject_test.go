package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
)

// everyEventType makes the account's log hold at least one event of every type iamkit
// writes, and returns, per resource left alive at the end, its API path: the newest event
// about each holds the resource as it is now.
func (e *env) everyEventType() map[string]string {
	e.t.Helper()
	ctx := e.t.Context()
	live := map[string]string{}

	// Account (created by bootstrap).
	admin, err := e.iam.Directory().Principal(ctx, e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.iam.Directory().ChangePlan(ctx, admin, identity.Enterprise().Name); err != nil {
		e.t.Fatal(err)
	}
	live[e.boot.AccountID] = "/account"

	// Members and invitations.
	mate := e.addMember("teammate@example.com", "developer")
	e.req("PATCH", "/members/"+mate, map[string]any{"roles": []string{"team_manager"}}).want(http.StatusOK, nil)
	live[mate] = "/members/" + mate
	gone := e.addMember("gone@example.com", "developer")
	e.req("DELETE", "/members/"+gone, nil).want(http.StatusNoContent, nil)
	var kept, revoked, accepted invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "kept@example.com", "roles": []string{"developer"}}).want(http.StatusCreated, &kept)
	live[kept.ID] = "/invitations/" + kept.ID
	e.req("POST", "/invitations", map[string]any{"email": "revoked@example.com"}).want(http.StatusCreated, &revoked)
	e.req("DELETE", "/invitations/"+revoked.ID, nil).want(http.StatusNoContent, nil)
	e.req("POST", "/invitations", map[string]any{"email": "joiner@example.com"}).want(http.StatusCreated, &accepted)
	_, joinerKey := e.outsider("joiner@example.com")
	e.reqAs(joinerKey, "POST", "/invitations/"+accepted.ID+"/accept", nil).want(http.StatusCreated, nil)

	// Roles.
	var role, oldRole roleOutT
	e.req("POST", "/roles", map[string]any{"name": "auditor", "description": "reads the log", "permissions": []string{"events:read"}}).want(http.StatusCreated, &role)
	e.req("PATCH", "/roles/"+role.ID, map[string]any{"permissions": []string{"events:read", "members:read"}}).want(http.StatusOK, nil)
	live[role.ID] = "/roles/" + role.ID
	e.req("POST", "/roles", map[string]any{"name": "old", "permissions": []string{"events:read"}}).want(http.StatusCreated, &oldRole)
	e.req("DELETE", "/roles/"+oldRole.ID, nil).want(http.StatusNoContent, nil)

	// Bot users and credentials of every kind, updated, deleted, and deleted with their owner.
	bot := e.createBot("deployer")
	e.req("PATCH", "/bot_users/"+bot.ID, map[string]any{"active": false}).want(http.StatusOK, nil)
	live[bot.ID] = "/bot_users/" + bot.ID
	doomed := e.createBot("doomed")
	for _, k := range []struct{ path, kind string }{{"/credentials", "authtoken"}, {"/api_keys", "api key"}, {"/ssh_credentials", "ssh"}} {
		create := func(owner string) string {
			body := map[string]any{"description": k.kind, "metadata": `{"team":"edge"}`, "owner_id": owner}
			if k.path == "/ssh_credentials" {
				body["public_key"] = sshPublicKey(e.t)
			}
			if k.path != "/api_keys" {
				body["acl"] = []string{"bind:*.example.com"}
			}
			id, _ := e.req("POST", k.path, body).want(http.StatusCreated, nil).raw()["id"].(string)
			return id
		}
		kept := create(e.boot.AdminUserID)
		e.req("PATCH", k.path+"/"+kept, map[string]any{"description": k.kind + " (renamed)"}).want(http.StatusOK, nil)
		live[kept] = k.path + "/" + kept
		deleted := create(e.boot.AdminUserID)
		e.req("DELETE", k.path+"/"+deleted, nil).want(http.StatusNoContent, nil)
		create(doomed.ID)
	}
	e.req("DELETE", "/bot_users/"+doomed.ID, nil).want(http.StatusNoContent, nil)

	// Access tokens, through the library until the API serves /access_tokens.
	for _, deleted := range []bool{false, true} {
		tok, err := e.iam.Credentials().Create(ctx, admin, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"credentials:read"}})
		if err != nil {
			e.t.Fatal(err)
		}
		renamed := "renamed"
		if _, err := e.iam.Credentials().Update(ctx, admin, tok.ID, credential.UpdateRequest{Description: &renamed}); err != nil {
			e.t.Fatal(err)
		}
		if deleted {
			if err := e.iam.Credentials().Delete(ctx, admin, tok.ID); err != nil {
				e.t.Fatal(err)
			}
		}
	}

	// SSO, with the domains its IdPs are trusted for.
	ds := e.verifyDomains("example.com", "old.example.com")
	// Members of old.example.com sign in through SSO only; nobody here has a password there.
	e.req("PATCH", "/domains/"+ds[1].ID, map[string]any{"require_sso": true}).want(http.StatusOK, nil)
	live[ds[1].ID] = "/domains/" + ds[1].ID
	var spare domainOutT
	e.req("POST", "/domains", map[string]any{"domain": "spare.example.com"}).want(http.StatusCreated, &spare)
	e.req("DELETE", "/domains/"+spare.ID, nil).want(http.StatusNoContent, nil)
	var idp, oldIdP idpOutT
	e.req("POST", "/identity_providers", map[string]any{
		"description": "Okta", "metadata_xml": idpMetadata(e.t, "https://idp.example.com/metadata"), "domains": []string{"example.com"},
	}).want(http.StatusCreated, &idp)
	e.req("PATCH", "/identity_providers/"+idp.ID, map[string]any{"description": "Okta (prod)", "default_roles": []string{"developer"}}).want(http.StatusOK, nil)
	live[idp.ID] = "/identity_providers/" + idp.ID
	e.req("POST", "/identity_providers", map[string]any{
		"metadata_xml": idpMetadata(e.t, "https://old.example.com/metadata"), "domains": []string{"old.example.com"},
	}).want(http.StatusCreated, &oldIdP)
	e.req("DELETE", "/identity_providers/"+oldIdP.ID, nil).want(http.StatusNoContent, nil)
	e.req("PATCH", "/sso_settings", map[string]any{"provisioning": "jit", "enforcement": "mixed"}).want(http.StatusOK, nil)
	live["sso_settings"] = "/sso_settings"

	e.scimGroupEvents(admin)
	e.ipRestrictionEvents(live)
	e.dashboardEvents()
	dest := e.streamingEvents()
	live[dest] = "/event_destinations/" + dest
	return live
}

// streamingEvents creates, updates and deletes event destinations and a subscription, and
// returns the destination left alive. (A subscription's sources and destinations carry
// their "uri" in the API, not in its event object.)
func (e *env) streamingEvents() string {
	e.t.Helper()
	target := map[string]any{"webhook": map[string]any{"url": "https://siem.example.com/hook"}}
	var kept, gone destinationOutT
	e.req("POST", "/event_destinations", map[string]any{"description": "SIEM", "target": target}).want(http.StatusCreated, &kept)
	e.req("PATCH", "/event_destinations/"+kept.ID, map[string]any{"metadata": `{"team":"sec"}`}).want(http.StatusOK, nil)
	e.req("POST", "/event_destinations", map[string]any{"target": target}).want(http.StatusCreated, &gone)
	var sub subscriptionOutT
	e.req("POST", "/event_subscriptions", map[string]any{
		"sources": []map[string]any{{"type": "bot_user_created.v0"}}, "destination_ids": []string{kept.ID, gone.ID},
	}).want(http.StatusCreated, &sub)
	e.req("DELETE", "/event_destinations/"+gone.ID, nil).want(http.StatusNoContent, nil) // updates the subscription
	e.req("DELETE", "/event_subscriptions/"+sub.ID, nil).want(http.StatusNoContent, nil)
	return kept.ID
}

// scimGroupEvents has a SCIM client create, rename and delete groups: the group events.
func (e *env) scimGroupEvents(admin identity.Principal) {
	e.t.Helper()
	ctx := e.t.Context()
	bot, err := e.iam.BotUsers().Create(ctx, admin, botuser.CreateParams{Name: "okta", Roles: []string{rbac.RoleTeamManager}})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.iam.Credentials().Create(ctx, admin, credential.CreateRequest{
		Kind: store.AccessToken, OwnerID: bot.ID, Scopes: []string{scim.PermissionName, "members:read", "members:manage"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.iam.Sync(ctx); err != nil {
		e.t.Fatal(err)
	}
	send := func(method, path, body string, want int) map[string]any {
		req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+"/scim/v2"+path, strings.NewReader(body))
		if err != nil {
			e.t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token.Reveal())
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			e.t.Fatalf("SCIM %s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	const group = `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": %q}`
	kept := send("POST", "/Groups", fmt.Sprintf(group, "Engineering"), http.StatusCreated)["id"].(string)
	send("PATCH", "/Groups/"+kept, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "Eng"}]}`, http.StatusOK)
	gone := send("POST", "/Groups", fmt.Sprintf(group, "Temp"), http.StatusCreated)["id"].(string)
	send("DELETE", "/Groups/"+gone, "", http.StatusNoContent)
}

// ipRestrictionEvents changes IP policies, rules and restrictions through the API, and has a
// warn-only restriction record a would-be refusal (the test client is outside its policy).
func (e *env) ipRestrictionEvents(live map[string]string) {
	e.t.Helper()
	id := func(r *response) string { v, _ := r.raw()["id"].(string); return v }
	pol := id(e.req("POST", "/ip_policies", map[string]any{"description": "office"}).want(http.StatusCreated, nil))
	e.req("PATCH", "/ip_policies/"+pol, map[string]any{"metadata": `{"site":"hq"}`}).want(http.StatusOK, nil)
	live[pol] = "/ip_policies/" + pol
	rule := id(e.req("POST", "/ip_policy_rules", map[string]any{"ip_policy_id": pol, "cidr": "10.0.0.0/8"}).want(http.StatusCreated, nil))
	e.req("PATCH", "/ip_policy_rules/"+rule, map[string]any{"description": "vpn"}).want(http.StatusOK, nil)
	gone := id(e.req("POST", "/ip_policy_rules", map[string]any{"ip_policy_id": pol, "cidr": "2001:db8::/32", "action": "deny"}).want(http.StatusCreated, nil))
	e.req("DELETE", "/ip_policy_rules/"+gone, nil).want(http.StatusNoContent, nil)
	x := id(e.req("POST", "/ip_restrictions", map[string]any{"type": "api", "ip_policy_ids": []string{pol}}).want(http.StatusCreated, nil))
	e.req("PATCH", "/ip_restrictions/"+x, map[string]any{"description": "warn first"}).want(http.StatusOK, nil) // warned
	e.req("DELETE", "/ip_restrictions/"+x, nil).want(http.StatusNoContent, nil)
	old := id(e.req("POST", "/ip_policies", map[string]any{"description": "old office"}).want(http.StatusCreated, nil))
	e.req("DELETE", "/ip_policies/"+old, nil).want(http.StatusNoContent, nil)
}

// dashboardEvents has the administrator sign in to the dashboard (package sso, which this
// server does not serve) and change its password and second factor: the sign-in events.
func (e *env) dashboardEvents() {
	e.t.Helper()
	ctx := e.t.Context()
	dash, err := sso.NewDashboard(e.iam.SSO(), sso.WithSecretKey(make([]byte, sso.SecretKeyLen)),
		sso.WithPasswordParams(sso.PasswordParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}))
	if err != nil {
		e.t.Fatal(err)
	}
	const pw = "correct horse battery"
	if err := dash.SetInitialPassword(ctx, e.boot.AdminUserID, pw); err != nil {
		e.t.Fatal(err)
	}
	signIn := func(password string) (sso.SignInResult, error) {
		return dash.SignIn(ctx, sso.SignInRequest{AccountID: e.boot.AccountID, Email: "admin@example.com", Password: password})
	}
	if _, err := signIn("not the password"); err == nil {
		e.t.Fatal("a wrong password was accepted")
	}
	res, err := signIn(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	code := func(at time.Time, secret string) string {
		c, err := totp.GenerateCode(secret, at)
		if err != nil {
			e.t.Fatal(err)
		}
		return c
	}
	setup, err := dash.BeginTOTP(ctx, res.Session)
	if err != nil {
		e.t.Fatal(err)
	}
	secret := setup.Secret.Reveal()
	if _, err := dash.ConfirmTOTP(ctx, res.Session, code(time.Now(), secret)); err != nil {
		e.t.Fatal(err)
	}
	codes, err := dash.RegenerateRecoveryCodes(ctx, res.Session, code(time.Now().Add(30*time.Second), secret))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := dash.DisableTOTP(ctx, res.Session, codes[0].Reveal()); err != nil {
		e.t.Fatal(err)
	}
	next, err := dash.ChangePassword(ctx, res.Session, pw, "another long passphrase")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := dash.SignOut(ctx, next.Session); err != nil {
		e.t.Fatal(err)
	}
}

// internalFields are what an event object may not hold: the store's internal fields, which
// the API never shows.
var internalFields = []string{"secret_hash", "metadata_xml", "account_id", "fingerprint", "last_used_at", "kind", "sso", "uri"}

// TestEventObjects_HaveNoInternalFields is the regression test for event objects being the
// store's records: for every event type, the stored object has no internal field (no secret
// hash, no raw IdP metadata, no account ID) and a token, where the resource has one, is
// null.
func TestEventObjects_HaveNoInternalFields(t *testing.T) {
	e := newEnv(t)
	e.everyEventType()
	byType := map[store.EventType][]map[string]any{}
	for _, ev := range e.storedEvents() {
		var obj map[string]any
		if err := json.Unmarshal(ev.Object, &obj); err != nil {
			t.Fatalf("%s: object %s: %v", ev.Type, ev.Object, err)
		}
		byType[ev.Type] = append(byType[ev.Type], obj)
	}
	for _, typ := range identity.EventTypes() {
		objs := byType[typ]
		if len(objs) == 0 {
			t.Errorf("%s: no event recorded", typ)
		}
		for _, obj := range objs {
			for _, f := range internalFields {
				if _, ok := obj[f]; ok {
					t.Errorf("%s: object has %q: %v", typ, f, obj)
				}
			}
			if tok, ok := obj["token"]; ok && tok != nil {
				t.Errorf("%s: token not null: %v", typ, obj)
			}
			if strings.HasPrefix(string(typ), "tunnel_credential_") || strings.HasPrefix(string(typ), "api_key_") {
				if tok, ok := obj["token"]; !ok || tok != nil {
					t.Errorf("%s: want \"token\": null, as the API shows it: %v", typ, obj)
				}
			}
			if id, _ := obj["id"].(string); id == "" && !strings.HasPrefix(string(typ), "sso_settings_") {
				t.Errorf("%s: object has no id: %v", typ, obj)
			}
		}
	}
}

// apiExtras are the fields a resource's GET has beyond its event object: what is computed
// when it is served (seat usage, the SAML endpoints) or too large and sensitive for the log
// (the IdP's metadata document, represented in events by its entity ID and SSO URL).
var apiExtras = map[string][]string{
	"/account":             {"seats"},
	"/identity_providers/": {"metadata_xml", "sp_entity_id", "sp_metadata_url", "acs_url", "login_url"},
}

// TestEventObjects_MatchAPI checks that an event's object is the resource as the API shows
// it: the newest event about each resource, as GET /events serves it, equals GET of that
// resource (less what only the GET computes, apiExtras).
func TestEventObjects_MatchAPI(t *testing.T) {
	e := newEnv(t)
	live := e.everyEventType()
	events, _ := e.eventsAs(e.key)
	newest := map[string]map[string]any{}
	for _, ev := range events { // newest first
		var obj map[string]any
		if err := json.Unmarshal(ev.Object, &obj); err != nil {
			t.Fatalf("%s: object %s: %v", ev.EventType, ev.Object, err)
		}
		key, _ := obj["id"].(string)
		if strings.HasPrefix(ev.EventType, "sso_settings_") {
			key = "sso_settings"
		}
		if _, seen := newest[key]; !seen {
			newest[key] = obj
		}
	}
	for _, key := range slices.Sorted(maps.Keys(live)) {
		path := live[key]
		obj, ok := newest[key]
		if !ok {
			t.Errorf("%s: no event", path)
			continue
		}
		got := e.req("GET", path, nil).want(http.StatusOK, nil).raw()
		for prefix, extras := range apiExtras {
			if strings.HasPrefix(path, prefix) {
				for _, f := range extras {
					delete(got, f)
				}
			}
		}
		if !reflect.DeepEqual(obj, got) {
			t.Errorf("%s:\nevent object %v\nGET          %v", path, obj, got)
		}
	}
}

// eventsAs reads the whole log with an API key, following next_page_uri, and returns its
// events and every response body, concatenated.
func (e *env) eventsAs(key string) ([]eventOutT, string) {
	e.t.Helper()
	var (
		events []eventOutT
		bodies strings.Builder
	)
	for next := "/events?limit=100"; next != ""; {
		var page eventListT
		resp := e.reqAs(key, "GET", next, nil).want(http.StatusOK, &page)
		bodies.Write(resp.body)
		events = append(events, page.Events...)
		next = ""
		if page.NextPageURI != nil {
			next = *page.NextPageURI
		}
	}
	return events, bodies.String()
}

// storedEvents returns the account's whole log, newest first, straight from the store.
func (e *env) storedEvents() []store.Event {
	e.t.Helper()
	ctx := e.t.Context()
	var out []store.Event
	p := store.Page{Limit: store.MaxPageLimit}
	err := e.st.View(ctx, func(r store.Reader) error {
		for {
			evs, err := r.Events(ctx, e.boot.AccountID, p)
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
		e.t.Fatal(err)
	}
	return out
}

// TestObjectWithURI: the API adds the resource's "uri" to a stored event object, and serves
// anything else (null, not an object, an object with a uri, an unknown resource) as stored.
func TestObjectWithURI(t *testing.T) {
	const base = "https://api.example.com"
	for _, tc := range []struct {
		res       identity.Resource
		obj, want string
	}{
		{identity.ResourceBotUser, `{"id":"bot_1","name":"ci"}`, `{"id":"bot_1","name":"ci","uri":"https://api.example.com/bot_users/bot_1"}`},
		{identity.ResourceAPIKey, `{"id":"ak_1","token":null}`, `{"id":"ak_1","token":null,"uri":"https://api.example.com/api_keys/ak_1"}`},
		{identity.ResourceSSHPublicKey, `{"id":"sshcr_1"}`, `{"id":"sshcr_1","uri":"https://api.example.com/ssh_credentials/sshcr_1"}`},
		{identity.ResourceSSOSettings, `{"provisioning":"jit"}`, `{"provisioning":"jit","uri":"https://api.example.com/sso_settings"}`},
		{identity.ResourceAccount, `{"id":"ac_1"}`, `{"id":"ac_1","uri":"https://api.example.com/account"}`},
		{identity.ResourceMember, `{"id":"usr_1","uri":"elsewhere"}`, `{"id":"usr_1","uri":"elsewhere"}`},
		{identity.ResourceMember, `{"name":"no id"}`, `{"name":"no id"}`},
		{identity.ResourceRole, `{"id":7}`, `{"id":7}`},
		{"widget", `{"id":"w_1"}`, `{"id":"w_1"}`},
		{identity.ResourceBotUser, `null`, `null`},
		{identity.ResourceBotUser, ``, `null`},
		{identity.ResourceBotUser, `[1,2]`, `[1,2]`},
	} {
		got := objectWithURI(base, tc.res, json.RawMessage(tc.obj))
		var gotV, wantV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("%s %s: served %s: %v", tc.res, tc.obj, got, err)
		}
		if err := json.Unmarshal([]byte(tc.want), &wantV); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%s %s: served %s, want %s", tc.res, tc.obj, got, tc.want)
		}
	}
}

// FuzzObjectWithURI: whatever a stored event object holds, the API serves valid JSON, or the
// object unchanged when it was not valid JSON to begin with.
func FuzzObjectWithURI(f *testing.F) {
	for _, s := range []string{`{"id":"bot_1"}`, `{}`, `null`, `[]`, `{"id":"x","uri":"y"}`, `{"id":"a\u0000"}`, `{"id":"a","id":"b"}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, obj string) {
		for _, r := range []identity.Resource{identity.ResourceBotUser, identity.ResourceAccount, ""} {
			got := objectWithURI("https://api.example.com", r, json.RawMessage(obj))
			if !json.Valid([]byte(obj)) {
				if len(obj) > 0 && string(got) != obj {
					t.Fatalf("invalid object %q served as %q", obj, got)
				}
				continue
			}
			if !json.Valid(got) {
				t.Fatalf("object %q served as invalid JSON %q", obj, got)
			}
		}
	})
}
