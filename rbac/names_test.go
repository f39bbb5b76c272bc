package rbac_test

import (
	"testing"

	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestRoleNames_RefuseInvisibleAndInvalid: custom role names follow identity.CheckName and
// descriptions identity.CheckDescription, on create and update; a refused spec writes nothing.
func TestRoleNames_RefuseInvisibleAndInvalid(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "enterprise")
	role, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "auditor", Permissions: []rbac.Permission{rbac.EventsRead}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, spec rbac.RoleSpec, field string) {
		t.Helper()
		if _, err := e.Authz.CreateRole(e.Ctx, admin, spec); invalidField(err) != field {
			t.Errorf("CreateRole: %v, want an invalid-argument error on %s", err, field)
		}
		if _, err := e.Authz.UpdateRole(e.Ctx, admin, role.ID, spec); invalidField(err) != field {
			t.Errorf("UpdateRole: %v, want an invalid-argument error on %s", err, field)
		}
	}
	for _, c := range testenv.BadNames() {
		t.Run(c.Class, func(t *testing.T) { check(t, rbac.RoleSpec{Name: c.Name}, "name") })
	}
	for _, d := range []string{"nul\x00", "escape\x1b[2J", "override \u202e", "isolate \u2067x\u2069", "invalid \xff"} {
		check(t, rbac.RoleSpec{Name: "reader", Description: d}, "description")
	}
	roles, err := e.Authz.Roles(e.Ctx, admin, store.Page{Limit: 100})
	if err != nil || len(roles) != 1 || roles[0].Name != "auditor" || roles[0].Description != "" {
		t.Fatalf("refused specs changed the roles: %d roles (%v)", len(roles), err)
	}
	// Descriptions are free text: lines and tabs stay.
	if _, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "José's readers", Description: "reads\n\tthe log"}); err != nil {
		t.Fatal(err)
	}
}
