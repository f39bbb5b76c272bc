package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
)

// TestSCIMIsMounted: the server serves SCIM 2.0 under /scim/v2/ to a service user's access
// token with scim:write, in SCIM's content type and error body (not ngrok's), and refuses
// the administrator's API key there.
func TestSCIMIsMounted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin, err := e.iam.Directory().Principal(ctx, e.boot.AccountID, e.boot.AdminUserID, "api", "")
	if err != nil {
		t.Fatal(err)
	}
	bot, err := e.iam.BotUsers().Create(ctx, admin, botuser.CreateParams{Name: "okta", Roles: []string{rbac.RoleTeamManager}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.iam.Credentials().Create(ctx, admin, credential.CreateRequest{
		Kind: store.AccessToken, OwnerID: bot.ID, Scopes: []string{scim.PermissionName, "members:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.iam.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, token string
		status            int
		schema            string
	}{
		{"users", "/scim/v2/Users", tok.Token.Reveal(), http.StatusOK, "urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		{"config", "/scim/v2/ServiceProviderConfig", tok.Token.Reveal(), http.StatusOK, "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		{"api_key_refused", "/scim/v2/Users", e.key, http.StatusUnauthorized, "urn:ietf:params:scim:api:messages:2.0:Error"},
		{"no_token", "/scim/v2/Users", "", http.StatusUnauthorized, "urn:ietf:params:scim:api:messages:2.0:Error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Schemas []string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/scim+json" ||
				len(body.Schemas) != 1 || body.Schemas[0] != c.schema {
				t.Fatalf("%d %s %v; want %d application/scim+json %s", resp.StatusCode, resp.Header.Get("Content-Type"), body.Schemas, c.status, c.schema)
			}
		})
	}
}
