package main

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store"
)

// TestBotUserLifecycle drives a bot user through ngrok's API as a client would: create, get,
// list, rename, give it credentials, use its API key, deactivate it (its credentials stop
// working), reactivate it, delete it (its credentials are gone).
func TestBotUserLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	// Create.
	var bot ngrokBotUser
	e.req("POST", "/bot_users", map[string]any{"name": "ci-runner"}).want(http.StatusCreated, &bot)
	if !strings.HasPrefix(bot.ID, "bot_") || bot.Name != "ci-runner" || !bot.Active ||
		bot.URI != e.srv.URL+"/bot_users/"+bot.ID || !rfc3339Z.MatchString(bot.CreatedAt) {
		t.Fatalf("created bot user %+v", bot)
	}

	// Get and list.
	var got ngrokBotUser
	e.req("GET", "/bot_users/"+bot.ID, nil).want(http.StatusOK, &got)
	if got != bot {
		t.Fatalf("get = %+v, want %+v", got, bot)
	}
	var bots ngrokBotUserList
	e.req("GET", "/bot_users", nil).want(http.StatusOK, &bots)
	if len(bots.BotUsers) != 1 || bots.BotUsers[0] != bot || bots.URI != e.srv.URL+"/bot_users" || bots.NextPageURI != nil {
		t.Fatalf("list = %+v", bots)
	}

	// Rename (partial update: active untouched).
	e.req("PATCH", "/bot_users/"+bot.ID, map[string]any{"name": "ci"}).want(http.StatusOK, &got)
	if got.Name != "ci" || !got.Active || got.ID != bot.ID {
		t.Fatalf("renamed = %+v", got)
	}

	// Credentials owned by the bot: an authtoken, an API key, an SSH key.
	var tok ngrokCredential
	e.req("POST", "/credentials", map[string]any{"owner_id": bot.ID, "description": "edge", "acl": []string{"bind:*.example.com"}}).
		want(http.StatusCreated, &tok)
	if tok.Token == nil || tok.OwnerID == nil || *tok.OwnerID != bot.ID || !slices.Equal(tok.ACL, []string{"bind:*.example.com"}) {
		t.Fatalf("authtoken = %+v", tok)
	}
	botKey := e.createAPIKey(bot.ID)
	var sshKey ngrokSSHCredential
	e.req("POST", "/ssh_credentials", map[string]any{"owner_id": bot.ID, "public_key": sshPublicKey(t)}).want(http.StatusCreated, &sshKey)
	if sshKey.OwnerID == nil || *sshKey.OwnerID != bot.ID || !strings.HasPrefix(sshKey.PublicKey, "ssh-ed25519 ") {
		t.Fatalf("ssh credential = %+v", sshKey)
	}

	// The bot's API key works against the API (bots act as developers) and its authtoken
	// verifies.
	var creds ngrokCredentialList
	e.reqAs(*botKey.Token, "GET", "/credentials", nil).want(http.StatusOK, &creds)
	if len(creds.Credentials) != 1 || creds.Credentials[0].ID != tok.ID || creds.Credentials[0].Token != nil {
		t.Fatalf("credentials seen by the bot: %+v", creds)
	}
	if res, err := e.iam.Verifier().Verify(ctx, store.Authtoken, *tok.Token); err != nil || res.OwnerID != bot.ID {
		t.Fatalf("verify authtoken = %+v, %v", res, err)
	}

	// Deactivate: the credentials stay but stop working, at once.
	e.req("PATCH", "/bot_users/"+bot.ID, map[string]any{"active": false}).want(http.StatusOK, &got)
	if got.Active || got.Name != "ci" {
		t.Fatalf("deactivated = %+v", got)
	}
	e.reqAs(*botKey.Token, "GET", "/credentials", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_636")
	if _, err := e.iam.Verifier().Verify(ctx, store.Authtoken, *tok.Token); !errors.Is(err, credential.ReasonOwnerInactive) {
		t.Fatalf("verify authtoken of an inactive bot: %v", err)
	}
	e.req("GET", "/credentials/"+tok.ID, nil).want(http.StatusOK, nil) // still there

	// Reactivate: they work again.
	e.req("PATCH", "/bot_users/"+bot.ID, map[string]any{"active": true}).want(http.StatusOK, &got)
	e.reqAs(*botKey.Token, "GET", "/bot_users/"+bot.ID, nil).want(http.StatusOK, &got)

	// The bot's own key may read but not manage bot users (only administrators may).
	e.reqAs(*botKey.Token, "DELETE", "/bot_users/"+bot.ID, nil).wantError(http.StatusForbidden, "ERR_NGROK_4111")

	// Delete: the bot and every credential it owned are gone.
	e.req("DELETE", "/bot_users/"+bot.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/bot_users/"+bot.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("GET", "/credentials/"+tok.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("GET", "/api_keys/"+botKey.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("GET", "/ssh_credentials/"+sshKey.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.reqAs(*botKey.Token, "GET", "/credentials", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	if _, err := e.iam.Verifier().Verify(ctx, store.Authtoken, *tok.Token); !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("verify authtoken of a deleted bot: %v", err)
	}
	var after ngrokBotUserList
	e.req("GET", "/bot_users", nil).want(http.StatusOK, &after)
	if len(after.BotUsers) != 0 {
		t.Fatalf("bot users after delete: %+v", after)
	}
	if s := e.snapshot(); s.bots != 0 || s.authtokens != 0 || s.sshKeys != 0 || s.apiKeys != 1 {
		t.Fatalf("store after delete: %+v (only the bootstrap API key should remain)", s)
	}
}

// TestWireFormat checks what ngrok's types cannot: "token" is present and null outside the
// create response, "acl" is an array, list keys are ngrok's, and times are RFC 3339 with Z.
func TestWireFormat(t *testing.T) {
	e := newEnv(t)
	e.req("POST", "/credentials", map[string]any{}).want(http.StatusCreated, nil)
	e.createAPIKey("")
	e.req("POST", "/ssh_credentials", map[string]any{"public_key": sshPublicKey(t), "metadata": `{"team":"edge"}`}).want(http.StatusCreated, nil)
	e.createBot("wire")

	for _, tc := range []struct {
		path, key string
		target    any
		token     bool // has a "token" key (null in lists)
		acl       bool
	}{
		{"/credentials", "credentials", &ngrokCredentialList{}, true, true},
		{"/api_keys", "keys", &ngrokAPIKeyList{}, true, false},
		{"/ssh_credentials", "ssh_credentials", &ngrokSSHCredentialList{}, false, true},
		{"/bot_users", "bot_users", &ngrokBotUserList{}, false, false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			r := e.req("GET", tc.path, nil).want(http.StatusOK, tc.target)
			m := r.raw()
			if m["uri"] != e.srv.URL+tc.path || m["next_page_uri"] != nil {
				t.Fatalf("list envelope %s", r.body)
			}
			if _, ok := m["next_page_uri"]; !ok {
				t.Fatalf("next_page_uri missing (want null): %s", r.body)
			}
			items, ok := m[tc.key].([]any)
			if !ok || len(items) == 0 {
				t.Fatalf("list key %q missing: %s", tc.key, r.body)
			}
			for _, it := range items {
				item := it.(map[string]any)
				if !rfc3339Z.MatchString(item["created_at"].(string)) || !strings.HasPrefix(item["uri"].(string), e.srv.URL+tc.path+"/") {
					t.Fatalf("item %v", item)
				}
				tokVal, hasTok := item["token"]
				if hasTok != tc.token || tokVal != nil {
					t.Fatalf("token field in %v: present %v, want present %v and null", item, hasTok, tc.token)
				}
				if _, isArray := item["acl"].([]any); isArray != tc.acl {
					t.Fatalf("acl field in %v", item)
				}
			}
		})
	}
	if r := e.req("GET", "/nope", nil); r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("error content type %q", r.header.Get("Content-Type"))
	}
}
