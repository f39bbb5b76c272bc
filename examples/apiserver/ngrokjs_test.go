package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envNgrokJS names a node_modules directory holding ngrok's JavaScript API client,
// @ngrok/ngrok-api (.ci/run installs it there with npm).
const envNgrokJS = "IAMKIT_NGROK_JS"

// TestNgrokJavaScriptClient points ngrok's own API client at the server: bot users,
// authtokens, API keys, SSH credentials, event destinations and subscriptions through it,
// paging included; service users and access tokens (which the client predates) through its
// HTTP stack, an access token as the client's API key, and IP policies, rules and
// restrictions through its own services.
func TestNgrokJavaScriptClient(t *testing.T) {
	modules := os.Getenv(envNgrokJS)
	node, err := exec.LookPath("node")
	if modules == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs node and %s (a node_modules with @ngrok/ngrok-api)", envNgrokJS)
		}
		t.Skipf("needs node and %s=<node_modules with @ngrok/ngrok-api>", envNgrokJS)
	}
	e := newEnv(t)
	before := e.snapshot()
	script, err := filepath.Abs(filepath.Join("testdata", "ngrok_client.js"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "BASE_URL="+e.srv.URL,
		"API_KEY="+e.key, "SSH_PUBLIC_KEY="+sshPublicKey(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s%s", err, stdout, stderr.String())
	}
	steps := map[string]map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		steps[m["step"].(string)] = m
	}
	step := func(name string) map[string]any {
		t.Helper()
		m, ok := steps[name]
		if !ok {
			t.Fatalf("no %s step in the client's output:\n%s", name, stdout)
		}
		return m
	}
	str := func(v any) string { s, _ := v.(string); return s }

	bot := step("bot_create")
	if !strings.HasPrefix(str(bot["id"]), "bot_") || bot["name"] != "js-bot" || bot["active"] != true || str(bot["createdAt"]) == "" {
		t.Errorf("bot create: %v", bot)
	}
	if ids := step("bot_list")["ids"].([]any); len(ids) != 5 || ids[4] != bot["id"] {
		t.Errorf("bot list across pages of 2: %v, want 5 bots, the first created last", ids)
	}
	if u := step("bot_update"); u["name"] != "js-bot-2" || u["active"] != true {
		t.Errorf("bot update: %v", u)
	}
	cred := step("credential_create")
	if !strings.HasPrefix(str(cred["token"]), "iat_") || cred["ownerId"] != bot["id"] {
		t.Errorf("credential create: owner %v, token shown: %v", cred["ownerId"], cred["token"] != nil)
	}
	if g := step("credential_get"); g["token"] != nil || g["description"] != "agent" {
		t.Errorf("credential get: %v (the token is shown once only)", g)
	}
	if u := step("credential_update"); u["description"] != "agent 2" {
		t.Errorf("credential update: %v", u)
	}
	if eu := step("empty_update"); eu["errorCode"] != "ERR_NGROK_606" || eu["statusCode"] != float64(400) {
		t.Errorf("empty update: %v, want ERR_NGROK_606, 400", eu)
	}
	key := step("api_key_create")
	if !strings.HasPrefix(str(key["token"]), "iak_") {
		t.Error("API key create: no token")
	}
	if ids := step("api_key_list")["ids"].([]any); len(ids) != 2 {
		t.Errorf("API key list: %v, want the bootstrap key and the new one", ids)
	}
	if s := step("ssh_create"); !strings.HasPrefix(str(s["publicKey"]), "ssh-ed25519 ") {
		t.Errorf("SSH credential create: %v", s)
	}
	su := step("service_create")
	if !strings.HasPrefix(str(su["id"]), "bot_") || su["name"] != "js-service" || su["active"] != true ||
		su["uri"] != e.srv.URL+"/service_users/"+str(su["id"]) || fmt.Sprint(su["roles"]) != "[developer_read_only]" {
		t.Errorf("service user create: %v", su)
	}
	if ids := step("service_list")["ids"].([]any); len(ids) != 6 || ids[0] != su["id"] {
		t.Errorf("service user list across pages of 2: %v, want 6 (the bots too), the service user first", ids)
	}
	if u := step("service_update"); u["active"] != false || fmt.Sprint(u["roles"]) != "[developer_read_only]" {
		t.Errorf("service user update: %v", u)
	}
	if eu := step("service_empty_name"); eu["errorCode"] != "ERR_NGROK_4109" || eu["statusCode"] != float64(400) {
		t.Errorf("service user without a name: %v, want ERR_NGROK_4109, 400", eu)
	}
	if b := step("service_as_bot"); b["name"] != "js-service" || b["active"] != false {
		t.Errorf("the service user through botUsers: %v", b)
	}
	at := step("access_token_create")
	if !strings.HasPrefix(str(at["token"]), "iap_") || fmt.Sprint(at["scopes"]) != "[credentials:read]" || fmt.Sprint(at["allowedIps"]) != "[127.0.0.1/32 ::1/128]" {
		t.Errorf("access token create: scopes %v, allowed IPs %v, token shown: %v", at["scopes"], at["allowedIps"], at["token"] != nil)
	}
	if ids := step("access_token_use")["ids"].([]any); len(ids) != 1 || ids[0] != cred["id"] {
		t.Errorf("credentials listed with the access token: %v, want the one authtoken", ids)
	}
	if o := step("access_token_out_of_scope"); o["errorCode"] != "ERR_NGROK_90413" || o["statusCode"] != float64(403) {
		t.Errorf("bot users listed with a credentials:read token: %v, want ERR_NGROK_90413, 403", o)
	}
	rot := step("access_token_rotate")
	if rot["rotatedFrom"] != at["id"] || !strings.HasPrefix(str(rot["token"]), "iap_") {
		t.Errorf("access token rotate: %v", rot)
	}
	if p := step("access_token_rotated"); p["rotatedTo"] != rot["id"] || str(p["expiresAt"]) == "" {
		t.Errorf("the rotated access token: %v", p)
	}
	if r := step("access_token_revoked"); r["errorCode"] != "ERR_NGROK_203" || r["statusCode"] != float64(401) {
		t.Errorf("a revoked access token: %v, want ERR_NGROK_203, 401", r)
	}
	dest := step("destination_create")
	if !strings.HasPrefix(str(dest["id"]), "ed_") || dest["format"] != "json" || dest["url"] != "https://siem.example.com/hook" ||
		!strings.HasPrefix(str(dest["secret"]), "whsec_") || !strings.HasSuffix(str(dest["uri"]), "/event_destinations/"+str(dest["id"])) {
		t.Errorf("event destination create: %v", dest)
	}
	if s := step("subscription_create"); !strings.HasPrefix(str(s["id"]), "esb_") || fmt.Sprint(s["sources"]) != "[bot_user_created.v0]" ||
		fmt.Sprint(s["destinations"]) != "["+str(dest["id"])+"]" {
		t.Errorf("event subscription create: %v", s)
	}
	if u := step("subscription_update"); fmt.Sprint(u["sources"]) != "[bot_user_created.v0 bot_user_deleted.v0]" {
		t.Errorf("event subscription update: %v", u)
	}
	if s := step("sources"); s["created"] != "role_created.v0" || !strings.HasSuffix(str(s["uri"]), "/sources/role_created.v0") ||
		fmt.Sprint(s["listed"]) != "[bot_user_created.v0 bot_user_deleted.v0 role_created.v0]" ||
		fmt.Sprint(s["after"]) != "[bot_user_created.v0 bot_user_deleted.v0]" {
		t.Errorf("event sources: %v", s)
	}
	if l := step("subscription_list"); len(l["ids"].([]any)) != 1 {
		t.Errorf("event subscription list: %v", l)
	}
	if l := step("destination_list"); len(l["ids"].([]any)) != 1 || l["secrets"] != float64(0) {
		t.Errorf("event destination list: %v, want one, without its secret", l)
	}
	if g := step("destination_deleted_get"); g["statusCode"] != float64(404) {
		t.Errorf("get of the deleted event destination: %v, want 404", g)
	}
	if g := step("deleted_get"); g["statusCode"] != float64(404) {
		t.Errorf("get of the deleted bot: %v, want 404", g)
	}
	pol := step("ip_policy_create")
	if !strings.HasPrefix(str(pol["id"]), "ipp_") || pol["uri"] != e.srv.URL+"/ip_policies/"+str(pol["id"]) || pol["description"] != "office" || str(pol["createdAt"]) == "" {
		t.Errorf("IP policy create: %v", pol)
	}
	if r := step("ip_rule_create"); !strings.HasPrefix(str(r["id"]), "ipr_") || r["cidr"] != "127.0.0.0/8" || r["action"] != "allow" ||
		fmt.Sprint(r["ipPolicy"]) != fmt.Sprint(map[string]any{"id": pol["id"], "uri": pol["uri"]}) {
		t.Errorf("IP policy rule create: %v", r)
	}
	if u := step("ip_rule_update"); u["cidr"] != "2001:db8::/48" || u["action"] != "deny" {
		t.Errorf("IP policy rule update: %v", u)
	}
	if ids := step("ip_rule_list")["ids"].([]any); len(ids) != 3 {
		t.Errorf("IP policy rules across pages of 2: %v, want 3", ids)
	}
	if x := step("ip_restriction_create"); !strings.HasPrefix(str(x["id"]), "ipx_") || x["type"] != "api" || x["enforced"] != false ||
		fmt.Sprint(x["ipPolicies"]) != fmt.Sprint([]any{map[string]any{"id": pol["id"], "uri": pol["uri"]}}) {
		t.Errorf("IP restriction create: %v", x)
	}
	if u := step("ip_restriction_update"); u["enforced"] != true {
		t.Errorf("IP restriction update: %v", u)
	}
	if ids := step("ip_policy_list")["ids"].([]any); len(ids) != 1 || ids[0] != pol["id"] {
		t.Errorf("IP policies listed from an allowed address under an enforced restriction: %v", ids)
	}
	if r := step("ip_restricted"); r["errorCode"] != "ERR_NGROK_220" || r["statusCode"] != float64(403) {
		t.Errorf("a request from a denied address: %v, want ERR_NGROK_220, 403", r)
	}
	// Four extra bots and the first access token (rotated, until its overlap ends) remain;
	// everything the script deleted or revoked is gone.
	after := e.snapshot()
	if after.bots != before.bots+4 || after.authtokens != before.authtokens || after.apiKeys != before.apiKeys || after.sshKeys != before.sshKeys ||
		after.accessTokens != before.accessTokens+1 {
		t.Errorf("store after the client's deletes: %+v, before: %+v", after, before)
	}
}
