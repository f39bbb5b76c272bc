package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/rbac"
)

// TestErrors sends every kind of bad request and checks the status, ngrok's error code and
// body, and that nothing was stored (no event, no bot user, no credential).
func TestErrors(t *testing.T) {
	e := newEnv(t)

	// Fixtures, made before the table runs.
	bot := e.createBot("taken")
	var authtoken ngrokCredential
	e.req("POST", "/credentials", map[string]any{}).want(http.StatusCreated, &authtoken)
	apiKey := e.createAPIKey("")
	pub := sshPublicKey(t)
	var sshCred ngrokSSHCredential
	e.req("POST", "/ssh_credentials", map[string]any{"public_key": pub}).want(http.StatusCreated, &sshCred)

	revoked := e.createAPIKey("")
	e.req("DELETE", "/api_keys/"+revoked.ID, nil).want(http.StatusNoContent, nil)

	developer := e.addMember("dev@example.com", rbac.RoleDeveloper)
	devKey := e.createAPIKey(developer)
	disabled := e.addMember("gone@example.com", rbac.RoleDeveloper)
	disabledKey := e.createAPIKey(disabled)
	e.req("POST", "/members/"+disabled+"/disable", nil).want(http.StatusOK, nil)

	long := func(n int) string { return strings.Repeat("x", n) }
	bigBody := `{"description":"` + long(70<<10) + `"}`

	for _, tc := range []struct {
		name   string
		key    string // default: the administrator's
		method string
		path   string
		body   any
		hdr    []string
		status int
		code   string
	}{
		// Headers and authentication.
		{name: "no authorization", method: "POST", path: "/bot_users", body: map[string]any{"name": "a"}, hdr: []string{"Authorization", ""}, status: 401, code: "ERR_NGROK_200"},
		{name: "basic auth", method: "GET", path: "/bot_users", hdr: []string{"Authorization", "Basic dXNlcjpwYXNz"}, status: 401, code: "ERR_NGROK_201"},
		{name: "bearer without token", method: "GET", path: "/bot_users", hdr: []string{"Authorization", "Bearer "}, status: 401, code: "ERR_NGROK_201"},
		{name: "malformed key", key: "not-a-key", method: "POST", path: "/bot_users", body: map[string]any{"name": "a"}, status: 401, code: "ERR_NGROK_202"},
		{name: "tampered key", key: tamper(e.key), method: "GET", path: "/bot_users", status: 401, code: "ERR_NGROK_202"},
		{name: "authtoken as API key", key: *authtoken.Token, method: "GET", path: "/bot_users", status: 401, code: "ERR_NGROK_206"},
		{name: "API key ID as token", key: apiKey.ID, method: "GET", path: "/bot_users", status: 401, code: "ERR_NGROK_208"},
		{name: "revoked key", key: *revoked.Token, method: "POST", path: "/bot_users", body: map[string]any{"name": "a"}, status: 401, code: "ERR_NGROK_203"},
		{name: "disabled member's key", key: *disabledKey.Token, method: "POST", path: "/credentials", body: map[string]any{}, status: 401, code: "ERR_NGROK_636"},
		{name: "no version", method: "POST", path: "/bot_users", body: map[string]any{"name": "a"}, hdr: []string{"Ngrok-Version", ""}, status: 400, code: "ERR_NGROK_218"},
		{name: "bad version", method: "POST", path: "/bot_users", body: map[string]any{"name": "a"}, hdr: []string{"Ngrok-Version", "1"}, status: 400, code: "ERR_NGROK_217"},

		// Bodies.
		{name: "malformed JSON", method: "POST", path: "/bot_users", body: `{"name":`, status: 400, code: "ERR_NGROK_213"},
		{name: "JSON array", method: "POST", path: "/credentials", body: `[]`, status: 400, code: "ERR_NGROK_213"},
		{name: "trailing data", method: "POST", path: "/bot_users", body: `{"name":"a"} {}`, status: 400, code: "ERR_NGROK_213"},
		{name: "unknown field", method: "POST", path: "/bot_users", body: `{"name":"a","admin":true}`, status: 400, code: "ERR_NGROK_214"},
		{name: "field of another kind", method: "POST", path: "/api_keys", body: `{"acl":["bind:x.example.com"]}`, status: 400, code: "ERR_NGROK_214"},
		{name: "case-folded field", method: "POST", path: "/bot_users", body: `{"Name":"a"}`, status: 400, code: "ERR_NGROK_214"},
		{name: "wrong type", method: "POST", path: "/bot_users", body: `{"name":5}`, status: 400, code: "ERR_NGROK_215"},
		{name: "wrong type in list", method: "POST", path: "/credentials", body: `{"acl":"bind:x.example.com"}`, status: 400, code: "ERR_NGROK_215"},
		{name: "oversize body", method: "POST", path: "/credentials", body: bigBody, status: 413, code: "ERR_NGROK_212"},
		{name: "text content type", method: "POST", path: "/bot_users", body: `{"name":"a"}`, hdr: []string{"Content-Type", "text/plain"}, status: 415, code: "ERR_NGROK_210"},
		{name: "no content type", method: "POST", path: "/bot_users", body: `{"name":"a"}`, hdr: []string{"Content-Type", ""}, status: 400, code: "ERR_NGROK_216"},
		{name: "body on delete", method: "DELETE", path: "/bot_users/" + bot.ID, body: `{}`, status: 400, code: "ERR_NGROK_211"},

		// IDs, paging, routing.
		{name: "wrong ID prefix", method: "GET", path: "/bot_users/" + authtoken.ID, status: 400, code: "ERR_NGROK_227"},
		{name: "wrong ID prefix on delete", method: "DELETE", path: "/api_keys/" + authtoken.ID, status: 400, code: "ERR_NGROK_227"},
		{name: "malformed ID", method: "PATCH", path: "/credentials/cr_123", body: map[string]any{"description": "x"}, status: 400, code: "ERR_NGROK_227"},
		{name: "limit 0", method: "GET", path: "/credentials?limit=0", status: 400, code: "ERR_NGROK_233"},
		{name: "limit 101", method: "GET", path: "/ssh_credentials?limit=101", status: 400, code: "ERR_NGROK_233"},
		{name: "unknown bot", method: "PATCH", path: "/bot_users/" + notExisting(bot.ID), body: map[string]any{"name": "x"}, status: 404, code: "ERR_NGROK_90404"},
		{name: "unknown path", method: "GET", path: "/tunnels", status: 404, code: "ERR_NGROK_90404"},
		{name: "wrong method", method: "PUT", path: "/bot_users/" + bot.ID, body: map[string]any{"name": "x"}, status: 405, code: "ERR_NGROK_90405"},

		// Bot users.
		{name: "empty bot name", method: "POST", path: "/bot_users", body: map[string]any{"name": ""}, status: 400, code: "ERR_NGROK_4109"},
		{name: "missing bot name", method: "POST", path: "/bot_users", body: map[string]any{}, status: 400, code: "ERR_NGROK_4109"},
		{name: "bot name too long", method: "POST", path: "/bot_users", body: map[string]any{"name": long(256)}, status: 400, code: "ERR_NGROK_4110"},
		{name: "rename too long", method: "PATCH", path: "/bot_users/" + bot.ID, body: map[string]any{"name": long(256)}, status: 400, code: "ERR_NGROK_4110"},
		{name: "duplicate bot name", method: "POST", path: "/bot_users", body: map[string]any{"name": "taken"}, status: 409, code: "ERR_NGROK_4112"},
		{name: "developer creates a bot", key: *devKey.Token, method: "POST", path: "/bot_users", body: map[string]any{"name": "mine"}, status: 403, code: "ERR_NGROK_4111"},
		{name: "developer deactivates a bot", key: *devKey.Token, method: "PATCH", path: "/bot_users/" + bot.ID, body: map[string]any{"active": false}, status: 403, code: "ERR_NGROK_4111"},
		{name: "developer deletes a bot", key: *devKey.Token, method: "DELETE", path: "/bot_users/" + bot.ID, status: 403, code: "ERR_NGROK_4111"},

		// Credentials.
		{name: "empty update", method: "PATCH", path: "/credentials/" + authtoken.ID, body: map[string]any{}, status: 400, code: "ERR_NGROK_606"},
		{name: "null-only update", method: "PATCH", path: "/api_keys/" + apiKey.ID, body: `{"description":null}`, status: 400, code: "ERR_NGROK_606"},
		{name: "authtoken owner change", method: "PATCH", path: "/credentials/" + authtoken.ID, body: map[string]any{"owner_id": bot.ID}, status: 400, code: "ERR_NGROK_627"},
		{name: "API key owner change", method: "PATCH", path: "/api_keys/" + apiKey.ID, body: map[string]any{"owner_id": bot.ID}, status: 400, code: "ERR_NGROK_628"},
		{name: "SSH key owner change", method: "PATCH", path: "/ssh_credentials/" + sshCred.ID, body: map[string]any{"owner_id": bot.ID}, status: 400, code: "ERR_NGROK_629"},
		{name: "description too long", method: "POST", path: "/credentials", body: map[string]any{"description": long(256)}, status: 400, code: "ERR_NGROK_604"},
		{name: "description too long on update", method: "PATCH", path: "/api_keys/" + apiKey.ID, body: map[string]any{"description": long(256)}, status: 400, code: "ERR_NGROK_604"},
		{name: "metadata too long", method: "POST", path: "/api_keys", body: map[string]any{"metadata": long(4097)}, status: 400, code: "ERR_NGROK_605"},
		{name: "invalid ACL rule", method: "POST", path: "/credentials", body: map[string]any{"acl": []string{"connect:example.com"}}, status: 400, code: "ERR_NGROK_600"},
		{name: "invalid ACL on update", method: "PATCH", path: "/ssh_credentials/" + sshCred.ID, body: map[string]any{"acl": []string{"bind:"}}, status: 400, code: "ERR_NGROK_600"},
		{name: "duplicate SSH key", method: "POST", path: "/ssh_credentials", body: map[string]any{"public_key": pub}, status: 409, code: "ERR_NGROK_609"},
		{name: "missing SSH key", method: "POST", path: "/ssh_credentials", body: map[string]any{"description": "x"}, status: 400, code: "ERR_NGROK_611"},
		{name: "invalid SSH key", method: "POST", path: "/ssh_credentials", body: map[string]any{"public_key": "ssh-rsa AAAAnotakey"}, status: 400, code: "ERR_NGROK_612"},
		{name: "unknown owner", method: "POST", path: "/credentials", body: map[string]any{"owner_id": notExisting(bot.ID)}, status: 400, code: "ERR_NGROK_634"},
		{name: "owner of the wrong kind", method: "POST", path: "/credentials", body: map[string]any{"owner_id": authtoken.ID}, status: 400, code: "ERR_NGROK_227"},
		{name: "developer sets an owner", key: *devKey.Token, method: "POST", path: "/api_keys", body: map[string]any{"owner_id": bot.ID}, status: 403, code: "ERR_NGROK_630"},
		{name: "unknown credential", method: "DELETE", path: "/ssh_credentials/" + notExisting(sshCred.ID), status: 404, code: "ERR_NGROK_90404"},

		// iamkit's resources.
		{name: "developer lists members", key: *devKey.Token, method: "GET", path: "/members", status: 403, code: "ERR_NGROK_1216"},
		{name: "developer invites", key: *devKey.Token, method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{"admin"}}, status: 403, code: "ERR_NGROK_4411"},
		{name: "developer makes a role", key: *devKey.Token, method: "POST", path: "/roles", body: map[string]any{"name": "r", "permissions": []string{"events:read"}}, status: 403, code: "ERR_NGROK_1220"},
		{name: "invitation without email", method: "POST", path: "/invitations", body: map[string]any{}, status: 400, code: "ERR_NGROK_4400"},
		{name: "unknown permission", method: "POST", path: "/roles", body: map[string]any{"name": "r", "permissions": []string{"tunnels:fly"}}, status: 400, code: "ERR_NGROK_215"},
		{name: "admin-only permission in a role", method: "POST", path: "/roles", body: map[string]any{"name": "r", "permissions": []string{"sso:manage"}}, status: 400, code: "ERR_NGROK_215"},
		{name: "disable the last administrator", method: "POST", path: "/members/" + e.boot.AdminUserID + "/disable", status: 400, code: "ERR_NGROK_6622"},
		{name: "remove the last administrator", method: "DELETE", path: "/members/" + e.boot.AdminUserID, status: 400, code: "ERR_NGROK_6602"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			key := e.key
			if tc.key != "" {
				key = tc.key
			}
			r := e.reqAs(key, tc.method, tc.path, tc.body, tc.hdr...)
			r.wantError(tc.status, tc.code)
			if after := e.snapshot(); after != before {
				t.Fatalf("store changed: %+v -> %+v", before, after)
			}
			if strings.Contains(string(r.body), key) && len(key) > 20 {
				t.Fatalf("error body repeats the key: %s", r.body)
			}
		})
	}
}

// tamper changes one character of a token's secret, which its checksum catches.
func tamper(token string) string {
	b := []byte(token)
	i := len(b) - 10
	if b[i] == 'a' {
		b[i] = 'b'
	} else {
		b[i] = 'a'
	}
	return string(b)
}

// notExisting returns a well-formed ID of the same type as id that names nothing.
func notExisting(id string) string {
	prefix, body, _ := strings.Cut(id, "_")
	// Keep the shard tag (last 4) so the ID routes to the same account; change the time part.
	return prefix + "_" + "0000000000" + body[10:]
}
