package scim_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

var groupRules = []store.RoleRule{
	{Group: "Engineering", Roles: []string{rbac.RoleDeveloper}},
	{Group: "Ops", Roles: []string{rbac.RoleTeamManager}},
	{Group: "Admins", Roles: []string{rbac.RoleAdministrator}},
}

// setRules gives the env's identity provider role rules and default roles, set by author.
func (e *env) setRules(author identity.Principal, rules []store.RoleRule, def ...string) {
	e.t.Helper()
	err := e.st.Update(e.ctx, func(tx store.Tx) error {
		p, err := tx.IdentityProvider(e.ctx, e.idp.ID)
		if err != nil {
			return err
		}
		p.DefaultRoles = def
		return tx.PutIdentityProvider(e.ctx, p)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if e.idp, err = e.iam.SSO().SetRoleRules(e.ctx, author, e.idp.ID, rules); err != nil {
		e.t.Fatal(err)
	}
}

// roles returns a member's roles.
func (e *env) roles(userID string) []string {
	e.t.Helper()
	m, err := e.iam.Directory().Member(e.ctx, e.boot.Admin, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Roles
}

func (e *env) wantRoles(userID, when string, want ...string) {
	e.t.Helper()
	if got := e.roles(userID); !slices.Equal(got, want) {
		e.t.Fatalf("%s: roles %v, want %v", when, got, want)
	}
}

const patchOp = `"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// TestGroupsDriveRoles: SCIM group membership, in Okta's and Entra's request shapes, sets
// members' roles through the identity provider's role rules: a new member gets the rules'
// default, joining or leaving a group, renaming, replacing or deleting it recalculates the
// roles of the members concerned, and every change is recorded by the SCIM credential.
func TestGroupsDriveRoles(t *testing.T) {
	e := newEnv(t)
	e.setRules(e.boot.Admin, groupRules, rbac.RoleDeveloperReadOnly)
	alice := e.must(http.StatusCreated, "POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test"}`)["id"].(string)
	e.wantRoles(alice, "a new member", rbac.RoleDeveloperReadOnly)

	eng := e.must(http.StatusCreated, "POST", "/scim/v2/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": []}`)["id"].(string)
	e.wantEvent("group_created.v0")
	// Okta adds a member.
	e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+eng, `{`+patchOp+`, "Operations": [{"op": "add", "path": "members", "value": [{"value": "`+alice+`", "display": "alice@acme.test"}]}]}`)
	e.wantRoles(alice, "in Engineering", rbac.RoleDeveloper)
	e.wantEvent("member_updated.v0")

	// Entra creates a group, then adds the member.
	ops := e.must(http.StatusCreated, "POST", "/scim/v2/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Ops", "meta": {"resourceType": "Group"}}`)["id"].(string)
	e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+ops, `{`+patchOp+`, "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "`+alice+`"}]}]}`)
	e.wantRoles(alice, "in Engineering and Ops", rbac.RoleDeveloper, rbac.RoleTeamManager)
	why, err := e.iam.SSO().ExplainMemberRoles(e.ctx, e.boot.Admin, alice)
	wantWhy := []sso.RoleReason{{Role: rbac.RoleDeveloper, Rule: 0, Group: "Engineering"}, {Role: rbac.RoleTeamManager, Rule: 1, Group: "Ops"}}
	if err != nil || why.IdPID != e.idp.ID || !slices.Equal(why.Reasons, wantWhy) {
		t.Fatalf("ExplainMemberRoles: %+v, %v; want %+v", why, err, wantWhy)
	}

	// Okta removes a member by filter.
	e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+eng, `{`+patchOp+`, "Operations": [{"op": "remove", "path": "members[value eq \"`+alice+`\"]"}]}`)
	e.wantRoles(alice, "out of Engineering", rbac.RoleTeamManager)

	// Entra renames a group no rule names any more: its members fall back to the default.
	got := e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+ops, `{`+patchOp+`, "Operations": [{"op": "Replace", "path": "displayName", "value": "Operations"}]}`)
	if got["displayName"] != "Operations" {
		t.Fatalf("renamed: %v", got)
	}
	e.wantRoles(alice, "in a group no rule names", rbac.RoleDeveloperReadOnly)
	list := e.must(http.StatusOK, "GET", "/scim/v2/Groups?"+url.Values{"filter": {`displayName eq "Operations"`}}.Encode(), "")
	if rs := resources(list); len(rs) != 1 || rs[0]["id"] != ops || len(rs[0]["members"].([]any)) != 1 {
		t.Fatalf("filtered list: %v", list)
	}
	// Okta renames it back ({"op":"replace","value":{"id":...,"displayName":...}}).
	e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+ops, `{`+patchOp+`, "Operations": [{"op": "replace", "value": {"id": "`+ops+`", "displayName": "Ops"}}]}`)
	e.wantRoles(alice, "in Ops again", rbac.RoleTeamManager)

	// Entra removes by value; PUT replaces the members; DELETE drops the group.
	e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+ops, `{`+patchOp+`, "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "`+alice+`"}]}]}`)
	e.wantRoles(alice, "in no group", rbac.RoleDeveloperReadOnly)
	e.must(http.StatusOK, "PUT", "/scim/v2/Groups/"+eng, `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": [{"value": "`+alice+`"}]}`)
	e.wantRoles(alice, "put back in Engineering", rbac.RoleDeveloper)
	e.must(http.StatusNoContent, "DELETE", "/scim/v2/Groups/"+eng, "")
	e.wantRoles(alice, "Engineering deleted", rbac.RoleDeveloperReadOnly)
	e.wantEvent("member_updated.v0")
	e.must(http.StatusNotFound, "GET", "/scim/v2/Groups/"+eng, "")
	e.must(http.StatusBadRequest, "POST", "/scim/v2/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Strangers", "members": [{"value": "usr_01M8MKVF4CNG91EN6BSH3JQCJCAGKC"}]}`)
	e.must(http.StatusConflict, "POST", "/scim/v2/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"}`)

	// A deleted user leaves its groups: provisioned again, it starts from the default.
	e.must(http.StatusOK, "PATCH", "/scim/v2/Groups/"+ops, `{`+patchOp+`, "Operations": [{"op": "add", "path": "members", "value": [{"value": "`+alice+`"}]}]}`)
	e.wantRoles(alice, "back in Ops", rbac.RoleTeamManager)
	e.must(http.StatusNoContent, "DELETE", "/scim/v2/Users/"+alice, "")
	e.wantEvent("group_updated.v0")
	again := e.must(http.StatusCreated, "POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test"}`)["id"].(string)
	e.wantRoles(again, "provisioned again", rbac.RoleDeveloperReadOnly)
	if g := e.must(http.StatusOK, "GET", "/scim/v2/Groups/"+ops, ""); len(g["members"].([]any)) != 0 {
		t.Errorf("the deleted user is still in Ops: %v", g)
	}
}

// TestGroupRolesNeverExceedTheirGrantors: a group change whose roles the rules' author may
// no longer grant, or the SCIM client may not grant, is refused before anything is written.
func TestGroupRolesNeverExceedTheirGrantors(t *testing.T) {
	e := newEnv(t)
	author, _, err := e.iam.Directory().EnsureUser(e.ctx, "second@acme.test", "Second")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.iam.Directory().AddMember(e.ctx, e.boot.Admin, author.ID, []string{rbac.RoleAdministrator}); err != nil {
		t.Fatal(err)
	}
	ap, err := e.iam.Directory().Principal(e.ctx, e.boot.Account.ID, author.ID, identity.SourceDashboard, "")
	if err != nil {
		t.Fatal(err)
	}
	e.setRules(ap, groupRules, rbac.RoleDeveloperReadOnly)
	bob := e.must(http.StatusCreated, "POST", "/scim/v2/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@acme.test"}`)["id"].(string)
	admins := e.must(http.StatusCreated, "POST", "/scim/v2/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins"}`)["id"].(string)
	ops := e.must(http.StatusCreated, "POST", "/scim/v2/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"}`)["id"].(string)
	addBob := `{` + patchOp + `, "Operations": [{"op": "add", "path": "members", "value": [{"value": "` + bob + `"}]}]}`

	// The SCIM client (a team manager) may not make an administrator.
	e.must(http.StatusForbidden, "PATCH", "/scim/v2/Groups/"+admins, addBob)
	e.wantRoles(bob, "refused into Admins", rbac.RoleDeveloperReadOnly)

	// The rules' author demoted: the Ops rule gives more than it may grant now.
	if _, err := e.iam.Directory().SetMemberRoles(e.ctx, e.boot.Admin, author.ID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	got := e.must(http.StatusForbidden, "PATCH", "/scim/v2/Groups/"+ops, addBob)
	if d, _ := got["detail"].(string); d == "" {
		t.Errorf("refusal without detail: %v", got)
	}
	e.wantRoles(bob, "refused into Ops", rbac.RoleDeveloperReadOnly)
	if g := e.must(http.StatusOK, "GET", "/scim/v2/Groups/"+ops, ""); len(g["members"].([]any)) != 0 {
		t.Errorf("a refused change was written: %v", g)
	}
}
