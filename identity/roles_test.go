package identity_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestRoles_EmptyListIsRefused: the Guard's default roles apply only when roles are omitted
// (nil) at invitation or direct addition. An explicit empty list is an invalid-argument error on
// "roles" there, and setting a member's roles to nothing is too (it granted the defaults,
// Developer read/write and Team invite, instead of removing access). Nothing is written.
func TestRoles_EmptyListIsRefused(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloperReadOnly)
	loner := e.User("loner@example.com")
	events := func() int { return len(e.Events(a.ID)) }
	before := events()
	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"SetMemberRoles empty", func() error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, admin, dev.ID, []string{})
			return err
		}},
		{"SetMemberRoles nil", func() error {
			_, err := e.Dir.SetMemberRoles(e.Ctx, admin, dev.ID, nil)
			return err
		}},
		{"Invite empty", func() error {
			_, err := e.Dir.Invite(e.Ctx, admin, "new@example.com", []string{})
			return err
		}},
		{"AddMember empty", func() error {
			_, err := e.Dir.AddMember(e.Ctx, admin, loner.ID, []string{})
			return err
		}},
	} {
		wantField(t, c.name, c.do(), "roles")
	}
	if m, err := e.Dir.Member(e.Ctx, admin, dev.ID); err != nil || !slices.Equal(m.Roles, []string{rbac.RoleDeveloperReadOnly}) {
		t.Fatalf("member after refused changes: %+v, %v", m, err)
	}
	if _, err := e.Dir.Member(e.Ctx, admin, loner.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an empty role list added a member: %v", err)
	}
	if n := events(); n != before {
		t.Fatalf("refused changes wrote %d events", n-before)
	}
	// Omitted roles still get the defaults.
	inv, err := e.Dir.Invite(e.Ctx, admin, "new@example.com", nil)
	if err != nil || !slices.Equal(inv.Roles, rbac.DefaultMemberRoles()) {
		t.Fatalf("invitation without roles: %+v, %v", inv, err)
	}
	m, err := e.Dir.AddMember(e.Ctx, admin, loner.ID, nil)
	if err != nil || !slices.Equal(m.Roles, rbac.DefaultMemberRoles()) {
		t.Fatalf("member added without roles: %+v, %v", m, err)
	}
	// The Guard keeps the same distinction.
	err = e.Store.View(e.Ctx, func(r store.Reader) error {
		_, err := e.Authz.MemberRoles(e.Ctx, r, a, []string{})
		return err
	})
	if invalidField(err) != "roles" {
		t.Fatalf("Guard.MemberRoles(empty): %v", err)
	}
}
