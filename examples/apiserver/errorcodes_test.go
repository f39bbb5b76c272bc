package main

import (
	"bufio"
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/store"
)

// documentedCode is one (code, status) pair of README.md's error tables.
type documentedCode struct{ code, status int }

func (c documentedCode) String() string { return fmt.Sprintf("ERR_NGROK_%d/%d", c.code, c.status) }

// readmeCodes parses the error-code tables of README.md: rows "| codes | statuses | when |"
// where codes are "n" or "n / m / ...", and statuses one for all or one per code.
func readmeCodes(t *testing.T) []documentedCode {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	numbers := regexp.MustCompile(`^\d+( / \d+)*$`)
	parse := func(cell string) []int {
		var out []int
		for n := range strings.SplitSeq(cell, " / ") {
			v, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("README: %q in %q", n, cell)
			}
			out = append(out, v)
		}
		return out
	}
	var out []documentedCode
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 4 || cells[0] != "" {
			continue
		}
		codeCell, statusCell := strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])
		if !numbers.MatchString(codeCell) || !numbers.MatchString(statusCell) {
			continue
		}
		codes, statuses := parse(codeCell), parse(statusCell)
		if len(statuses) != 1 && len(statuses) != len(codes) {
			t.Fatalf("README row %q: %d codes, %d statuses", sc.Text(), len(codes), len(statuses))
		}
		for i, c := range codes {
			out = append(out, documentedCode{c, statuses[min(i, len(statuses)-1)]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("README: only %d error codes parsed; has the table's layout changed?", len(out))
	}
	return out
}

// TestErrorCodeConstantsDocumented: every code constant of the server (a const named code...
// in its source) is in README.md's tables, and every documented code has a constant.
func TestErrorCodeConstantsDocumented(t *testing.T) {
	documented := map[int]bool{}
	for _, c := range readmeCodes(t) {
		documented[c.code] = true
	}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	constants := map[int]string{}
	for _, pkg := range pkgs {
		for _, file := range pkg.Files {
			for _, decl := range file.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if !strings.HasPrefix(name.Name, "code") || i >= len(vs.Values) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok || lit.Kind != token.INT {
							t.Fatalf("%s: constant %s is not an integer literal", fset.Position(name.Pos()), name.Name)
						}
						v, err := strconv.Atoi(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						constants[v] = name.Name
					}
				}
			}
		}
	}
	if len(constants) < 50 {
		t.Fatalf("only %d code constants found", len(constants))
	}
	for v, name := range constants {
		if !documented[v] {
			t.Errorf("%s = %d is not in README.md's error tables", name, v)
		}
	}
	for v := range documented {
		if _, ok := constants[v]; !ok {
			t.Errorf("README.md documents ERR_NGROK_%d, which no code constant holds", v)
		}
	}
}

// codeCall is one request of TestDocumentedErrorCodes.
type codeCall struct {
	key    string // default: the administrator's of the main account
	method string
	path   string
	body   any
	hdr    []string
}

// TestDocumentedErrorCodes walks README.md's error tables: for every documented code and
// status it provokes the failure through HTTP and checks status and code, and that the
// refused request stored nothing. A code the README documents without a case here, or a case
// whose code the README does not document, fails the test.
func TestDocumentedErrorCodes(t *testing.T) {
	e := newEnv(t, withPlans(identity.Plan{Name: "nobots", Seats: 1}, identity.Plan{Name: "tight", Seats: 1, APIRate: store.Rate{Limit: 1, Period: time.Hour}}))
	f := newCodeFixture(e)

	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		code, status int
		name         string
		call         codeCall
		prep         func(t *testing.T) codeCall // instead of call: a case with its own setup
		storeDown    bool                        // the store is closed: no snapshot
	}{
		// Authentication and headers.
		{code: 200, status: 401, name: "no authorization", call: codeCall{method: "GET", path: "/bot_users", hdr: []string{"Authorization", ""}}},
		{code: 201, status: 401, name: "basic auth", call: codeCall{method: "GET", path: "/bot_users", hdr: []string{"Authorization", "Basic dXNlcjpwYXNz"}}},
		{code: 202, status: 401, name: "malformed key", call: codeCall{key: "not-a-key", method: "GET", path: "/bot_users"}},
		{code: 203, status: 401, name: "revoked key", call: codeCall{key: f.revokedKey, method: "GET", path: "/bot_users"}},
		{code: 206, status: 401, name: "authtoken as API key", call: codeCall{key: f.authtokenToken, method: "GET", path: "/bot_users"}},
		{code: 208, status: 401, name: "API key ID as token", call: codeCall{key: f.apiKeyID, method: "GET", path: "/bot_users"}},
		{code: 636, status: 401, name: "disabled member's key", call: codeCall{key: f.disabledKey, method: "GET", path: "/credentials"}},
		{code: 636, status: 400, name: "credential for an inactive owner", call: codeCall{method: "POST", path: "/credentials", body: map[string]any{"owner_id": f.sleepingBot}}},
		{code: 218, status: 400, name: "no version", call: codeCall{method: "GET", path: "/bot_users", hdr: []string{"Ngrok-Version", ""}}},
		{code: 217, status: 400, name: "bad version", call: codeCall{method: "GET", path: "/bot_users", hdr: []string{"Ngrok-Version", "3"}}},

		// Bodies, parameters, IDs, routing.
		{code: 210, status: 415, name: "text body", call: codeCall{method: "POST", path: "/bot_users", body: `{"name":"a"}`, hdr: []string{"Content-Type", "text/plain"}}},
		{code: 216, status: 400, name: "no content type", call: codeCall{method: "POST", path: "/bot_users", body: `{"name":"a"}`, hdr: []string{"Content-Type", ""}}},
		{code: 211, status: 400, name: "body on GET", call: codeCall{method: "GET", path: "/bot_users", body: `{}`}},
		{code: 212, status: 413, name: "body over 64 KiB", call: codeCall{method: "POST", path: "/credentials", body: `{"description":"` + long(70<<10) + `"}`}},
		{code: 213, status: 400, name: "malformed JSON", call: codeCall{method: "POST", path: "/bot_users", body: `{"name":`}},
		{code: 214, status: 400, name: "unknown field", call: codeCall{method: "POST", path: "/bot_users", body: `{"name":"a","admin":true}`}},
		{code: 214, status: 400, name: "unknown query parameter", call: codeCall{method: "GET", path: "/bot_users?filter=x"}},
		{code: 215, status: 400, name: "wrong type", call: codeCall{method: "POST", path: "/bot_users", body: `{"name":5}`}},
		{code: 215, status: 400, name: "unknown permission", call: codeCall{method: "POST", path: "/roles", body: map[string]any{"name": "r", "permissions": []string{"tunnels:fly"}}}},
		{code: 215, status: 400, name: "unknown role name", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{"superuser"}}}},
		{code: 215, status: 400, name: "unknown role ID in an invitation", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{f.unknownRole}}}},
		{code: 215, status: 400, name: "foreign role ID in an invitation", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{rbac.RoleDeveloper, f.foreignRole}}}},
		{code: 215, status: 400, name: "unknown role ID for a member", call: codeCall{method: "PATCH", path: "/members/" + f.developer, body: map[string]any{"roles": []string{f.unknownRole}}}},
		{code: 215, status: 400, name: "foreign role ID for a member", call: codeCall{method: "PATCH", path: "/members/" + f.developer, body: map[string]any{"roles": []string{f.foreignRole}}}},
		{code: 215, status: 400, name: "unknown role ID for a new bot user", call: codeCall{method: "POST", path: "/bot_users", body: map[string]any{"name": "r", "roles": []string{f.unknownRole}}}},
		{code: 215, status: 400, name: "foreign role ID for a bot user", call: codeCall{method: "PATCH", path: "/bot_users/" + f.bot, body: map[string]any{"roles": []string{f.foreignRole}}}},
		{code: 215, status: 400, name: "foreign role ID as an IdP default role", call: codeCall{method: "POST", path: "/identity_providers", body: map[string]any{"metadata_xml": f.metadata, "domains": []string{"example.com"}, "default_roles": []string{f.foreignRole}}}},
		{code: 215, status: 400, name: "bad SSO setting", call: codeCall{method: "PATCH", path: "/sso_settings", body: map[string]any{"enforcement": "sometimes"}}},
		{code: 215, status: 400, name: "repeated query parameter", call: codeCall{method: "GET", path: "/bot_users?limit=1&limit=100"}},
		{code: 215, status: 400, name: "repeated body field", call: codeCall{method: "POST", path: "/bot_users", body: `{"name":"a","name":"b"}`}},
		{code: 215, status: 400, name: "body not UTF-8", call: codeCall{method: "POST", path: "/bot_users", body: "{\"name\":\"\xff\"}"}},
		{code: 227, status: 400, name: "wrong ID prefix", call: codeCall{method: "GET", path: "/bot_users/" + f.authtoken}},
		{code: 233, status: 400, name: "limit 101", call: codeCall{method: "GET", path: "/credentials?limit=101"}},
		{code: 90404, status: 404, name: "unknown bot user", call: codeCall{method: "GET", path: "/bot_users/" + notExisting(f.bot)}},
		{code: 90404, status: 404, name: "unknown path", call: codeCall{method: "GET", path: "/tunnels"}},
		{code: 90404, status: 404, name: "path not clean", call: codeCall{method: "GET", path: "/bot_users/" + f.bot + "/../" + f.bot}},
		{code: 90431, status: 431, name: "headers over 32 KiB", call: codeCall{method: "GET", path: "/bot_users", hdr: []string{"X-Filler", long(maxRequestHeaderBytes)}}},
		{code: 90405, status: 405, name: "wrong method", call: codeCall{method: "PUT", path: "/bot_users/" + f.bot, body: map[string]any{"name": "x"}}},

		// Credentials.
		{code: 600, status: 400, name: "invalid ACL rule", call: codeCall{method: "POST", path: "/credentials", body: map[string]any{"acl": []string{"connect:example.com"}}}},
		{code: 604, status: 400, name: "description too long", call: codeCall{method: "POST", path: "/credentials", body: map[string]any{"description": long(256)}}},
		{code: 605, status: 400, name: "metadata too long", call: codeCall{method: "POST", path: "/api_keys", body: map[string]any{"metadata": long(4097)}}},
		{code: 606, status: 400, name: "empty update", call: codeCall{method: "PATCH", path: "/credentials/" + f.authtoken, body: map[string]any{}}},
		{code: 609, status: 409, name: "SSH key in this account", call: codeCall{method: "POST", path: "/ssh_credentials", body: map[string]any{"public_key": f.sshKey}}},
		{code: 610, status: 409, name: "SSH key in another account", call: codeCall{key: f.freeKey, method: "POST", path: "/ssh_credentials", body: map[string]any{"public_key": f.sshKey}}},
		{code: 611, status: 400, name: "SSH key missing", call: codeCall{method: "POST", path: "/ssh_credentials", body: map[string]any{"description": "x"}}},
		{code: 612, status: 400, name: "SSH key invalid", call: codeCall{method: "POST", path: "/ssh_credentials", body: map[string]any{"public_key": "ssh-rsa AAAAnotakey"}}},
		{code: 620, status: 403, name: "authtoken ACL on the free plan", call: codeCall{key: f.freeKey, method: "POST", path: "/credentials", body: map[string]any{"acl": []string{"bind:x.example.com"}}}},
		{code: 622, status: 403, name: "SSH key ACL on the free plan", call: codeCall{key: f.freeKey, method: "POST", path: "/ssh_credentials", body: map[string]any{"public_key": sshPublicKey(t), "acl": []string{"bind:x.example.com"}}}},
		{code: 627, status: 400, name: "authtoken owner change", call: codeCall{method: "PATCH", path: "/credentials/" + f.authtoken, body: map[string]any{"owner_id": f.bot}}},
		{code: 628, status: 400, name: "API key owner change", call: codeCall{method: "PATCH", path: "/api_keys/" + f.apiKeyID, body: map[string]any{"owner_id": f.bot}}},
		{code: 629, status: 400, name: "SSH key owner change", call: codeCall{method: "PATCH", path: "/ssh_credentials/" + f.sshCred, body: map[string]any{"owner_id": f.bot}}},
		{code: 630, status: 403, name: "developer sets an owner", call: codeCall{key: f.devKey, method: "POST", path: "/api_keys", body: map[string]any{"owner_id": f.bot}}},
		{code: 633, status: 403, name: "owner on the free plan", call: codeCall{key: f.freeKey, method: "POST", path: "/api_keys", body: map[string]any{"owner_id": f.freeBot}}},
		{code: 220, status: 403, name: "API key used from outside its allowed_ips", call: codeCall{key: f.elsewhereKey, method: "GET", path: "/bot_users"}},
		{code: 90413, status: 403, name: "access token outside its scopes", call: codeCall{key: f.scopedToken, method: "GET", path: "/bot_users"}},
		{code: 90414, status: 403, name: "access token scope its creator lacks", call: codeCall{key: f.devKey, method: "POST", path: "/access_tokens", body: map[string]any{"scopes": []string{"members:manage"}}}},
		{code: 90415, status: 400, name: "rotation overlap beyond the policy", call: codeCall{method: "POST", path: "/api_keys/" + f.apiKeyID + "/rotate", body: map[string]any{"overlap": 8 * 24 * 3600}}},
		{code: 634, status: 400, name: "unknown owner", call: codeCall{method: "POST", path: "/credentials", body: map[string]any{"owner_id": notExisting(f.bot)}}},

		// Permissions.
		{code: 1216, status: 403, name: "developer lists members", call: codeCall{key: f.devKey, method: "GET", path: "/members"}},
		{code: 1219, status: 403, name: "team read-only lists credentials", call: codeCall{key: f.teamReadKey, method: "GET", path: "/credentials"}},
		{code: 1220, status: 403, name: "developer makes a role", call: codeCall{key: f.devKey, method: "POST", path: "/roles", body: map[string]any{"name": "r", "permissions": []string{"events:read"}}}},
		{code: 1220, status: 403, name: "developer changes SSO settings", call: codeCall{key: f.devKey, method: "PATCH", path: "/sso_settings", body: map[string]any{"enforcement": "off"}}},
		{code: 226, status: 429, name: "over the account's API rate", prep: func(t *testing.T) codeCall {
			key, _ := f.account("tight@example.com", "tight")
			f.e.in(t).reqAs(key, "GET", "/credentials", nil).want(http.StatusOK, nil) // its one request per hour
			return codeCall{key: key, method: "GET", path: "/credentials"}
		}},
		{code: 90403, status: 403, name: "billing reads events", call: codeCall{key: f.billingKey, method: "GET", path: "/events"}},

		// Bot users.
		{code: 4109, status: 400, name: "empty bot name", call: codeCall{method: "POST", path: "/bot_users", body: map[string]any{"name": ""}}},
		{code: 4110, status: 400, name: "bot name too long", call: codeCall{method: "PATCH", path: "/bot_users/" + f.bot, body: map[string]any{"name": long(256)}}},
		{code: 4111, status: 403, name: "developer creates a bot", call: codeCall{key: f.devKey, method: "POST", path: "/bot_users", body: map[string]any{"name": "mine"}}},
		{code: 4112, status: 409, name: "bot name taken", call: codeCall{method: "POST", path: "/bot_users", body: map[string]any{"name": "taken"}}},
		{code: 4119, status: 403, name: "plan without bot users creates one", call: codeCall{key: f.noBotsKey, method: "POST", path: "/bot_users", body: map[string]any{"name": "a"}}},
		{code: 4119, status: 403, name: "plan without bot users lists them", call: codeCall{key: f.noBotsKey, method: "GET", path: "/bot_users"}},

		// Members and invitations.
		{code: 4400, status: 400, name: "invitation without email", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{}}},
		{code: 4401, status: 400, name: "invitation email too long", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{"email": long(250) + "@example.com"}}},
		{code: 4402, status: 400, name: "no seat left", call: codeCall{key: f.freeKey, method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com"}}},
		{code: 4404, status: 400, name: "expired invitation", prep: func(t *testing.T) codeCall {
			_, lateKey := f.e.in(t).outsider("late@example.com")
			return codeCall{key: lateKey, method: "POST", path: "/invitations/" + f.expiredInvitation(t) + "/accept"}
		}},
		{code: 4410, status: 403, name: "team manager invites an administrator", call: codeCall{key: f.managerKey, method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{rbac.RoleAdministrator}}}},
		{code: 4411, status: 403, name: "developer invites", call: codeCall{key: f.devKey, method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com"}}},
		{code: 4412, status: 403, name: "invite-only member grants developer", call: codeCall{key: f.inviterKey, method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{rbac.RoleDeveloper}}}},
		{code: 10080, status: 404, name: "unknown invitation", call: codeCall{method: "GET", path: "/invitations/" + notExisting(f.invitation)}},
		{code: 6602, status: 400, name: "remove the last administrator", call: codeCall{method: "DELETE", path: "/members/" + e.boot.AdminUserID}},
		{code: 6622, status: 400, name: "disable the last administrator", call: codeCall{method: "POST", path: "/members/" + e.boot.AdminUserID + "/disable"}},
		{code: 6604, status: 403, name: "team manager removes an administrator", call: codeCall{key: f.managerKey, method: "DELETE", path: "/members/" + e.boot.AdminUserID}},
		{code: 6606, status: 403, name: "team manager demotes an administrator", call: codeCall{key: f.managerKey, method: "PATCH", path: "/members/" + e.boot.AdminUserID, body: map[string]any{"roles": []string{rbac.RoleDeveloper}}}},
		{code: 6621, status: 403, name: "team manager disables an administrator", call: codeCall{key: f.managerKey, method: "POST", path: "/members/" + e.boot.AdminUserID + "/disable"}},
		{code: 90410, status: 409, name: "invite a member", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{"email": "dev@example.com"}}},
		{code: 90411, status: 409, name: "invite twice", call: codeCall{method: "POST", path: "/invitations", body: map[string]any{"email": "who@example.com"}}},

		// Roles, plans, SSO.
		{code: 90409, status: 409, name: "role name taken", call: codeCall{method: "POST", path: "/roles", body: map[string]any{"name": "auditor", "permissions": []string{"events:read"}}}},
		{code: 90402, status: 403, name: "custom roles not in the plan", call: codeCall{key: f.paygKey, method: "POST", path: "/roles", body: map[string]any{"name": "r", "permissions": []string{"events:read"}}}},
		{code: 90402, status: 403, name: "custom role for a member, not in the plan", call: codeCall{key: f.paygKey, method: "POST", path: "/invitations", body: map[string]any{"email": "x@example.com", "roles": []string{f.unknownRole}}}},
		{code: 90402, status: 403, name: "a role other than Administrator without RBAC", call: codeCall{key: f.freeKey, method: "PATCH", path: "/members/" + f.freeAdmin, body: map[string]any{"roles": []string{rbac.RoleDeveloper}}}},
		{code: 90402, status: 403, name: "SSO not in the plan, read", call: codeCall{key: f.paygKey, method: "GET", path: "/identity_providers"}},
		{code: 90402, status: 403, name: "SSO not in the plan, manage", call: codeCall{key: f.paygKey, method: "PATCH", path: "/sso_settings", body: map[string]any{"enforcement": "off"}}},
		{code: 90412, status: 400, name: "enforce SSO without an IdP", call: codeCall{method: "PATCH", path: "/sso_settings", body: map[string]any{"enforcement": "enforced"}}},
		{code: 10027, status: 400, name: "IdP metadata not SAML", call: codeCall{method: "POST", path: "/identity_providers", body: map[string]any{"metadata_xml": "<nope/>", "domains": []string{"example.com"}}}},
		{code: 10031, status: 400, name: "IdP metadata too large", call: codeCall{method: "POST", path: "/identity_providers", body: map[string]any{"metadata_xml": strings.Repeat(" ", 17<<10), "domains": []string{"example.com"}}}},
		{code: 4702, status: 400, name: "delete the last IdP under enforcement", prep: func(t *testing.T) codeCall {
			return codeCall{method: "DELETE", path: "/identity_providers/" + f.enforcedIdP(t)}
		}},

		// Server faults, last: the store is broken on purpose.
		{code: 238, status: 400, name: "unknown event type", call: codeCall{method: "POST", path: "/event_subscriptions", body: map[string]any{"sources": []map[string]any{{"type": "tunnel_teleported.v0"}}}}},
		{code: 90420, status: 400, name: "event destination limit", prep: func(t *testing.T) codeCall {
			body := map[string]any{"target": map[string]any{"webhook": map[string]any{"url": "https://siem.example.com/h"}}}
			for range eventstream.MaxDestinations {
				f.e.in(t).req("POST", "/event_destinations", body).want(http.StatusCreated, nil)
			}
			return codeCall{method: "POST", path: "/event_destinations", body: body}
		}},
		{code: 90500, status: 500, name: "account on a plan the server does not know", prep: func(t *testing.T) codeCall {
			return codeCall{key: f.retiredPlanKey(t), method: "GET", path: "/bot_users"}
		}},
		{code: 90503, status: 503, name: "store unreachable", storeDown: true, prep: func(t *testing.T) codeCall {
			key := e.createAPIKey("") // never used: the verifier must read the store
			if err := e.st.Close(); err != nil {
				t.Fatal(err)
			}
			return codeCall{key: *key.Token, method: "GET", path: "/bot_users"}
		}},
	}

	documented := readmeCodes(t)
	covered := map[documentedCode]bool{}
	for _, tc := range cases {
		c := documentedCode{tc.code, tc.status}
		covered[c] = true
		t.Run(fmt.Sprintf("%d %s", tc.code, tc.name), func(t *testing.T) {
			e := e.in(t)
			if !slices.Contains(documented, c) {
				t.Fatalf("%v is not documented in README.md", c)
			}
			call := tc.call
			if tc.prep != nil {
				call = tc.prep(t)
			}
			var before snapshot
			if !tc.storeDown {
				before = e.snapshot()
			}
			key := cmp.Or(call.key, e.key)
			e.reqAs(key, call.method, call.path, call.body, call.hdr...).wantError(tc.status, "ERR_NGROK_"+strconv.Itoa(tc.code))
			if tc.storeDown {
				return
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("store changed: %+v -> %+v", before, after)
			}
		})
	}
	for _, c := range documented {
		if !covered[c] {
			t.Errorf("README.md documents %v but no case provokes it", c)
		}
	}
}

// codeFixture holds what TestDocumentedErrorCodes's requests refer to: in the main
// (Enterprise) account, members of several roles with API keys, a bot user, credentials, an
// invitation, a custom role; and accounts on other plans.
type codeFixture struct {
	e *env

	developer                                               string // user IDs
	devKey, managerKey, inviterKey, teamReadKey, billingKey string // API keys of members with those roles
	disabledKey, revokedKey                                 string
	bot, sleepingBot                                        string // an active and a deactivated bot user
	authtoken, authtokenToken, apiKeyID, sshCred, sshKey    string
	invitation                                              string // pending, for who@example.com
	unknownRole, foreignRole                                string // a role ID of no account, one of another account
	metadata                                                string // acceptable IdP metadata
	freeKey, freeAdmin, freeBot, paygKey, noBotsKey         string // other accounts: an administrator's key and ID, a bot user
	elsewhereKey                                            string // an API key allowed only from 192.0.2.0/24
	scopedToken                                             string // an access token of the administrator's, credentials:read only
}

func newCodeFixture(e *env) *codeFixture {
	t := e.t
	f := &codeFixture{e: e}
	f.bot = e.createBot("taken").ID
	f.sleepingBot = e.createBot("sleeping").ID
	e.req("PATCH", "/bot_users/"+f.sleepingBot, map[string]any{"active": false}).want(http.StatusOK, nil)

	var cred ngrokCredential
	e.req("POST", "/credentials", map[string]any{}).want(http.StatusCreated, &cred)
	f.authtoken, f.authtokenToken = cred.ID, *cred.Token
	f.apiKeyID = e.createAPIKey("").ID
	f.sshKey = sshPublicKey(t)
	var ssh ngrokSSHCredential
	e.req("POST", "/ssh_credentials", map[string]any{"public_key": f.sshKey}).want(http.StatusCreated, &ssh)
	f.sshCred = ssh.ID
	revoked := e.createAPIKey("")
	e.req("DELETE", "/api_keys/"+revoked.ID, nil).want(http.StatusNoContent, nil)
	f.revokedKey = *revoked.Token
	var elsewhere, scoped tokenCred
	e.req("POST", "/api_keys", map[string]any{"allowed_ips": []string{"192.0.2.0/24"}}).want(http.StatusCreated, &elsewhere)
	e.req("POST", "/access_tokens", map[string]any{"scopes": []string{"credentials:read"}}).want(http.StatusCreated, &scoped)
	f.elsewhereKey, f.scopedToken = *elsewhere.Token, *scoped.Token

	memberKey := func(email, role string) (string, string) {
		id := e.addMember(email, role)
		return id, *e.createAPIKey(id).Token
	}
	f.developer, f.devKey = memberKey("dev@example.com", rbac.RoleDeveloper)
	_, f.managerKey = memberKey("manager@example.com", rbac.RoleTeamManager)
	_, f.inviterKey = memberKey("inviter@example.com", rbac.RoleTeamInvite)
	_, f.teamReadKey = memberKey("reader@example.com", rbac.RoleTeamReadOnly)
	_, f.billingKey = memberKey("billing@example.com", rbac.RoleBilling)
	disabled, disabledKey := memberKey("gone@example.com", rbac.RoleDeveloper)
	e.req("POST", "/members/"+disabled+"/disable", nil).want(http.StatusOK, nil)
	f.disabledKey = disabledKey

	var inv invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "who@example.com"}).want(http.StatusCreated, &inv)
	f.invitation = inv.ID
	var role roleOutT
	e.req("POST", "/roles", map[string]any{"name": "auditor", "permissions": []string{"events:read"}}).want(http.StatusCreated, &role)
	f.unknownRole = notExisting(role.ID)
	f.metadata = idpMetadata(t, "https://idp.example.com/metadata")

	// Other accounts.
	otherKey, _ := f.account("other@example.com", identity.Enterprise().Name)
	var foreign roleOutT
	e.reqAs(otherKey, "POST", "/roles", map[string]any{"name": "auditor", "permissions": []string{"events:read"}}).want(http.StatusCreated, &foreign)
	f.foreignRole = foreign.ID
	f.freeKey, f.freeAdmin = f.account("free@example.com", identity.Free().Name)
	var freeBot ngrokBotUser
	e.reqAs(f.freeKey, "POST", "/bot_users", map[string]any{"name": "free"}).want(http.StatusCreated, &freeBot)
	f.freeBot = freeBot.ID
	f.paygKey, _ = f.account("payg@example.com", identity.PayAsYouGo().Name)
	f.noBotsKey, _ = f.account("nobots@example.com", "nobots")
	return f
}

// account creates an account on plan, founded by a new user with email, and returns an API
// key of that administrator and its user ID.
func (f *codeFixture) account(email, plan string) (key, userID string) {
	t, ctx, iam := f.e.t, f.e.t.Context(), f.e.iam
	u, err := iam.Directory().CreateUser(ctx, email, "Founder")
	if err != nil {
		t.Fatal(err)
	}
	a, err := iam.Directory().CreateAccount(ctx, u.ID, "acct", plan)
	if err != nil {
		t.Fatal(err)
	}
	p, err := iam.Directory().Principal(ctx, a.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := iam.Credentials().Create(ctx, p, credential.CreateRequest{Kind: store.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	return issued.Token.Reveal(), u.ID
}

// expiredInvitation invites late@example.com and moves the invitation's expiry into the past
// in the store, and returns its ID.
func (f *codeFixture) expiredInvitation(t *testing.T) string {
	e := f.e.in(t)
	var inv invitationOutT
	e.req("POST", "/invitations", map[string]any{"email": "late@example.com"}).want(http.StatusCreated, &inv)
	err := e.st.Update(t.Context(), func(tx store.Tx) error {
		rec, err := tx.Invitation(t.Context(), inv.ID)
		if err != nil {
			return err
		}
		rec.ExpiresAt = time.Now().Add(-time.Minute)
		return tx.PutInvitation(t.Context(), rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv.ID
}

// enforcedIdP creates the main account's only identity provider, enforces SSO, and returns
// the IdP's ID.
func (f *codeFixture) enforcedIdP(t *testing.T) string {
	e := f.e.in(t)
	e.verifyDomains("example.com")
	var idp idpOutT
	e.req("POST", "/identity_providers", map[string]any{"metadata_xml": f.metadata, "domains": []string{"example.com"}}).want(http.StatusCreated, &idp)
	e.req("PATCH", "/sso_settings", map[string]any{"enforcement": "enforced"}).want(http.StatusOK, nil)
	return idp.ID
}

// retiredPlanKey makes an account, then moves it in the store to a plan the server's catalog
// does not hold (a plan retired from the configuration), and returns its administrator's key.
func (f *codeFixture) retiredPlanKey(t *testing.T) string {
	e := f.e.in(t)
	key, admin := f.account("retired@example.com", identity.PayAsYouGo().Name)
	err := e.st.Update(t.Context(), func(tx store.Tx) error {
		ms, err := tx.MembershipsByUser(t.Context(), admin)
		if err != nil || len(ms) != 1 {
			return fmt.Errorf("memberships of %s: %d, %w", admin, len(ms), err)
		}
		a, err := tx.Account(t.Context(), ms[0].AccountID)
		if err != nil {
			return err
		}
		a.Plan = "retired"
		return tx.PutAccount(t.Context(), a)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.iam.Authorizer().Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	return key
}
