package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/rbac"
)

// Types of iamkit's extensions, decoded strictly like ngrok's.
type (
	serviceUser struct {
		ID        string   `json:"id"`
		URI       string   `json:"uri"`
		Name      string   `json:"name"`
		Active    bool     `json:"active"`
		CreatedAt string   `json:"created_at"`
		Roles     []string `json:"roles"`
	}
	serviceUserList struct {
		ServiceUsers []serviceUser `json:"service_users"`
		URI          string        `json:"uri"`
		NextPageURI  *string       `json:"next_page_uri"`
	}
	// tokenCred is an authtoken, an API key or an access token with iamkit's fields.
	tokenCred struct {
		ID          string    `json:"id"`
		URI         string    `json:"uri"`
		CreatedAt   string    `json:"created_at"`
		Description string    `json:"description"`
		Metadata    string    `json:"metadata"`
		Token       *string   `json:"token"`
		ACL         *[]string `json:"acl"`
		Scopes      *[]string `json:"scopes"`
		OwnerID     string    `json:"owner_id"`
		ExpiresAt   string    `json:"expires_at"`
		AllowedIPs  []string  `json:"allowed_ips"`
		RotatedFrom string    `json:"rotated_from"`
		RotatedTo   string    `json:"rotated_to"`
		LastUsedAt  string    `json:"last_used_at"`
		LastUsedIP  string    `json:"last_used_ip"`
	}
	accessTokenList struct {
		AccessTokens []tokenCred `json:"access_tokens"`
		URI          string      `json:"uri"`
		NextPageURI  *string     `json:"next_page_uri"`
	}
	apiKeyList struct {
		Keys        []tokenCred `json:"keys"`
		URI         string      `json:"uri"`
		NextPageURI *string     `json:"next_page_uri"`
	}
	credentialPolicy struct {
		AuthtokenMaxLifetime   int64  `json:"authtoken_max_lifetime"`
		APIKeyMaxLifetime      int64  `json:"api_key_max_lifetime"`
		SSHKeyMaxLifetime      int64  `json:"ssh_key_max_lifetime"`
		AccessTokenMaxLifetime int64  `json:"access_token_max_lifetime"`
		MaxRotationOverlap     int64  `json:"max_rotation_overlap"`
		URI                    string `json:"uri"`
	}
)

// TestServiceUsers: /service_users is ngrok's newer name for /bot_users, on the same records:
// what one creates the other serves, with its own list key and URIs, roles included.
func TestServiceUsers(t *testing.T) {
	e := newEnv(t)
	var su serviceUser
	e.req("POST", "/service_users", map[string]any{"name": "deployer", "roles": []string{rbac.RoleDeveloperReadOnly}}).want(http.StatusCreated, &su)
	if !strings.HasPrefix(su.ID, "bot_") || su.URI != e.srv.URL+"/service_users/"+su.ID || !su.Active || !slices.Equal(su.Roles, []string{rbac.RoleDeveloperReadOnly}) {
		t.Fatalf("created: %+v", su)
	}
	var bot ngrokBotUser
	e.req("GET", "/bot_users/"+su.ID, nil).want(http.StatusOK, &struct {
		*ngrokBotUser
		Roles []string `json:"roles"`
	}{ngrokBotUser: &bot})
	if bot.Name != "deployer" || bot.URI != e.srv.URL+"/bot_users/"+su.ID {
		t.Fatalf("the same record through /bot_users: %+v", bot)
	}
	old := e.createBot("old-name")
	var list serviceUserList
	e.req("GET", "/service_users?limit=1", nil).want(http.StatusOK, &list)
	if len(list.ServiceUsers) != 1 || list.ServiceUsers[0].ID != old.ID || list.NextPageURI == nil ||
		*list.NextPageURI != e.srv.URL+"/service_users?before_id="+old.ID+"&limit=1" || list.URI != e.srv.URL+"/service_users" {
		t.Fatalf("list: %+v", list)
	}
	e.req("PATCH", "/service_users/"+su.ID, map[string]any{"active": false, "roles": []string{rbac.RoleTeamManager}}).want(http.StatusOK, &su)
	if su.Active || !slices.Equal(su.Roles, []string{rbac.RoleTeamManager}) {
		t.Fatalf("updated: %+v", su)
	}
	// Roles are limited as ngrok limits a service user's: never an administrator.
	e.req("PATCH", "/service_users/"+su.ID, map[string]any{"roles": []string{rbac.RoleAdministrator}}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "roles")
	e.req("POST", "/service_users", map[string]any{"name": ""}).wantError(http.StatusBadRequest, "ERR_NGROK_4109")
	e.req("DELETE", "/service_users/"+su.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/bot_users/"+su.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
}

// TestAccessTokens: an access token is created for its caller with scopes, works on the API
// within them (and within its owner's roles, shrinking when the owner is demoted), is listed,
// read, updated and revoked.
func TestAccessTokens(t *testing.T) {
	e := newEnv(t)
	dev := e.addMember("dev@example.com", rbac.RoleDeveloper)
	devKey := *e.createAPIKey(dev).Token

	var tok tokenCred
	e.reqAs(devKey, "POST", "/access_tokens", map[string]any{
		"description": "ci", "scopes": []string{"credentials:read", "credentials:write"},
	}).want(http.StatusCreated, &tok)
	if tok.Token == nil || !strings.HasPrefix(*tok.Token, "iap_") || !strings.HasPrefix(tok.ID, "pat_") ||
		tok.OwnerID != dev || tok.Scopes == nil || len(*tok.Scopes) != 2 || tok.URI != e.srv.URL+"/access_tokens/"+tok.ID {
		t.Fatalf("created: %+v", tok)
	}
	token := *tok.Token

	// Within its scopes it works; outside them it is refused, whatever its owner may do.
	e.reqAs(token, "GET", "/credentials", nil).want(http.StatusOK, nil)
	e.reqAs(token, "GET", "/bot_users", nil).wantError(http.StatusForbidden, "ERR_NGROK_90413")
	e.reqAs(devKey, "GET", "/bot_users", nil).want(http.StatusOK, nil)
	// Nobody gives a token more than they hold.
	e.reqAs(devKey, "POST", "/access_tokens", map[string]any{"scopes": []string{"members:manage"}}).wantError(http.StatusForbidden, "ERR_NGROK_90414")
	e.reqAs(devKey, "POST", "/access_tokens", map[string]any{"scopes": []string{"tunnels:fly"}}).wantError(http.StatusBadRequest, "ERR_NGROK_215")
	e.reqAs(devKey, "POST", "/access_tokens", map[string]any{"scopes": []string{"credentials:read"}, "owner_id": e.boot.AdminUserID}).wantError(http.StatusBadRequest, "ERR_NGROK_214")

	// The owner demoted to read-only: the token's credentials:write shrinks with it.
	var created tokenCred
	e.reqAs(token, "POST", "/credentials", map[string]any{"description": "by token"}).want(http.StatusCreated, &created)
	e.req("PATCH", "/members/"+dev, map[string]any{"roles": []string{rbac.RoleDeveloperReadOnly}}).want(http.StatusOK, nil)
	e.reqAs(token, "POST", "/credentials", map[string]any{}).wantError(http.StatusForbidden, "ERR_NGROK_1219")
	e.reqAs(token, "GET", "/credentials", nil).want(http.StatusOK, nil)

	var list accessTokenList
	e.req("GET", "/access_tokens", nil).want(http.StatusOK, &list)
	if len(list.AccessTokens) != 1 || list.AccessTokens[0].ID != tok.ID || list.AccessTokens[0].Token != nil {
		t.Fatalf("list: %+v", list)
	}
	var got tokenCred
	e.req("PATCH", "/access_tokens/"+tok.ID, map[string]any{"description": "ci 2"}).want(http.StatusOK, &got)
	if got.Description != "ci 2" || got.Token != nil {
		t.Fatalf("updated: %+v", got)
	}
	e.req("PATCH", "/access_tokens/"+tok.ID, map[string]any{"scopes": []string{"credentials:read"}}).wantError(http.StatusBadRequest, "ERR_NGROK_214")
	e.req("GET", "/access_tokens/"+created.ID, nil).wantError(http.StatusBadRequest, "ERR_NGROK_227")

	e.req("POST", "/access_tokens/"+tok.ID+"/revoke", nil).want(http.StatusNoContent, nil)
	e.reqAs(token, "GET", "/credentials", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	e.req("GET", "/access_tokens/"+tok.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	// Authtokens stay refused on the API.
	e.reqAs(*created.Token, "GET", "/credentials", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_206")
}

// TestCredentialLimits: expiry and the address allow-list are set and shown on every kind,
// last use (time and address) is shown, and unused_since lists what was not used.
func TestCredentialLimits(t *testing.T) {
	e := newEnv(t)
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var at tokenCred
	e.req("POST", "/credentials", map[string]any{"expires_at": expires.Format(time.RFC3339), "allowed_ips": []string{"10.0.0.0/8", "2001:db8::/32"}}).want(http.StatusCreated, &at)
	if at.ExpiresAt != expires.Format(time.RFC3339) || !slices.Equal(at.AllowedIPs, []string{"10.0.0.0/8", "2001:db8::/32"}) {
		t.Fatalf("authtoken: %+v", at)
	}
	ssh := e.req("POST", "/ssh_credentials", map[string]any{"public_key": sshPublicKey(t), "lifetime": 60}).want(http.StatusCreated, nil).raw()
	sshExpiry, _ := ssh["expires_at"].(string)
	if exp, err := time.Parse(time.RFC3339, sshExpiry); err != nil || time.Until(exp) > time.Minute || time.Until(exp) < 50*time.Second {
		t.Fatalf("SSH key with a lifetime of 60 s expires at %q", sshExpiry)
	}
	e.req("POST", "/api_keys", map[string]any{"lifetime": 60, "expires_at": expires.Format(time.RFC3339)}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "lifetime")
	e.req("POST", "/api_keys", map[string]any{"expires_at": "tomorrow"}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "expires_at")
	e.req("POST", "/credentials/"+at.ID+"/rotate", map[string]any{"overlap_until": 5}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "overlap_until")
	e.req("POST", "/api_keys", map[string]any{"allowed_ips": []string{"10.0.0.300/8"}}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "allowed_ips[0]")

	// An API key allowed only from elsewhere is refused from here (127.0.0.1), and works once
	// the list names loopback; its expiry can be lifted with null.
	var key tokenCred
	e.req("POST", "/api_keys", map[string]any{"allowed_ips": []string{"192.0.2.0/24", "2001:db8::/32"}, "lifetime": 3600}).want(http.StatusCreated, &key)
	e.reqAs(*key.Token, "GET", "/api_keys", nil).wantError(http.StatusForbidden, "ERR_NGROK_220")
	var upd tokenCred
	e.req("PATCH", "/api_keys/"+key.ID, map[string]any{"allowed_ips": []string{"127.0.0.1", "::1"}, "expires_at": nil}).want(http.StatusOK, &upd)
	if upd.ExpiresAt != "" || !slices.Equal(upd.AllowedIPs, []string{"127.0.0.1/32", "::1/128"}) {
		t.Fatalf("updated: %+v", upd)
	}
	never := e.createAPIKey("")
	since := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	e.reqAs(*key.Token, "GET", "/api_keys", nil).want(http.StatusOK, nil)
	e.iam.Verifier().FlushUsage(t.Context())

	var got tokenCred
	e.req("GET", "/api_keys/"+key.ID, nil).want(http.StatusOK, &got)
	if got.LastUsedIP != "127.0.0.1" || got.LastUsedAt == "" {
		t.Fatalf("last use not shown: %+v", got)
	}
	var unused apiKeyList
	e.req("GET", "/api_keys?unused_since="+since, nil).want(http.StatusOK, &unused)
	ids := make([]string, len(unused.Keys))
	for i, k := range unused.Keys {
		ids[i] = k.ID
	}
	if slices.Contains(ids, key.ID) || !slices.Contains(ids, never.ID) {
		t.Fatalf("unused_since=%s lists %v: want %s (never used), not %s (used since)", since, ids, never.ID, key.ID)
	}
	e.req("GET", "/api_keys?unused_since=yesterday", nil).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "unused_since")
}

// TestRotate: rotating a token credential issues its successor (its token shown once) and
// keeps the old one working until the overlap ends; without overlap it stops at once.
func TestRotate(t *testing.T) {
	e := newEnv(t)
	old := e.createAPIKey("")
	var succ tokenCred
	e.req("POST", "/api_keys/"+old.ID+"/rotate", map[string]any{"overlap": 3600}).want(http.StatusCreated, &succ)
	if succ.Token == nil || succ.RotatedFrom != old.ID || succ.ID == old.ID {
		t.Fatalf("successor: %+v", succ)
	}
	e.reqAs(*old.Token, "GET", "/bot_users", nil).want(http.StatusOK, nil)
	e.reqAs(*succ.Token, "GET", "/bot_users", nil).want(http.StatusOK, nil)
	var pred tokenCred
	e.req("GET", "/api_keys/"+old.ID, nil).want(http.StatusOK, &pred)
	if pred.RotatedTo != succ.ID || pred.ExpiresAt == "" {
		t.Fatalf("rotated: %+v", pred)
	}
	e.req("POST", "/api_keys/"+old.ID+"/rotate", nil).wantError(http.StatusConflict, "ERR_NGROK_90409")
	e.req("POST", "/api_keys/"+succ.ID+"/rotate", map[string]any{"overlap": 8 * 24 * 3600}).wantError(http.StatusBadRequest, "ERR_NGROK_90415")

	var next tokenCred
	e.req("POST", "/api_keys/"+succ.ID+"/rotate", nil).want(http.StatusCreated, &next)
	// Without overlap the old key expires at the rotation's instant. A running Verifier reads
	// the clock once a millisecond (on a loaded machine its ticker may run late), so a
	// request right after the rotation may still pass: the library's tests time the
	// refusal; this one wants it to come, within two seconds at most.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if e.reqAs(*succ.Token, "GET", "/bot_users", nil).status == http.StatusUnauthorized {
			break
		}
	}
	e.reqAs(*succ.Token, "GET", "/bot_users", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	e.reqAs(*next.Token, "GET", "/bot_users", nil).want(http.StatusOK, nil)
	e.req("POST", "/ssh_credentials/sshcr_x/rotate", nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
}

// TestCredentialPolicy: the account's credential policy caps new credentials' lifetimes:
// without an expiry they get the maximum; beyond it they are refused. Only administrators
// change it.
func TestCredentialPolicy(t *testing.T) {
	e := newEnv(t)
	devKey := *e.createAPIKey(e.addMember("dev@example.com", rbac.RoleDeveloper)).Token
	var p credentialPolicy
	e.req("GET", "/account/credential_policy", nil).want(http.StatusOK, &p)
	if p != (credentialPolicy{URI: e.srv.URL + "/account/credential_policy"}) {
		t.Fatalf("default policy: %+v", p)
	}
	e.req("PATCH", "/account/credential_policy", map[string]any{"api_key_max_lifetime": 3600, "max_rotation_overlap": 60}).want(http.StatusOK, &p)
	if p.APIKeyMaxLifetime != 3600 || p.MaxRotationOverlap != 60 || p.AuthtokenMaxLifetime != 0 {
		t.Fatalf("set: %+v", p)
	}
	var k tokenCred
	e.req("POST", "/api_keys", map[string]any{}).want(http.StatusCreated, &k)
	if exp, err := time.Parse(time.RFC3339, k.ExpiresAt); err != nil || time.Until(exp) > time.Hour || time.Until(exp) < 59*time.Minute {
		t.Fatalf("an API key under a one-hour maximum expires at %q", k.ExpiresAt)
	}
	e.req("POST", "/api_keys", map[string]any{"lifetime": 7200}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_90415", "expires_at")
	e.req("POST", "/credentials", map[string]any{"lifetime": 7200}).want(http.StatusCreated, nil)
	e.req("POST", "/api_keys/"+k.ID+"/rotate", map[string]any{"overlap": 120}).wantError(http.StatusBadRequest, "ERR_NGROK_90415")

	e.reqAs(devKey, "GET", "/account/credential_policy", nil).want(http.StatusOK, nil)
	e.reqAs(devKey, "PATCH", "/account/credential_policy", map[string]any{"api_key_max_lifetime": 0}).wantError(http.StatusForbidden, "ERR_NGROK_1220")
	e.req("PATCH", "/account/credential_policy", map[string]any{"api_key_max_lifetime": -1}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "api_key_max_lifetime")
}

// TestSelfRevoke: whoever holds a token can revoke it, with no API key; the endpoint tells
// nothing about tokens the caller does not hold, and takes a limited number of guesses from
// one address.
func TestSelfRevoke(t *testing.T) {
	e := newEnv(t)
	k := e.createAPIKey("")
	revoke := func(token string) *response {
		return e.reqAs("", "POST", "/tokens/revoke", map[string]any{"token": token}, "Authorization", "", "Ngrok-Version", "")
	}
	revoke(*k.Token).want(http.StatusNoContent, nil)
	e.reqAs(*k.Token, "GET", "/bot_users", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	revoke(*k.Token).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	revoke("not-a-token").wantErrorParam(http.StatusBadRequest, "ERR_NGROK_202", "token")
	revoke("").wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "token")
	e.req("GET", "/tokens/revoke", nil).wantError(http.StatusMethodNotAllowed, "ERR_NGROK_90405")
	e.req("GET", "/bot_users", nil).want(http.StatusOK, nil) // the administrator's key is untouched

	// One address may make publicRate requests a minute: four were made above.
	for range publicRate().Limit - 4 {
		revoke("not-a-token").wantError(http.StatusBadRequest, "ERR_NGROK_202")
	}
	r := revoke(*e.createAPIKey("").Token)
	r.wantError(http.StatusTooManyRequests, "ERR_NGROK_226")
	if wait := r.header.Get("Retry-After"); wait != "2" && wait != "1" {
		t.Fatalf("Retry-After %q, want 1 or 2 (one request back every 2 s, less the time the requests took)", wait)
	}
}

// TestGitHubSecretScanningEndpoint: a report signed with the configured key revokes the
// token it names through the API server; a forged report, and the signed one replayed, are
// refused and revoke nothing.
func TestGitHubSecretScanningEndpoint(t *testing.T) {
	gh, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&gh.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"public_keys": []map[string]any{{
		"key_identifier": "gh1", "is_current": true,
		"key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}}})
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	opt, err := secretScanning(file, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withIAMOptions(opt))
	leaked := e.createAPIKey("")
	spare := e.createAPIKey("")
	body, _ := json.Marshal([]map[string]string{{"token": *leaked.Token, "type": "iamkit_api_key", "url": "https://github.com/o/r/blob/main/.env", "source": "content"}})
	post := func(k *ecdsa.PrivateKey) *response {
		d := sha256.Sum256(body)
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return e.reqAs("", "POST", "/github/secret_scanning", string(body), "Authorization", "", "Ngrok-Version", "",
			"Github-Public-Key-Identifier", "gh1", "Github-Public-Key-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	before := e.snapshot()
	post(forger).want(http.StatusUnauthorized, nil)
	if after := e.snapshot(); after != before {
		t.Fatalf("a forged report changed the store: %+v -> %+v", before, after)
	}
	e.reqAs(*leaked.Token, "GET", "/bot_users", nil).want(http.StatusOK, nil)

	var feedback []map[string]string
	post(gh).want(http.StatusOK, &feedback)
	if len(feedback) != 1 || feedback[0]["label"] != "true_positive" {
		t.Fatalf("feedback: %v", feedback)
	}
	if err := e.iam.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.reqAs(*leaked.Token, "GET", "/bot_users", nil).wantError(http.StatusUnauthorized, "ERR_NGROK_203")
	e.reqAs(*spare.Token, "GET", "/bot_users", nil).want(http.StatusOK, nil)
	e.req("GET", "/api_keys/"+leaked.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")

	before = e.snapshot()
	post(gh).want(http.StatusUnauthorized, nil) // the same report again: a replay
	if after := e.snapshot(); after != before {
		t.Fatalf("a replayed report changed the store: %+v -> %+v", before, after)
	}
	// Without keys configured the endpoint is not there.
	plain := newEnv(t)
	plain.reqAs("", "POST", "/github/secret_scanning", string(body), "Authorization", "").want(http.StatusNotFound, nil)
}
