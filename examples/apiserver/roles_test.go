package main

import (
	"net/http"
	"slices"
	"testing"

	"github.com/iamkit/iamkit/rbac"
)

// TestEmptyRoles: PATCH /members/{id} {"roles":[]} is refused (400 on roles) instead of
// granting the default roles, and so is an invitation with an explicit empty list; an
// invitation with roles omitted (or null) gets the defaults.
func TestEmptyRoles(t *testing.T) {
	e := newEnv(t)
	id := e.addMember("ro@example.com", rbac.RoleTeamReadOnly)
	before := e.snapshot()

	e.req("PATCH", "/members/"+id, `{"roles":[]}`).wantError(http.StatusBadRequest, "ERR_NGROK_215")
	e.req("POST", "/invitations", `{"email":"new@example.com","roles":[]}`).wantError(http.StatusBadRequest, "ERR_NGROK_215")
	var m memberOutT
	e.req("GET", "/members/"+id, nil).want(http.StatusOK, &m)
	if !slices.Equal(m.Roles, []string{rbac.RoleTeamReadOnly}) {
		t.Fatalf("roles after a refused PATCH: %v", m.Roles)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused requests changed the store: %+v, was %+v", after, before)
	}

	for i, body := range []string{`{"email":"a@example.com"}`, `{"email":"b@example.com","roles":null}`} {
		var inv invitationOutT
		e.req("POST", "/invitations", body).want(http.StatusCreated, &inv)
		if !slices.Equal(inv.Roles, rbac.DefaultMemberRoles()) {
			t.Fatalf("invitation %d without roles: %v", i, inv.Roles)
		}
	}
}
