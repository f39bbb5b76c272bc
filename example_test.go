package iamkit_test

import (
	"context"
	"fmt"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// The whole lifecycle: build, start, bootstrap an account, authenticate its API key and
// authorize the caller, close.
func ExampleNew() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	iam, err := iamkit.New(st, plans)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := iam.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer iam.Close(ctx)

	boot, _ := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: "payg", AdminEmail: "ada@acme.test", APIKey: true})
	p, err := iam.Authenticate(ctx, boot.APIKey.Token.Reveal())
	fmt.Println(p.Subject, p.Kind, err)
	fmt.Println(iam.Require(ctx, p, rbac.BotUsersWrite))
	// Output:
	// ada@acme.test user <nil>
	// <nil>
}

// Authenticate refuses a token whose owner was deactivated, once the change has reached the
// caches (Sync), and says why with a stable code.
func ExampleIAM_Authenticate() {
	ctx := context.Background()
	st, _ := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	iam, _ := iamkit.New(st, plans)
	_ = iam.Start(ctx)
	defer iam.Close(ctx)
	boot, _ := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: "payg", AdminEmail: "ada@acme.test"})
	bot, _ := iam.BotUsers().Create(ctx, boot.Admin, botuser.CreateParams{Name: "deployer"})
	key, _ := iam.Credentials().Create(ctx, boot.Admin, credentialFor(bot.ID))

	p, err := iam.Authenticate(ctx, key.Token.Reveal())
	fmt.Println(p.Subject, err)

	off := false
	_, _ = iam.BotUsers().Update(ctx, boot.Admin, bot.ID, botuser.UpdateParams{Active: &off})
	_ = iam.Sync(ctx)
	_, err = iam.Authenticate(ctx, key.Token.Reveal())
	fmt.Println(store.CodeOf(err))
	// Output:
	// deployer <nil>
	// owner_inactive
}

func credentialFor(ownerID string) credential.CreateRequest {
	return credential.CreateRequest{Kind: store.APIKey, OwnerID: ownerID}
}
