package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Getenv("REDIS_ADDR")); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// run is the whole service: an account and its administrator, an HTTP endpoint that takes a
// bearer API key holding the service's own permission, and a TCP listener that takes a bot
// user's authtoken, refused once the bot user is deactivated. It keeps its state in Redis at
// redisAddr, or in memory when that is empty.
func run(ctx context.Context, out io.Writer, redisAddr string) error {
	st, err := openStore(ctx, redisAddr)
	if err != nil {
		return err
	}
	defer st.Close()
	perms, err := rbac.NewPermissions(rbac.PermissionSpec{Name: "reports:read", Roles: []string{rbac.RoleDeveloper}})
	if err != nil {
		return err
	}
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		return err
	}
	iam, err := iamkit.New(st, plans, iamkit.WithPermissions(perms))
	if err != nil {
		return err
	}
	if err := iam.Start(ctx); err != nil {
		return err
	}
	defer iam.Close(ctx)
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
		Plan: identity.PayAsYouGo().Name, AdminEmail: "admin@acme.test", APIKey: true})
	if err != nil {
		return err
	}
	reportsRead, err := iam.Authorizer().Permission("reports:read")
	if err != nil {
		return err
	}

	// The HTTP API: GET /reports needs an API key whose owner may read reports.
	mux := http.NewServeMux()
	mux.Handle("GET /reports", iam.Protect(reportsRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := iamkit.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "reports for %s\n", p.Subject)
	})))
	api, err := serve(mux)
	if err != nil {
		return err
	}
	defer api.Close()
	fmt.Fprint(out, "GET /reports: ", get("http://"+api.Addr+"/reports", boot.APIKey.Token.Reveal()))

	// The TCP listener: an agent sends its authtoken on the first line.
	bot, err := iam.BotUsers().Create(ctx, boot.Admin, botuser.CreateParams{Name: "ci"})
	if err != nil {
		return err
	}
	tok, err := iam.Credentials().Create(ctx, boot.Admin, credential.CreateRequest{Kind: store.Authtoken, OwnerID: bot.ID})
	if err != nil {
		return err
	}
	agents, err := listen(func(token string) string {
		p, err := iam.Authenticate(ctx, token)
		if err != nil {
			return "refused: " + store.CodeOf(err)
		}
		return "welcome, " + p.Subject
	})
	if err != nil {
		return err
	}
	defer agents.Close()
	fmt.Fprintln(out, "agent:", dial(agents.Addr().String(), tok.Token.Reveal()))

	off := false
	if _, err := iam.BotUsers().Update(ctx, boot.Admin, bot.ID, botuser.UpdateParams{Active: &off}); err != nil {
		return err
	}
	if err := iam.Sync(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "agent after deactivation:", dial(agents.Addr().String(), tok.Token.Reveal()))
	return nil
}

// openStore opens Redis at addr, or a store in memory when addr is empty.
func openStore(ctx context.Context, addr string) (store.Store, error) {
	if addr == "" {
		return memstore.New()
	}
	return redisstore.New(ctx, redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}),
		redisstore.WithPrefix("embed:"+strings.ReplaceAll(addr, ":", "-")))
}

// What follows is plain Go: an HTTP server, a client request, a line-based TCP listener.

func serve(h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: h}
	go srv.Serve(ln)
	return srv, nil
}

func get(url, token string) string {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error() + "\n"
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

func listen(greet func(token string) string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintln(c, greet(strings.TrimSpace(line)))
			}()
		}
	}()
	return ln, nil
}

func dial(addr, token string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	fmt.Fprintln(c, token)
	reply, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(reply)
}
