package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iamkit/iamkit/examples/internal/storeopen"

	"golang.org/x/sync/errgroup"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
)

// tokenEnv is the environment variable the agent mode reads its authtoken (or access token)
// from: not a flag, so that the token stays out of the process list.
const tokenEnv = "IAMKIT_AUTHTOKEN"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "tunneledge:", err)
		os.Exit(1)
	}
}

// run runs the command with the given arguments until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tunneledge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:4443", "address to listen on (with -agent: the edge to dial)")
	stores := storeopen.AddFlags(fs, "to share with the API server (default: in memory, with a demo account)")
	acl := fs.String("acl", "bind:*.demo.example.com", "comma-separated ACL of the demo authtoken (in-memory mode only)")
	interval := fs.Duration("check-interval", tunnel.DefaultCheckInterval, "how often open sessions are re-verified")
	agent := fs.Bool("agent", false, "act as an agent: open a session with the authtoken in $"+tokenEnv)
	bind := fs.String("bind", "app.demo.example.com", "with -agent: the endpoint to bind")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed
		}
		return err
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))

	if *agent {
		return runAgent(ctx, *addr, os.Getenv(tokenEnv), *bind, stdout)
	}

	spec, err := stores.Spec()
	if err != nil {
		return err
	}
	st, closeStore, err := storeopen.Open(ctx, spec)
	if err != nil {
		return err
	}
	defer closeStore()
	if storeopen.InMemory(spec) {
		if err := seedDemo(ctx, st, splitList(*acl), *addr, stdout); err != nil {
			return fmt.Errorf("demo account: %w", err)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The Authorizer tells the Verifier whether an access token's owner may still start
	// agents (tunnel:start); its plans are the API server's.
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		return err
	}
	authz, err := rbac.New(st, plans, rbac.WithLogger(log))
	if err != nil {
		return err
	}
	v, err := credential.NewVerifier(st, credential.WithLogger(log), credential.WithAuthorizer(authz))
	if err != nil {
		return err
	}
	srv := tunnel.New(v, tunnel.WithLogger(log), tunnel.WithCheckInterval(*interval))

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := v.Run(ctx); ctx.Err() == nil {
			return fmt.Errorf("verifier stopped: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := authz.Run(ctx); ctx.Err() == nil {
			return fmt.Errorf("authorizer stopped: %w", err)
		}
		return nil
	})
	g.Go(func() error { return srv.Serve(ctx, ln) })
	err = g.Wait()
	log.Info("tunnel edge stopped")
	return err
}

// runAgent opens a session for bind and waits for the edge to end it.
func runAgent(ctx context.Context, addr, token, bind string, out io.Writer) error {
	if token == "" {
		return fmt.Errorf("set %s to an authtoken", tokenEnv)
	}
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s, err := tunnel.Dial(dialCtx, addr, tunnel.Request{Authtoken: token, Bind: bind})
	cancel()
	if err != nil {
		return fmt.Errorf("no session: %w", err)
	}
	defer s.Close()
	fmt.Fprintf(out, "session open: bind %s, account %s, credential %s, owner %s (Ctrl-C to hang up)\n",
		bind, s.Response.AccountID, s.Response.CredentialID, s.Response.OwnerID)

	hangUp := context.AfterFunc(ctx, func() { s.Close() })
	defer hangUp()
	err = s.Wait()
	var closed *tunnel.Error
	switch {
	case errors.As(err, &closed):
		fmt.Fprintf(out, "session closed by the edge: %s: %s\n", closed.Code, closed.Msg)
		return nil
	case ctx.Err() != nil:
		fmt.Fprintln(out, "hung up")
		return nil
	default:
		return fmt.Errorf("session lost: %w", err)
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
