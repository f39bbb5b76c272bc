package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	st, err := memstore.New()
	if err != nil {
		return err
	}
	defer st.Close() // also stops the verifier's Run below
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		return err
	}
	authz, err := rbac.New(st, plans) // the plan catalog is passed once, here
	if err != nil {
		return err
	}
	dir, err := identity.New(st, authz)
	if err != nil {
		return err
	}
	ada, err := dir.CreateUser(ctx, "ada@example.com", "Ada")
	if err != nil {
		return err
	}
	acct, err := dir.CreateAccount(ctx, ada.ID, "acme", identity.PayAsYouGo().Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1. account %q on plan %q, administered by %s\n", acct.Name, acct.Plan, ada.Email)
	admin, err := dir.Principal(ctx, acct.ID, ada.ID, identity.SourceSDK, "")
	if err != nil {
		return err
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		return err
	}
	bot, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "ci"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "2. bot user %q, active: %v\n", bot.Name, bot.Active)
	creds, err := credential.NewService(st, authz)
	if err != nil {
		return err
	}
	issued, err := creds.Create(ctx, admin, credential.CreateRequest{
		Kind: store.Authtoken, OwnerID: bot.ID, ACL: []string{"bind:*.ci.example.com"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "3. authtoken for the bot, ACL %q, printed as %v (Reveal() gives it, once)\n", issued.ACL, issued.Token)
	v, err := credential.NewVerifier(st)
	if err != nil {
		return err
	}
	go v.Run(ctx)
	res, err := v.VerifyToken(ctx, issued.Token.Reveal()) // the kind comes from the token's prefix
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "4. verified: owner is the bot %q: %v, may bind api.ci.example.com: %v, example.com: %v\n",
		res.Subject, res.OwnerID == bot.ID && res.OwnerBot, res.ACL.AllowsBind("api.ci.example.com"), res.ACL.AllowsBind("example.com"))
	if _, err := bots.Update(ctx, admin, bot.ID, botuser.UpdateParams{Active: new(false)}); err != nil {
		return err
	}
	fmt.Fprintln(w, "5. bot user deactivated")
	if err := v.Sync(ctx); err != nil { // read-your-writes: the next Verify sees the change
		return err
	}
	_, err = v.Verify(ctx, store.Authtoken, issued.Token.Reveal())
	fmt.Fprintf(w, "6. verified again: refused, code %s (unauthenticated: %v)\n", store.CodeOf(err), errors.Is(err, store.ErrUnauthenticated))
	return nil
}
