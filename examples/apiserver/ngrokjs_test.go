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
// paging included.
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
	// Four extra bots remain; everything the script deleted is gone.
	after := e.snapshot()
	if after.bots != before.bots+4 || after.authtokens != before.authtokens || after.apiKeys != before.apiKeys || after.sshKeys != before.sshKeys {
		t.Errorf("store after the client's deletes: %+v, before: %+v", after, before)
	}
}
