package scim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/rbac"
)

// envSCIMJS names a node_modules directory holding SCIMMY (npm "scimmy"), the SCIM schema
// and message validator the client script uses (.ci/run installs it there with npm).
const envSCIMJS = "IAMKIT_SCIM_JS"

// TestSCIMMYValidatesEveryResponse runs testdata/scim_client.mjs: Okta's and Entra's
// provisioning sequences over HTTP, every response validated by SCIMMY against RFC 7643's
// schemas and RFC 7644's messages. Between steps the test opens a dashboard session and an
// API key for the provisioned member and checks that deactivation and deletion end the one
// and make the Verifier refuse the other within a second, with events naming the SCIM
// credential.
func TestSCIMMYValidatesEveryResponse(t *testing.T) {
	modules := os.Getenv(envSCIMJS)
	node, err := exec.LookPath("node")
	if modules == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs node and %s (a node_modules with scimmy)", envSCIMJS)
		}
		t.Skipf("needs node and %s=<node_modules with scimmy>", envSCIMJS)
	}
	e := newEnv(t)
	e.setRules(e.boot.Admin, groupRules, rbac.RoleDeveloperReadOnly)
	script := scriptBeside(t, modules)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "SCIM_URL="+e.srv.URL+"/scim/v2", "SCIM_TOKEN="+e.token)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	steps := e.followClient(stdout, stdin)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"okta_created", "okta_deactivated", "okta_reactivated", "okta_deleted", "entra_created", "entra_disabled",
		"group_member_added", "group_second_group", "group_member_removed", "done"} {
		if _, ok := steps[want]; !ok {
			t.Errorf("the client never reached %s", want)
		}
	}
	if done := steps["done"]; done["validated"].(float64) < 25 {
		t.Errorf("the client validated %v responses", done["validated"])
	}
}

// scriptBeside copies the client script into a directory whose node_modules is modules:
// ES modules resolve packages from the script's directory, not NODE_PATH.
func scriptBeside(t *testing.T, modules string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "scim_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "scim_client.mjs")
	if err := os.WriteFile(script, src, 0o600); err != nil {
		t.Fatal(err)
	}
	return script
}

// followClient reads the client's steps, acting on those that wait for the test, and
// returns every step by name.
func (e *env) followClient(stdout io.Reader, stdin io.WriteCloser) map[string]map[string]any {
	e.t.Helper()
	defer stdin.Close()
	steps := map[string]map[string]any{}
	var session, apiKey string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("line %q: %v", sc.Text(), err)
		}
		name, _ := m["step"].(string)
		steps[name] = m
		if m["wait"] != true {
			continue
		}
		id, _ := m["id"].(string)
		switch name {
		case "okta_created", "entra_created", "okta_reactivated":
			session, apiKey = e.signedIn(id), e.userToken(id)
			e.sync()
			if _, err := e.iam.Authenticate(e.ctx, apiKey); err != nil {
				e.t.Fatalf("%s: the member's API key: %v", name, err)
			}
		case "okta_deactivated", "entra_disabled":
			e.deprovisioned(session, apiKey, "member_updated.v0")
		case "okta_deleted":
			e.deprovisioned(session, apiKey, "member_deleted.v0")
		case "group_member_added":
			e.wantRoles(id, name, rbac.RoleDeveloper)
		case "group_second_group":
			e.wantRoles(id, name, rbac.RoleDeveloper, rbac.RoleTeamManager)
		case "group_member_removed":
			e.wantRoles(id, name, rbac.RoleDeveloperReadOnly)
		}
		if _, err := io.WriteString(stdin, "ok\n"); err != nil {
			e.t.Fatal(err)
		}
	}
	return steps
}
