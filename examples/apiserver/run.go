package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/examples/internal/promserve"
	"github.com/iamkit/iamkit/examples/internal/serve"
	"github.com/iamkit/iamkit/examples/internal/storeopen"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
)

// config is what the command line sets.
type config struct {
	addr          string
	store         string // a storeopen spec: -store, or its alias -redis
	baseURL       string
	bootstrapJSON string
	adminEmail    string
	tunnelAddr    string
	metricsAddr   string
	scanKeys      string // GitHub's secret-scanning key document, a file
	// webhookLoopback lets event destinations post to loopback receivers (local testing).
	webhookLoopback bool
	dnsServer       string
	// apiRate is the Enterprise plan's API rate (-api-rate), retention the audit retention
	// of every account (-audit-retention).
	apiRate   store.Rate
	retention rbac.Retention
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	stores := storeopen.AddFlags(fs, "to keep state in, which edges and other API servers may share")
	fs.StringVar(&cfg.baseURL, "base-url", "", "external base URL of the API for the \"uri\" fields and SSO (default: http:// and the listen address; never taken from a request)")
	fs.StringVar(&cfg.bootstrapJSON, "bootstrap-json", "", "when bootstrapping makes an API key, also write {account_id, admin_user_id, api_key} to this file (mode 0600)")
	fs.StringVar(&cfg.adminEmail, "admin-email", "admin@example.com", "email of the administrator of the account bootstrapped on an empty store")
	addTunnelFlag(fs, &cfg)
	addLimitFlags(fs, &cfg)
	fs.StringVar(&cfg.scanKeys, "github-scanning-keys", "", "accept GitHub secret-scanning reports at POST /github/secret_scanning, signed with a key of this file (GitHub's document from https://api.github.com/meta/public_keys/secret_scanning; default: off)")
	fs.BoolVar(&cfg.webhookLoopback, "webhook-loopback", false, "let event destinations post to loopback addresses (http://127.0.0.1:...), for trying audit streaming locally")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve iamkit's metrics for Prometheus at http://<this address>/metrics (default: off), e.g. 127.0.0.1:9464")
	fs.StringVar(&cfg.dnsServer, "dns-server", "", "host:port of the DNS server that verifies accounts' domains (default: the system's resolver)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if cfg.store, err = stores.Spec(); err != nil {
		return config{}, err
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

	st, closeStore, err := storeopen.Open(ctx, cfg.store)
	if err != nil {
		return err
	}
	defer closeStore()
	plans, err := identity.NewCatalog(examplePlansWith(cfg.apiRate)...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := cfg.baseURL
	if base == "" {
		base = "http://" + ln.Addr().String()
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			logger.Warn("listening on every interface: the links in responses name the unspecified address; set -base-url to the one clients use", "base_url", base)
		}
	}

	opts := []iamkit.Option{iamkit.WithAuditRetention(cfg.retention)}
	if cfg.webhookLoopback {
		opts = append(opts, iamkit.WithAuditStreaming(eventstream.WithLoopback()))
	}
	var metricsURL string
	if cfg.metricsAddr != "" {
		ms, err := promserve.Start(cfg.metricsAddr, logger)
		if err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		defer ms.Close(context.WithoutCancel(ctx))
		opts, metricsURL = append(opts, iamkit.WithMeterProvider(ms.Provider)), ms.URL
	}
	if cfg.scanKeys != "" {
		opt, err := secretScanning(cfg.scanKeys, logger)
		if err != nil {
			return fmt.Errorf("-github-scanning-keys: %w", err)
		}
		opts = append(opts, opt)
	}
	if cfg.dnsServer != "" {
		opts = append(opts, iamkit.WithSSOOptions(sso.WithResolver(resolverAt(cfg.dnsServer))))
	}
	iam, ssoBase, err := newIAM(st, plans, base, logger, opts...)
	if err != nil {
		return err
	}
	// The caches follow the store's change feed, and the purger deletes the credentials of
	// removed owners, until Close, which runs before the store closes.
	if err := iam.Start(ctx); err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := iam.Close(closeCtx); err != nil {
			logger.Error("iamkit stopped", "err", err)
		}
	}()

	b, err := iam.Bootstrap(ctx, bootstrapSpec(cfg.adminEmail))
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	boot := resultOf(b)
	if boot.APIKey != "" && cfg.bootstrapJSON != "" {
		if err := writeBootstrapJSON(cfg.bootstrapJSON, boot); err != nil {
			return err
		}
	}

	// Requests and the tunnel edge run in the background context, which ends after the
	// server has shut down.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	tunnelAddr, stopTunnel, err := startTunnel(bg, cfg, iam.Verifier(), logger)
	if err != nil {
		return err
	}
	defer stopTunnel()
	handler, err := newServer(deps{IAM: iam, SSOBaseURL: ssoBase, Logger: logger, BaseURL: base})
	if err != nil {
		return err
	}
	printBanner(stdout, base, tunnelAddr, metricsURL, cfg, boot)

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
	return serve.Run(ctx, srv, ln, "", "", logger)
}

// secretScanning is the option that accepts GitHub's secret-scanning reports signed with a
// key of the document in file; the owner of each revoked credential is "told" in the log.
func secretScanning(file string, logger *slog.Logger) (iamkit.Option, error) {
	doc, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	keys, err := credential.ParseGitHubKeys(doc)
	if err != nil {
		return nil, err
	}
	return iamkit.WithGitHubSecretScanning(keys, leakLogger(logger)), nil
}

// leakLogger is the LeakNotifier of this server: a real one would email the owner.
func leakLogger(logger *slog.Logger) credential.LeakNotifier {
	return func(ctx context.Context, n credential.LeakNotice) error {
		logger.WarnContext(ctx, "credential revoked: its token was found in public", "account_id", n.AccountID,
			"owner_id", n.OwnerID, "credential_id", n.CredentialID, "url", n.URL, "source", n.Source)
		return nil
	}
}

// examplePlans are the plans accounts of this server may be on: iamkit's Free, Pay-as-you-go
// and Enterprise. The API allows Free and Pay-as-you-go ngrok's 120 requests per 60 s per
// account, Enterprise ten times as many.
func examplePlans() []identity.Plan { return examplePlansWith(defaultEnterpriseAPIRate()) }

// examplePlansWith is examplePlans with the Enterprise plan's API rate set to enterpriseRate
// (-api-rate).
func examplePlansWith(enterpriseRate store.Rate) []identity.Plan {
	enterprise := identity.Enterprise()
	enterprise.APIRate = enterpriseRate
	return []identity.Plan{identity.Free(), identity.PayAsYouGo(), enterprise}
}

// newIAM builds the library over st, for accounts on plans, with its HTTP layer writing
// ngrok's error body, and with SSO under base when the sso package accepts base (https, or
// http on loopback); on any other base SSO is left out, with a warning. Dashboard sessions are
// signed with a key made here, so they end when the process does. It returns the SSO base
// ("" without SSO). opts come first: the server's own options override them.
func newIAM(st store.Store, plans *identity.Catalog, base string, logger *slog.Logger, opts ...iamkit.Option) (*iamkit.IAM, string, error) {
	perms, err := rbac.NewPermissions(scim.PermissionSpec())
	if err != nil {
		return nil, "", err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("sso: session key: %w", err)
	}
	// Audit streaming is always on; options given in opts (loopback receivers) add to it.
	opts = append([]iamkit.Option{iamkit.WithAuditStreaming()}, opts...)
	opts = append(opts, iamkit.WithLogger(logger), iamkit.WithPermissions(perms),
		iamkit.WithErrorFormat(ngrokErrors{perms: perms, log: logger}.write))
	iam, err := iamkit.New(st, plans, append(opts, iamkit.WithSSO(base, key))...)
	var se *store.Error
	if errors.As(err, &se) && se.Code == sso.CodeConfigInvalid && se.Field == "base_url" {
		logger.Warn("SSO disabled: set -base-url to the server's https URL to enable it", "base_url", base, "err", err)
		iam, err = iamkit.New(st, plans, opts...)
		return iam, "", err
	}
	return iam, base, err
}

// resolverAt is Go's resolver asking the DNS server at addr (host:port) only.
func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func printBanner(w io.Writer, base, tunnelAddr, metricsURL string, cfg config, boot bootstrapResult) {
	fmt.Fprintf(w, "iamkit apiserver listening on %s\n", base)
	if tunnelAddr != "" {
		fmt.Fprintf(w, "tunnel edge listening on %s\n", tunnelAddr)
	}
	if metricsURL != "" {
		fmt.Fprintf(w, "metrics for Prometheus at %s\n", metricsURL)
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
