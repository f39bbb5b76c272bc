package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/rbac"
)

type (
	memberOutT struct {
		ID        string   `json:"id"`
		URI       string   `json:"uri"`
		Email     string   `json:"email"`
		Name      string   `json:"name"`
		Roles     []string `json:"roles"`
		Status    string   `json:"status"`
		CreatedAt string   `json:"created_at"`
		UpdatedAt string   `json:"updated_at"`
	}
	invitationOutT struct {
		ID        string   `json:"id"`
		URI       string   `json:"uri"`
		Email     string   `json:"email"`
		Roles     []string `json:"roles"`
		InvitedBy string   `json:"invited_by"`
		ExpiresAt string   `json:"expires_at"`
		CreatedAt string   `json:"created_at"`
	}
	roleOutT struct {
		ID          string   `json:"id"`
		URI         string   `json:"uri"`
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Permissions []string `json:"permissions"`
		CreatedAt   string   `json:"created_at"`
	}
	eventOutT struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
		EventType string `json:"event_type"`
		Timestamp string `json:"event_timestamp"`
		Principal struct {
			ID         string `json:"id"`
			Subject    string `json:"subject"`
			Source     string `json:"source"`
			Credential *struct {
				ID  string `json:"id"`
				URI string `json:"uri"`
			} `json:"credential"`
		} `json:"principal"`
		Object json.RawMessage `json:"object"`
	}
	eventListT struct {
		Events      []eventOutT `json:"events"`
		URI         string      `json:"uri"`
		NextPageURI *string     `json:"next_page_uri"`
	}
)

// TestAuditEvents checks that events record who acted (principal ID and subject), through
// which source, and with which API key.
func TestAuditEvents(t *testing.T) {
	e := newEnv(t)
	adminKeyID := apiKeyIDOf(t, e, e.key)

	bot := e.createBot("deployer")
	botKey := e.createAPIKey(bot.ID)
	var cred ngrokCredential
	e.reqAs(*botKey.Token, "POST", "/credentials", map[string]any{"description": "by the bot"}).want(http.StatusCreated, &cred)
	if *cred.OwnerID != bot.ID {
		t.Fatalf("owner of a credential a bot created: %v", *cred.OwnerID)
	}

	var evs eventListT
	e.req("GET", "/events?limit=3", nil).want(http.StatusOK, &evs)
	if len(evs.Events) != 3 || evs.NextPageURI == nil {
		t.Fatalf("events: %+v", evs)
	}
	byBot, keyCreated, botCreated := evs.Events[0], evs.Events[1], evs.Events[2]
	for _, tc := range []struct {
		ev                      eventOutT
		typ, id, subject, keyID string
		objectID                string
	}{
		{byBot, "tunnel_credential_created.v0", bot.ID, "deployer", botKey.ID, cred.ID},
		{keyCreated, "api_key_created.v0", e.boot.AdminUserID, "admin@example.com", adminKeyID, botKey.ID},
		{botCreated, "bot_user_created.v0", e.boot.AdminUserID, "admin@example.com", adminKeyID, bot.ID},
	} {
		p := tc.ev.Principal
		if tc.ev.EventType != tc.typ || p.ID != tc.id || p.Subject != tc.subject || p.Source != "API" ||
			p.Credential == nil || p.Credential.ID != tc.keyID || p.Credential.URI != e.srv.URL+"/api_keys/"+tc.keyID ||
			tc.ev.AccountID != e.boot.AccountID || !rfc3339Z.MatchString(tc.ev.Timestamp) || !strings.HasPrefix(tc.ev.ID, "ev_") {
			t.Errorf("event %+v, want %s by %s (%s) with key %s", tc.ev, tc.typ, tc.id, tc.subject, tc.keyID)
		}
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(tc.ev.Object, &obj); err != nil || obj.ID != tc.objectID {
			t.Errorf("event object %s, want id %s", tc.ev.Object, tc.objectID)
		}
		if strings.Contains(string(tc.ev.Object), *botKey.Token) {
			t.Errorf("event object holds a token: %s", tc.ev.Object)
		}
	}
}

// apiKeyIDOf finds the ID of the API key whose token is token: iamkit tokens embed their
// credential's ID (without its prefix).
func apiKeyIDOf(t *testing.T, e *env, token string) string {
	t.Helper()
	var keys ngrokAPIKeyList
	e.reqAs(token, "GET", "/api_keys", nil).want(http.StatusOK, &keys)
	for _, k := range keys.Keys {
		if strings.Contains(token, strings.TrimPrefix(k.ID, "ak_")) {
			return k.ID
		}
	}
	t.Fatal("API key not listed")
	return ""
}

// TestMembersInvitationsRoles drives iamkit's own resources: invite, accept, change roles,
// disable (the member's API key stops working), enable, remove; custom roles CRUD.
func TestMembersInvitationsRoles(t *testing.T) {
	e := newEnv(t)

	// Invite and accept.
	var inv invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "Ana@Example.com", "roles": []string{rbac.RoleDeveloper}}).want(http.StatusCreated, &inv)
	if !strings.HasPrefix(inv.ID, "inv_") || inv.Email != "ana@example.com" || !slices.Equal(inv.Roles, []string{rbac.RoleDeveloper}) || inv.InvitedBy != e.boot.AdminUserID {
		t.Fatalf("invitation %+v", inv)
	}
	e.req("POST", "/invitations", map[string]any{"email": "ana@example.com"}).wantError(http.StatusConflict, "ERR_NGROK_90411")
	var invs struct {
		Invitations []invitationOutT `json:"invitations"`
		URI         string           `json:"uri"`
		NextPageURI *string          `json:"next_page_uri"`
	}
	e.req("GET", "/invitations", nil).want(http.StatusOK, &invs)
	if len(invs.Invitations) != 1 || invs.Invitations[0].ID != inv.ID {
		t.Fatalf("invitations %+v", invs)
	}
	// Ana accepts with an API key of her own account.
	_, anaOwnKey := e.outsider("ana@example.com")
	var m memberOutT
	e.reqAs(anaOwnKey, "POST", "/invitations/"+inv.ID+"/accept", nil).want(http.StatusCreated, &m)
	if !strings.HasPrefix(m.ID, "usr_") || m.Email != "ana@example.com" || m.Status != "active" || !slices.Equal(m.Roles, []string{rbac.RoleDeveloper}) {
		t.Fatalf("member %+v", m)
	}
	e.req("GET", "/invitations/"+inv.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_10080")

	// Revoking another invitation.
	var inv2 invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "bo@example.com"}).want(http.StatusCreated, &inv2)
	e.req("DELETE", "/invitations/"+inv2.ID, nil).want(http.StatusNoContent, nil)

	// The member's API key, made by the administrator for them.
	anaKey := e.createAPIKey(m.ID)
	e.reqAs(*anaKey.Token, "GET", "/credentials", nil).want(http.StatusOK, nil)
	e.reqAs(*anaKey.Token, "GET", "/members", nil).wantError(http.StatusForbidden, "ERR_NGROK_1216")

	// Roles: a team read-only role lets her see members.
	e.req("PATCH", "/members/"+m.ID, map[string]any{"roles": []string{rbac.RoleDeveloper, rbac.RoleTeamReadOnly}}).want(http.StatusOK, &m)
	var members struct {
		Members     []memberOutT `json:"members"`
		URI         string       `json:"uri"`
		NextPageURI *string      `json:"next_page_uri"`
	}
	e.reqAs(*anaKey.Token, "GET", "/members", nil).want(http.StatusOK, &members)
	if len(members.Members) != 2 {
		t.Fatalf("members %+v", members)
	}
	e.req("PATCH", "/members/"+m.ID, map[string]any{}).wantError(http.StatusBadRequest, "ERR_NGROK_606")

	// Disable: her key stops working at once; enable: it works again.
	e.req("POST", "/members/"+m.ID+"/disable", nil).want(http.StatusOK, &m)
	if m.Status != "disabled" {
		t.Fatalf("disabled member %+v", m)
	}
	e.reqAs(*anaKey.Token, "GET", "/credentials", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_636")
	e.req("POST", "/members/"+m.ID+"/enable", nil).want(http.StatusOK, &m)
	e.reqAs(*anaKey.Token, "GET", "/credentials", nil).want(http.StatusOK, nil)

	// Custom roles.
	var role roleOutT
	e.req("POST", "/roles", map[string]any{"name": "auditor", "description": "reads the log", "permissions": []string{"events:read"}}).want(http.StatusCreated, &role)
	if !strings.HasPrefix(role.ID, "role_") || role.Name != "auditor" || !slices.Equal(role.Permissions, []string{"events:read"}) {
		t.Fatalf("role %+v", role)
	}
	e.req("PATCH", "/roles/"+role.ID, map[string]any{"permissions": []string{"events:read", "members:read"}}).want(http.StatusOK, &role)
	if role.Name != "auditor" || role.Description != "reads the log" || len(role.Permissions) != 2 {
		t.Fatalf("updated role %+v", role)
	}
	e.req("PATCH", "/members/"+m.ID, map[string]any{"roles": []string{role.ID}}).want(http.StatusOK, &m)
	e.reqAs(*anaKey.Token, "GET", "/events", nil).want(http.StatusOK, nil)
	e.reqAs(*anaKey.Token, "GET", "/credentials", nil).wantError(http.StatusForbidden, "ERR_NGROK_1219")
	var roles struct {
		Roles       []roleOutT `json:"roles"`
		URI         string     `json:"uri"`
		NextPageURI *string    `json:"next_page_uri"`
	}
	e.req("GET", "/roles", nil).want(http.StatusOK, &roles)
	if len(roles.Roles) != 1 || roles.Roles[0].ID != role.ID {
		t.Fatalf("roles %+v", roles)
	}
	e.req("DELETE", "/roles/"+role.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/roles/"+role.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")

	// Remove: her credentials go with her membership.
	e.req("DELETE", "/members/"+m.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/members/"+m.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.reqAs(*anaKey.Token, "GET", "/events", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	e.req("GET", "/api_keys/"+anaKey.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")

	var acct struct {
		ID    string `json:"id"`
		URI   string `json:"uri"`
		Name  string `json:"name"`
		Plan  string `json:"plan"`
		Seats struct {
			Limit       int `json:"limit"`
			Members     int `json:"members"`
			Invitations int `json:"invitations"`
		} `json:"seats"`
		CreatedAt string `json:"created_at"`
	}
	e.req("GET", "/account", nil).want(http.StatusOK, &acct)
	if acct.ID != e.boot.AccountID || acct.Plan != "enterprise" || acct.Seats.Members != 1 {
		t.Fatalf("account %+v", acct)
	}
}
