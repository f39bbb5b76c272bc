package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iamkit/iamkit/examples/internal/storeopen"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// config is what the command line sets.
type config struct {
	addr          string
	redis         string
	baseURL       string
	bootstrapJSON string
	adminEmail    string
	tunnelAddr    string
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.redis, "redis", "", "Redis to keep state in instead of memory: a redis:// URL, or a comma-separated list of Redis Cluster node addresses (host:port,host:port)")
	fs.StringVar(&cfg.baseURL, "base-url", "", "external base URL of the API for the \"uri\" fields and SSO (default: http:// and the listen address; never taken from a request)")
	fs.StringVar(&cfg.bootstrapJSON, "bootstrap-json", "", "when bootstrapping an empty store, also write {account_id, admin_user_id, api_key} to this file (mode 0600)")
	fs.StringVar(&cfg.adminEmail, "admin-email", "admin@example.com", "email of the administrator created on an empty store")
	addTunnelFlag(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg.baseURL = strings.TrimRight(cfg.baseURL, "/")
	if cfg.baseURL != "" {
		if err := checkBaseURL(cfg.baseURL); err != nil {
			return config{}, fmt.Errorf("-base-url: %w", err)
		}
	}
	return cfg, nil
}

// run starts the API server and serves until ctx is done, then shuts down gracefully.
// The bootstrap banner and the log go to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))

	st, closeStore, err := storeopen.Open(ctx, cfg.redis)
	if err != nil {
		return err
	}
	defer closeStore()

	plans, err := identity.NewCatalog(examplePlans()...)
	if err != nil {
		return err
	}
	d, err := newDeps(st, plans, logger)
	if err != nil {
		return err
	}
	authz, verifier := d.Authz, d.Verifier

	// The caches follow the store's change feed until the server has shut down.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopBackground(); wg.Wait() }()
	follow := func(name string, run func(context.Context) error) {
		wg.Go(func() {
			if err := run(bg); err != nil && bg.Err() == nil {
				logger.Error("change feed follower stopped", "follower", name, "err", err)
			}
		})
	}
	follow("authorizer", authz.Run)
	follow("verifier", verifier.Run)
	// Deleting a bot user or removing a member leaves its credentials to the purger, which
	// deletes them in batches with their *_deleted events (they are refused from the
	// deletion on).
	follow("purger", d.Purger.Run)

	boot, err := bootstrap(ctx, d.Dir, d.Creds, cfg.adminEmail)
	if err != nil {
		return err
	}
	if boot.APIKey != "" && cfg.bootstrapJSON != "" {
		if err := writeBootstrapJSON(cfg.bootstrapJSON, boot); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	base := cfg.baseURL
	if base == "" {
		base = "http://" + ln.Addr().String()
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			logger.Warn("listening on every interface: the links in responses name the unspecified address; set -base-url to the one clients use", "base_url", base)
		}
	}
	d.BaseURL = base
	if d.SSO, err = newSSODeps(st, authz, base, logger); err != nil {
		ln.Close()
		return err
	}
	tunnelAddr, stopTunnel, err := startTunnel(bg, cfg, verifier, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopTunnel()
	handler, err := newServer(d)
	if err != nil {
		ln.Close()
		return err
	}
	printBanner(stdout, base, tunnelAddr, cfg, boot)

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// The API refuses requests over maxRequestHeaderBytes in JSON: http.Server's own
		// plain-text 431 must come later. OPTIONS * goes to the API too (a JSON 404).
		MaxHeaderBytes:               serverMaxHeaderBytes,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests keep running through a shutdown; they end with the background context.
		BaseContext: func(net.Listener) context.Context { return bg },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-served
	verifier.FlushUsage(shutdownCtx)
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// examplePlans are the plans accounts of this server may be on: iamkit's Free, Pay-as-you-go
// and Enterprise.
func examplePlans() []identity.Plan {
	return []identity.Plan{identity.Free(), identity.PayAsYouGo(), identity.Enterprise()}
}

// newDeps builds the library services over st, for accounts on plans.
func newDeps(st store.Store, plans *identity.Catalog, logger *slog.Logger) (deps, error) {
	d := deps{Logger: logger}
	var err error
	if d.Authz, err = rbac.New(st, plans, rbac.WithLogger(logger)); err != nil {
		return deps{}, err
	}
	if d.Dir, err = identity.New(st, d.Authz, identity.WithLogger(logger)); err != nil {
		return deps{}, err
	}
	if d.Bots, err = botuser.New(st, d.Authz, botuser.WithLogger(logger)); err != nil {
		return deps{}, err
	}
	if d.Creds, err = credential.NewService(st, d.Authz, credential.WithLogger(logger)); err != nil {
		return deps{}, err
	}
	if d.Verifier, err = credential.NewVerifier(st, credential.WithLogger(logger)); err != nil {
		return deps{}, err
	}
	if d.Purger, err = credential.NewPurger(st, credential.WithLogger(logger)); err != nil {
		return deps{}, err
	}
	return d, nil
}

func printBanner(w io.Writer, base, tunnelAddr string, cfg config, boot bootstrapResult) {
	fmt.Fprintf(w, "iamkit apiserver listening on %s\n", base)
	if tunnelAddr != "" {
		fmt.Fprintf(w, "tunnel edge listening on %s\n", tunnelAddr)
	}
	if boot.APIKey == "" {
		fmt.Fprintf(w, "Store already bootstrapped: account %s, administrator %s (%s). Use an API key you saved.\n",
			boot.AccountID, boot.AdminUserID, cfg.adminEmail)
		return
	}
	fmt.Fprintf(w, "Bootstrapped account %s (enterprise plan) with administrator %s (%s).\n", boot.AccountID, boot.AdminUserID, cfg.adminEmail)
	fmt.Fprintf(w, "Its first API key, shown this once:\n\n    %s\n\n", boot.APIKey)
	fmt.Fprintf(w, "Try:\n\n    curl -H \"Authorization: Bearer %s\" -H \"Ngrok-Version: 2\" %s/bot_users\n\n", boot.APIKey, base)
	if cfg.bootstrapJSON != "" {
		fmt.Fprintf(w, "Also written to %s.\n", cfg.bootstrapJSON)
	}
}
