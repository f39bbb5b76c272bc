package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// demo is an account with an administrator and a bot user, for the in-memory mode (and the
// tests).
type demo struct {
	admin     identity.Principal
	accountID string
	bot       store.BotUser
	bots      *botuser.Service
	creds     *credential.Service
}

func newDemo(ctx context.Context, st store.Store) (*demo, error) {
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		return nil, err
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		return nil, err
	}
	dir, err := identity.New(st, authz)
	if err != nil {
		return nil, err
	}
	u, err := dir.CreateUser(ctx, "demo@example.com", "Demo")
	if err != nil {
		return nil, err
	}
	acct, err := dir.CreateAccount(ctx, u.ID, "demo", identity.PayAsYouGo().Name)
	if err != nil {
		return nil, err
	}
	admin, err := dir.Principal(ctx, acct.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		return nil, err
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		return nil, err
	}
	bot, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "demo-ssh"})
	if err != nil {
		return nil, err
	}
	creds, err := credential.NewService(st, authz)
	if err != nil {
		return nil, err
	}
	return &demo{admin: admin, accountID: acct.ID, bot: bot, bots: bots, creds: creds}, nil
}

// registerKey makes an authorized_keys line an SSH credential of the bot user.
func (d *demo) registerKey(ctx context.Context, authorizedKey string, acl []string) (credential.Issued, error) {
	return d.creds.Create(ctx, d.admin, credential.CreateRequest{
		Kind:        store.SSHCredential,
		OwnerID:     d.bot.ID,
		Description: "sshedge demo",
		PublicKey:   authorizedKey,
		ACL:         acl,
	})
}

// seedDemo registers the public key in keyPath for a demo bot user and prints how to log in.
func seedDemo(ctx context.Context, st store.Store, keyPath string, acl []string, addr string, out io.Writer) error {
	line, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	d, err := newDemo(ctx, st)
	if err != nil {
		return err
	}
	cred, err := d.registerKey(ctx, string(line), acl)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "registered %s as SSH credential %s of bot user %s (%s) in account %s, ACL %q\n",
		cred.Fingerprint, cred.ID, d.bot.Name, d.bot.ID, d.accountID, acl)
	fmt.Fprintf(out, "log in with:\n\n    ssh -p %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null x@%s\n\n", port, host)
	return nil
}
