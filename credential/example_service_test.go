package credential_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// Issue an authtoken for a bot user, then verify it as a tunnel edge would: the token is
// shown once, and the verifier answers whose it is and what its ACL allows.
func ExampleService_Create() {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz := rbac.New(st, plans)
	dir := identity.New(st, plans, authz)

	ada, _ := dir.CreateUser(ctx, "ada@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, ada.ID, "acme", identity.PayAsYouGo().Name)
	admin, _ := dir.Principal(ctx, acct.ID, ada.ID, identity.SourceSDK, "")
	bot, _ := botuser.New(st, authz).Create(ctx, admin, acct.ID, botuser.CreateParams{Name: "ci"})

	creds := credential.NewService(st, authz)
	issued, err := creds.Create(ctx, admin, credential.CreateRequest{
		Kind:    store.Authtoken,
		OwnerID: bot.ID,
		ACL:     []string{"bind:*.ci.example.com"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("printed:", issued.Token)

	v := credential.NewVerifier(st)
	go v.Run(ctx)
	res, err := v.Verify(ctx, store.Authtoken, issued.Token.Reveal())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("owner is the bot:", res.OwnerID == bot.ID)
	fmt.Println("may bind build-7.ci.example.com:", res.ACL.AllowsBind("build-7.ci.example.com"))
	fmt.Println("may bind example.com:", res.ACL.AllowsBind("example.com"))
	// Output:
	// printed: [REDACTED]
	// owner is the bot: true
	// may bind build-7.ci.example.com: true
	// may bind example.com: false
}

// Deactivating the owner suspends its credentials; the verifier says why it rejects.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz := rbac.New(st, plans)
	dir := identity.New(st, plans, authz)
	ada, _ := dir.CreateUser(ctx, "ada@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, ada.ID, "acme", identity.PayAsYouGo().Name)
	admin, _ := dir.Principal(ctx, acct.ID, ada.ID, identity.SourceSDK, "")
	bots := botuser.New(st, authz)
	bot, _ := bots.Create(ctx, admin, acct.ID, botuser.CreateParams{Name: "ci"})
	issued, _ := credential.NewService(st, authz).Create(ctx, admin, credential.CreateRequest{Kind: store.APIKey, OwnerID: bot.ID})

	v := credential.NewVerifier(st)
	go v.Run(ctx)
	_, err := v.Verify(ctx, store.APIKey, issued.Token.Reveal())
	fmt.Println("active bot:", err)

	inactive := false
	bots.Update(ctx, admin, acct.ID, bot.ID, botuser.UpdateParams{Active: &inactive})
	v.Sync(ctx) // make the next Verify see the change at once
	_, err = v.Verify(ctx, store.APIKey, issued.Token.Reveal())
	fmt.Println("inactive bot:", err, errors.Is(err, credential.ReasonOwnerInactive))

	_, err = v.Verify(ctx, store.APIKey, "iak_not-a-token")
	fmt.Println("garbage:", err)
	// Output:
	// active bot: <nil>
	// inactive bot: credential: rejected: owner_inactive true
	// garbage: credential: rejected: malformed
}
