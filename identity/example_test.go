package identity_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// An administrator invites a colleague with preset roles. The invitation's token goes to the
// invited address, and only there (by email); the colleague, who has no user yet, accepts
// with it. A token works once.
func Example_inviteAndAccept() {
	ctx := context.Background()
	st, err := memstore.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	authz, _ := rbac.New(st, plans) // the plan catalog is passed once, here
	dir, _ := identity.New(st, authz)

	founder, _ := dir.CreateUser(ctx, "ada@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, founder.ID, "Analytical Engines", identity.PayAsYouGo().Name)
	ada, _ := dir.Principal(ctx, acct.ID, founder.ID, identity.SourceDashboard, "")

	inv, err := dir.Invite(ctx, ada, "Charles@Example.com", []string{rbac.RoleDeveloper, rbac.RoleTeamInvite})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("invited:", inv.Email, inv.Roles, "token:", inv.Token)

	seats, _ := dir.Seats(ctx, ada)
	fmt.Printf("seats: %d of %d\n", seats.Used(), seats.Limit)

	token := inv.Token.Reveal() // what the invitation email carries
	m, err := dir.AcceptInvitationToken(ctx, token, "Charles", identity.SourceDashboard)
	if err != nil {
		fmt.Println(err)
		return
	}
	charles, _ := dir.User(ctx, ada, m.UserID)
	fmt.Println("member:", charles.Email, charles.Name, m.Status, m.Roles)

	_, err = dir.AcceptInvitationToken(ctx, token, "Eve", identity.SourceDashboard)
	fmt.Println("token used again:", errors.Is(err, store.ErrNotFound))

	// The audit log, as the administrator may read it (rbac filters it per reader).
	page, _ := authz.Events(ctx, ada, store.Page{Limit: 2})
	for _, ev := range page.Events {
		fmt.Println("event:", ev.Type, "by", ev.Principal.Subject)
	}
	// Output:
	// invited: charles@example.com [developer team_invite] token: [REDACTED]
	// seats: 2 of 5
	// member: charles@example.com Charles active [developer team_invite]
	// token used again: true
	// event: member_created.v0 by charles@example.com
	// event: invitation_accepted.v0 by charles@example.com
}
