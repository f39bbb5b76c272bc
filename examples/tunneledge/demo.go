package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// seedDemo creates, in an empty in-memory store, an account with a bot user owning an
// authtoken with the given ACL, and prints the token (once, to out: not to the log) with the
// command that opens a session with it.
func seedDemo(ctx context.Context, st store.Store, acl []string, addr string, out io.Writer) error {
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		return err
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		return err
	}
	dir, err := identity.New(st, authz)
	if err != nil {
		return err
	}
	u, err := dir.CreateUser(ctx, "demo@example.com", "Demo")
	if err != nil {
		return err
	}
	acct, err := dir.CreateAccount(ctx, u.ID, "demo", identity.PayAsYouGo().Name)
	if err != nil {
		return err
	}
	admin, err := dir.Principal(ctx, acct.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		return err
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		return err
	}
	bot, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "demo-agent"})
	if err != nil {
		return err
	}
	creds, err := credential.NewService(st, authz)
	if err != nil {
		return err
	}
	issued, err := creds.Create(ctx, admin, credential.CreateRequest{
		Kind:        store.Authtoken,
		OwnerID:     bot.ID,
		Description: "tunneledge demo",
		ACL:         acl,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "demo account %s, bot user %s (%s)\n", acct.ID, bot.Name, bot.ID)
	fmt.Fprintf(out, "demo authtoken %s, ACL %q (shown once):\n\n    %s\n\n", issued.ID, acl, issued.Token.Reveal())
	fmt.Fprintf(out, "open a session with it:\n\n    %s=%s go run ./examples/tunneledge -agent -addr %s -bind %s\n\n",
		tokenEnv, issued.Token.Reveal(), addr, exampleTarget(acl))
	return nil
}

// exampleTarget returns a bind target the ACL allows, to print in the demo's instructions.
func exampleTarget(acl []string) string {
	for _, rule := range acl {
		target, ok := strings.CutPrefix(rule, "bind:")
		switch {
		case !ok || target == "*":
		case strings.HasPrefix(target, "*."):
			return "app" + target[1:]
		case strings.Contains(target, "=") && strings.Contains(target, "*"):
		default:
			return target
		}
	}
	return "app.demo.example.com"
}
