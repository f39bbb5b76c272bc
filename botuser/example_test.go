package botuser_test

import (
	"context"
	"fmt"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// Create a bot user, then deactivate it: its credentials stop working at once, and come
// back when it is reactivated.
func Example_createAndDeactivate() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz, _ := rbac.New(st, plans)
	dir, _ := identity.New(st, authz)
	bots, _ := botuser.New(st, authz)

	u, _ := dir.CreateUser(ctx, "ops@example.com", "")
	acct, _ := dir.CreateAccount(ctx, u.ID, "Ops", "payg")
	admin, _ := dir.Principal(ctx, acct.ID, u.ID, identity.SourceAPI, "")

	bot, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "deploy-bot"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", bot.Name, "active:", bot.Active)

	// The bot acts as a developer, and can never log into the dashboard.
	p, _ := dir.Principal(ctx, acct.ID, bot.ID, identity.SourceAPI, "")
	d, _ := authz.Check(ctx, p, rbac.CredentialsWrite)
	fmt.Println(d)
	fmt.Println("dashboard:", botuser.CanLogIn(p))

	ownerState := func() store.OwnerState {
		var s store.OwnerState
		st.View(ctx, func(r store.Reader) error {
			s, _ = r.OwnerState(ctx, acct.ID, bot.ID)
			return nil
		})
		return s
	}
	off := false
	bot, _ = bots.Update(ctx, admin, bot.ID, botuser.UpdateParams{Active: &off})
	fmt.Println("active:", bot.Active, "credentials' owner:", ownerState())

	on := true
	bot, _ = bots.Update(ctx, admin, bot.ID, botuser.UpdateParams{Active: &on})
	fmt.Println("active:", bot.Active, "credentials' owner:", ownerState())
	// Output:
	// created: deploy-bot active: true
	// allow credentials:write (role developer)
	// dashboard: bot users cannot log into the dashboard
	// active: false credentials' owner: inactive
	// active: true credentials' owner: active
}
