package identity_test

import (
	"context"
	"fmt"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// An administrator invites a colleague with preset roles; the colleague signs up with the
// invited email and accepts.
func Example_inviteAndAccept() {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	authz := rbac.New(st, plans)
	dir := identity.New(st, plans, authz)

	founder, _ := dir.CreateUser(ctx, "ada@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, founder.ID, "Analytical Engines", identity.PayAsYouGo().Name)
	ada, _ := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceDashboard, "")

	inv, err := dir.Invite(ctx, ada, acct.ID, "Charles@Example.com", []string{rbac.RoleDeveloper, rbac.RoleTeamInvite})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("invited:", inv.Email, inv.Roles)

	seats, _ := dir.Seats(ctx, acct.ID)
	fmt.Printf("seats: %d of %d\n", seats.Used(), seats.Limit)

	// Someone with another email cannot use the invitation.
	eve, _ := dir.CreateUser(ctx, "eve@example.com", "")
	_, err = dir.AcceptInvitation(ctx, inv.ID, eve.ID, identity.SourceDashboard)
	fmt.Println("eve:", err)

	charles, _ := dir.CreateUser(ctx, "charles@example.com", "Charles")
	m, err := dir.AcceptInvitation(ctx, inv.ID, charles.ID, identity.SourceDashboard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("member:", m.Status, m.Roles)

	// The audit log, as the administrator may read it (rbac filters it per reader).
	page, _ := authz.Events(ctx, ada, acct.ID, store.Page{Limit: 2})
	for _, ev := range page.Events {
		fmt.Println("event:", ev.Type, "by", ev.Principal.Subject)
	}
	// Output:
	// invited: charles@example.com [developer team_invite]
	// seats: 2 of 5
	// eve: email does not match the invitation
	// member: active [developer team_invite]
	// event: member_created.v0 by charles@example.com
	// event: invitation_accepted.v0 by charles@example.com
}
