package rbac_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store/memstore"
)

// Check a permission: a deny is a Decision with a reason; Require makes it an error.
func Example_check() {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz := rbac.New(st, plans)
	feed, stop := context.WithCancel(ctx)
	defer stop()
	go authz.Run(feed) // follow the change feed so warm checks come from memory

	dir := identity.New(st, plans, authz)
	founder, _ := dir.CreateUser(ctx, "ada@example.com", "")
	acct, _ := dir.CreateAccount(ctx, founder.ID, "Analytical Engines", "payg")
	ada, _ := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceDashboard, "")
	u, _ := dir.CreateUser(ctx, "charles@example.com", "")
	dir.AddMember(ctx, ada, acct.ID, u.ID, []string{rbac.RoleDeveloper})
	charles, _ := dir.Principal(ctx, acct.ID, u.ID, identity.SourceAPI, "")

	d, _ := authz.Check(ctx, charles, acct.ID, rbac.CredentialsWrite)
	fmt.Println(d)
	d, _ = authz.Check(ctx, charles, acct.ID, rbac.MembersInvite)
	fmt.Println(d)
	d, _ = authz.Check(ctx, ada, acct.ID, rbac.SSOManage)
	fmt.Println(d)

	err := authz.Require(ctx, charles, acct.ID, rbac.BillingRead)
	fmt.Println(errors.Is(err, rbac.ErrDenied))
	// Output:
	// allow credentials:write (role developer)
	// deny members:invite: no role of the principal grants it
	// deny sso:manage: the account's plan does not include it
	// true
}
