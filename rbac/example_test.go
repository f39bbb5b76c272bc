package rbac_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// Check a permission: a deny is a Decision with a reason; Require makes it an error.
func Example_check() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz, _ := rbac.New(st, plans)
	feed, stop := context.WithCancel(ctx)
	defer stop()
	go authz.Run(feed) // follow the change feed so warm checks come from memory

	dir, _ := identity.New(st, authz)
	founder, _ := dir.CreateUser(ctx, "ada@example.com", "")
	acct, _ := dir.CreateAccount(ctx, founder.ID, "Analytical Engines", "payg")
	ada, _ := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceDashboard, "")
	u, _ := dir.CreateUser(ctx, "charles@example.com", "")
	dir.AddMember(ctx, ada, u.ID, []string{rbac.RoleDeveloper})
	charles, _ := dir.Principal(ctx, acct.ID, u.ID, identity.SourceAPI, "")

	d, _ := authz.Check(ctx, charles, rbac.CredentialsWrite)
	fmt.Println(d)
	d, _ = authz.Check(ctx, charles, rbac.MembersInvite)
	fmt.Println(d)
	d, _ = authz.Check(ctx, ada, rbac.SSOManage)
	fmt.Println(d)

	err := authz.Require(ctx, charles, rbac.BillingRead)
	fmt.Println(errors.Is(err, store.ErrDenied), store.CodeOf(err))
	// Output:
	// allow credentials:write (role developer)
	// deny members:invite: no role of the principal grants it
	// deny sso:manage: the account's plan does not include it
	// true no_role
}

// Register the embedder's own permissions: developers may write endpoints, every member who
// sees credentials may read them.
func Example_registeredPermissions() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	perms, err := rbac.NewPermissions(
		rbac.PermissionSpec{Name: "endpoints:read", Description: "See endpoints.", Roles: []string{rbac.RoleDeveloper, rbac.RoleDeveloperReadOnly}},
		rbac.PermissionSpec{Name: "endpoints:write", Description: "Create and delete endpoints.", Roles: []string{rbac.RoleDeveloper}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz, _ := rbac.New(st, plans, rbac.WithPermissions(perms))
	dir, _ := identity.New(st, authz)
	founder, _ := dir.CreateUser(ctx, "ada@example.com", "")
	acct, _ := dir.CreateAccount(ctx, founder.ID, "Analytical Engines", "payg")
	ada, _ := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceDashboard, "")
	u, _ := dir.CreateUser(ctx, "charles@example.com", "")
	dir.AddMember(ctx, ada, u.ID, []string{rbac.RoleDeveloperReadOnly})
	charles, _ := dir.Principal(ctx, acct.ID, u.ID, identity.SourceAPI, "")

	write, _ := authz.Permission("endpoints:write") // look it up once
	read, _ := authz.Permission("endpoints:read")
	for _, p := range []identity.Principal{ada, charles} {
		w, _ := authz.Check(ctx, p, write)
		r, _ := authz.Check(ctx, p, read)
		fmt.Println(p.Subject, w, "|", r)
	}
	// Output:
	// ada@example.com allow endpoints:write (role admin) | allow endpoints:read (role admin)
	// charles@example.com deny endpoints:write: no role of the principal grants it | allow endpoints:read (role developer_read_only)
}
