package rbac_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// featureExport is an embedder's plan feature that gates one of its permissions.
const featureExport identity.Feature = "export"

// embedder returns the registry of an embedder with three permissions of its own.
func embedder(t testing.TB) *rbac.Permissions {
	t.Helper()
	ps, err := rbac.NewPermissions(
		rbac.PermissionSpec{Name: "endpoints:read", Description: "See endpoints.", Roles: []string{rbac.RoleDeveloper, rbac.RoleDeveloperReadOnly}},
		rbac.PermissionSpec{Name: "endpoints:write", Description: "Create and delete endpoints.", Roles: []string{rbac.RoleDeveloper}},
		rbac.PermissionSpec{Name: "logs:export", Roles: []string{rbac.RoleDeveloper}, Feature: featureExport},
	)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestRegisteredPermission: an embedder's permission is granted by the built-in roles its
// spec lists (Developer here), always by Administrator, by a custom role that includes it,
// and to nobody else; a Feature gates it on the plan; Check of it stays allocation-free.
func TestRegisteredPermission(t *testing.T) {
	exporter := identity.Plan{Name: "exporter", Features: []identity.Feature{identity.FeatureRBAC, identity.FeatureBotUsers, identity.FeatureCustomRoles, featureExport}}
	ps := embedder(t)
	e := newEnvWith(t, []identity.Plan{exporter}, rbac.WithPermissions(ps))
	write, err := e.Authz.Permission("endpoints:write")
	if err != nil {
		t.Fatal(err)
	}
	read, _ := e.Authz.Permission("endpoints:read")
	export, _ := e.Authz.Permission("logs:export")
	if _, err := e.Authz.Permission("endpoints:fly"); store.CodeOf(err) != rbac.CodeUnknownPermission {
		t.Fatalf("unknown permission: %v", err)
	}
	if e.Authz.Permissions() != ps || ps.Name(write) != "endpoints:write" || ps.Feature(export) != featureExport {
		t.Fatal("the Authorizer's registry is not the one given")
	}

	_, admin := e.Account("admin@example.com", "enterprise")
	deployerRole, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "deployer", Permissions: []rbac.Permission{write, rbac.EventsRead}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(deployerRole.Permissions, "endpoints:write") {
		t.Fatalf("the custom role stores %v", deployerRole.Permissions)
	}
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)
	ro := e.Member(admin, "ro@example.com", rbac.RoleDeveloperReadOnly)
	tm := e.Member(admin, "tm@example.com", rbac.RoleTeamManager)
	deployer := e.Member(admin, "deployer@example.com", deployerRole.ID)
	bot := e.bot(admin, "ci") // acts as a developer
	for _, c := range []struct {
		who  string
		p    identity.Principal
		perm rbac.Permission
		role string // "": denied
	}{
		{"administrator", admin, write, rbac.RoleAdministrator},
		{"developer", dev, write, rbac.RoleDeveloper},
		{"developer", dev, read, rbac.RoleDeveloper},
		{"read-only developer", ro, write, ""},
		{"read-only developer", ro, read, rbac.RoleDeveloperReadOnly},
		{"team manager", tm, write, ""},
		{"team manager", tm, read, ""},
		{"custom role", deployer, write, deployerRole.ID},
		{"custom role", deployer, read, ""},
		{"bot user", bot, write, rbac.RoleDeveloper},
	} {
		d := e.check(c.p, c.perm)
		if d.Allowed != (c.role != "") || d.Allowed && d.Role != c.role || !d.Allowed && d.Reason != rbac.ReasonNoRole {
			t.Errorf("%s %s: %v, want role %q", c.who, d.Name, d, c.role)
		}
	}
	// A registered permission's Feature gates it like a built-in's.
	if d := e.check(dev, export); d.Allowed || d.Reason != rbac.ReasonNotInPlan {
		t.Errorf("logs:export on enterprise: %v", d)
	}
	_, exAdmin := e.Account("ex@example.com", "exporter")
	exDev := e.Member(exAdmin, "exdev@example.com", rbac.RoleDeveloper)
	if d := e.check(exDev, export); !d.Allowed {
		t.Errorf("logs:export on a plan with export: %v", d)
	}
	// Warm, a Check of a registered permission is a bit test like any other.
	e.run()
	e.check(dev, write)
	if n := testing.AllocsPerRun(1000, func() { e.Authz.Check(e.Ctx, dev, write) }); n != 0 {
		t.Errorf("warm Check of a registered permission allocates %v times", n)
	}
	if d := e.check(deployer, rbac.EventsRead); !d.Allowed {
		t.Errorf("custom role's built-in permission: %v", d)
	}
}

// TestNewPermissions_Validation: a bad spec is refused with the field that names it.
func TestNewPermissions_Validation(t *testing.T) {
	for _, c := range []struct {
		name  string
		specs []rbac.PermissionSpec
		field string
	}{
		{"empty name", []rbac.PermissionSpec{{Name: ""}}, "permissions[0].name"},
		{"no action", []rbac.PermissionSpec{{Name: "endpoints"}}, "permissions[0].name"},
		{"upper case", []rbac.PermissionSpec{{Name: "Endpoints:read"}}, "permissions[0].name"},
		{"two colons", []rbac.PermissionSpec{{Name: "a:b:c"}}, "permissions[0].name"},
		{"space", []rbac.PermissionSpec{{Name: "end points:read"}}, "permissions[0].name"},
		{"leading digit", []rbac.PermissionSpec{{Name: "1x:read"}}, "permissions[0].name"},
		{"too long", []rbac.PermissionSpec{{Name: "x:" + strings.Repeat("a", rbac.MaxPermissionNameLen)}}, "permissions[0].name"},
		{"a built-in's name", []rbac.PermissionSpec{{Name: "credentials:read"}}, "permissions[0].name"},
		{"twice", []rbac.PermissionSpec{{Name: "x:read"}, {Name: "x:read"}}, "permissions[1].name"},
		{"not a built-in role", []rbac.PermissionSpec{{Name: "x:read", Roles: []string{"role_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"}}}, "permissions[0].roles[0]"},
		{"bidi description", []rbac.PermissionSpec{{Name: "x:read", Description: "\u202e"}}, "permissions[0].description"},
	} {
		ps, err := rbac.NewPermissions(c.specs...)
		if ps != nil || invalidField(err) != c.field {
			t.Errorf("%s: %v, %v; want an invalid-argument error on %s", c.name, ps, err, c.field)
		}
	}
	nBuiltins := len(builtins(t).All())
	var max []rbac.PermissionSpec
	for i := range rbac.MaxPermissions - nBuiltins {
		max = append(max, rbac.PermissionSpec{Name: fmt.Sprintf("r%d:act", i)})
	}
	ps, err := rbac.NewPermissions(max...)
	if err != nil || len(ps.All()) != rbac.MaxPermissions {
		t.Fatalf("%d specs: %v", len(max), err)
	}
	last, err := ps.Lookup(max[len(max)-1].Name)
	if err != nil || int(last) != rbac.MaxPermissions || !ps.AllSet().Has(last) {
		t.Fatalf("the last permission: %d, %v", last, err)
	}
	_, err = rbac.NewPermissions(append(max, rbac.PermissionSpec{Name: "one:more"})...)
	var se *store.Error
	if !errors.As(err, &se) || se.Field != "permissions" || se.Limit != rbac.MaxPermissions-nBuiltins {
		t.Fatalf("one too many: %v", err)
	}
}

// TestSet_Bounds: a Set holds permissions 1 to MaxPermissions, across its words.
func TestSet_Bounds(t *testing.T) {
	top := rbac.Permission(rbac.MaxPermissions)
	s := rbac.SetOf(1, 64, 65, top, 0)
	if s.Len() != 4 || !s.Has(1) || !s.Has(64) || !s.Has(65) || !s.Has(top) || s.Has(0) || s.Has(2) || s.Has(66) {
		t.Fatalf("Set %v", s.Permissions())
	}
	if !slices.Equal(s.Permissions(), []rbac.Permission{1, 64, 65, top}) {
		t.Fatalf("Permissions = %v", s.Permissions())
	}
	if !s.Covers(rbac.SetOf(64, top)) || s.Covers(rbac.SetOf(2)) || !s.Minus(s).IsEmpty() || s.Without(65).Has(65) {
		t.Fatal("set algebra")
	}
}

// FuzzPermissionName: whatever NewPermissions accepts as a name is resource:action in the
// documented alphabet and round-trips through Lookup and Name; it never panics.
func FuzzPermissionName(f *testing.F) {
	for _, s := range []string{"endpoints:write", "a:b", "credentials:read", "", ":", "a:", ":b", "A:b", "a:b:c", "a_1:b_2", "é:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ps, err := rbac.NewPermissions(rbac.PermissionSpec{Name: name})
		if err != nil {
			if invalidField(err) == "" {
				t.Fatalf("%q: %v is not an invalid-argument error", name, err)
			}
			return
		}
		res, act, ok := strings.Cut(name, ":")
		if !ok || res == "" || act == "" || strings.Contains(act, ":") || len(name) > rbac.MaxPermissionNameLen ||
			strings.ContainsFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == ':') }) {
			t.Fatalf("accepted %q", name)
		}
		p, err := ps.Lookup(name)
		if err != nil || ps.Name(p) != name || len(ps.All()) != len(builtins(t).All())+1 {
			t.Fatalf("%q: Lookup = %v, %v", name, p, err)
		}
	})
}

// TestRoles_ReadNeedsRolesRead: Role and Roles are authorized like writes: roles:read.
func TestRoles_ReadNeedsRolesRead(t *testing.T) {
	e := newEnv(t)
	_, admin := e.Account("admin@example.com", "enterprise")
	role, err := e.Authz.CreateRole(e.Ctx, admin, rbac.RoleSpec{Name: "auditor", Permissions: []rbac.Permission{rbac.EventsRead}})
	if err != nil {
		t.Fatal(err)
	}
	reader := e.Member(admin, "team@example.com", rbac.RoleTeamReadOnly) // roles:read
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper)        // no roles:read
	for _, p := range []identity.Principal{admin, reader} {
		if _, err := e.Authz.Role(e.Ctx, p, role.ID); err != nil {
			t.Errorf("Role by %s: %v", p.Subject, err)
		}
		if rs, err := e.Authz.Roles(e.Ctx, p, store.Page{Limit: 10}); err != nil || len(rs) != 1 {
			t.Errorf("Roles by %s: %d, %v", p.Subject, len(rs), err)
		}
	}
	_, err = e.Authz.Role(e.Ctx, dev, role.ID)
	if code, perm := denial(err); code != rbac.CodeNoRole || perm != "roles:read" {
		t.Errorf("Role by a developer: %v", err)
	}
	_, err = e.Authz.Roles(e.Ctx, dev, store.Page{Limit: 10})
	if code, perm := denial(err); code != rbac.CodeNoRole || perm != "roles:read" {
		t.Errorf("Roles by a developer: %v", err)
	}
}

// TestRoleObject_IsTheAPIResource checks a custom role's public representation.
func TestRoleObject_IsTheAPIResource(t *testing.T) {
	obj := rbac.RoleObjectOf(store.Role{ID: "role_1", AccountID: "ac_1", Name: "r", Permissions: []string{"events:read"}, CreatedAt: epoch})
	got, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"role_1","name":"r","permissions":["events:read"],"created_at":"2025-01-02T03:04:05Z"}`
	if string(got) != want || obj.Resource() != identity.ResourceRole {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestNew_RefusesMissingParts: the constructor validates instead of panicking.
func TestNew_RefusesMissingParts(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		field string
		new   func() (*rbac.Authorizer, error)
	}{
		{"store", func() (*rbac.Authorizer, error) { return rbac.New(nil, e.Plans) }},
		{"plans", func() (*rbac.Authorizer, error) { return rbac.New(e.Store, nil) }},
		{"clock", func() (*rbac.Authorizer, error) { return rbac.New(e.Store, e.Plans, rbac.WithClock(nil)) }},
		{"max_staleness", func() (*rbac.Authorizer, error) { return rbac.New(e.Store, e.Plans, rbac.WithMaxStaleness(0)) }},
	} {
		if a, err := c.new(); a != nil || invalidField(err) != c.field {
			t.Errorf("New without %s: %v, %v", c.field, a, err)
		}
	}
}
