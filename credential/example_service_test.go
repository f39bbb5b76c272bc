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

// services wires the library on a memstore, as an embedder does (errors left out: an
// example's inputs are valid).
func services() (store.Store, *identity.Directory, *botuser.Service, *credential.Service) {
	st, _ := memstore.New()
	plans, _ := identity.NewCatalog(identity.PayAsYouGo())
	authz, _ := rbac.New(st, plans) // the catalog is passed once, here
	dir, _ := identity.New(st, authz)
	bots, _ := botuser.New(st, authz)
	creds, _ := credential.NewService(st, authz)
	return st, dir, bots, creds
}

// Issue an authtoken for a bot user, then verify it as a tunnel edge would: the token is
// shown once, and the verifier answers whose it is, what its ACL allows and who acts with
// it, without another store read.
func ExampleService_Create() {
	ctx := context.Background()
	st, dir, bots, creds := services()
	defer st.Close()

	ada, _ := dir.CreateUser(ctx, "ada@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, ada.ID, "acme", identity.PayAsYouGo().Name)
	admin, _ := dir.Principal(ctx, acct.ID, ada.ID, identity.SourceSDK, "")
	bot, _ := bots.Create(ctx, admin, botuser.CreateParams{Name: "ci"})

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

	v, _ := credential.NewVerifier(st)
	go v.Run(ctx)
	res, err := v.Verify(ctx, store.Authtoken, issued.Token.Reveal())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("owner is the bot:", res.OwnerID == bot.ID)
	fmt.Println("may bind build-7.ci.example.com:", res.ACL.AllowsBind("build-7.ci.example.com"))
	fmt.Println("may bind example.com:", res.ACL.AllowsBind("example.com"))
	p := res.Principal(identity.SourceAPI)
	fmt.Println("acts as:", p.Kind, p.Subject)
	// Output:
	// printed: [REDACTED]
	// owner is the bot: true
	// may bind build-7.ci.example.com: true
	// may bind example.com: false
	// acts as: bot_user ci
}

// Deactivating the owner suspends its credentials; the verifier says why it rejects.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	st, dir, bots, creds := services()
	defer st.Close()
	ada, _ := dir.CreateUser(ctx, "ada@example.com", "Ada")
	acct, _ := dir.CreateAccount(ctx, ada.ID, "acme", identity.PayAsYouGo().Name)
	admin, _ := dir.Principal(ctx, acct.ID, ada.ID, identity.SourceSDK, "")
	bot, _ := bots.Create(ctx, admin, botuser.CreateParams{Name: "ci"})
	issued, _ := creds.Create(ctx, admin, credential.CreateRequest{Kind: store.APIKey, OwnerID: bot.ID})

	v, _ := credential.NewVerifier(st)
	go v.Run(ctx)
	_, err := v.Verify(ctx, store.APIKey, issued.Token.Reveal())
	fmt.Println("active bot:", err)

	inactive := false
	bots.Update(ctx, admin, bot.ID, botuser.UpdateParams{Active: &inactive})
	v.Sync(ctx) // make the next Verify see the change at once
	_, err = v.Verify(ctx, store.APIKey, issued.Token.Reveal())
	fmt.Println("inactive bot:", err, errors.Is(err, credential.ReasonOwnerInactive), store.CodeOf(err))

	_, err = v.Verify(ctx, store.APIKey, "iak_not-a-token")
	fmt.Println("garbage:", err, errors.Is(err, store.ErrUnauthenticated))
	// Output:
	// active bot: <nil>
	// inactive bot: credential: rejected: owner_inactive true owner_inactive
	// garbage: credential: rejected: malformed true
}
