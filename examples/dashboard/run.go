package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/examples/internal/promserve"
	"github.com/iamkit/iamkit/examples/internal/serve"
	"github.com/iamkit/iamkit/examples/internal/storeopen"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// config is what the command line sets.
type config struct {
	addr, store, baseURL, adminEmail string
	tlsCert, tlsKey                  string
	secretKeyFile, mailDir           string
	metricsAddr                      string
	dnsServer                        string
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8090", "address to listen on")
	stores := storeopen.AddFlags(fs, "to keep state in, which the API server and the edges may share")
	fs.StringVar(&cfg.baseURL, "base-url", "", "external base URL of the dashboard, the origin of its links and of the SAML endpoints (default: http:// or https:// and the listen address); https, or http on loopback")
	fs.StringVar(&cfg.adminEmail, "admin-email", "admin@example.com", "email of the administrator of the account bootstrapped on an empty store")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve https with this certificate (PEM), with -tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the private key (PEM) of -tls-cert")
	fs.StringVar(&cfg.secretKeyFile, "secret-key-file", "", "file holding the 32-byte key (hex or base64) that seals TOTP secrets in the store; default: a key made at start, so that enrolled authenticator apps stop working at the next start")
	fs.StringVar(&cfg.mailDir, "mail-dir", "", "directory to write mail (invitations, password resets) to, instead of sending it (default: a new temporary directory)")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve iamkit's metrics for Prometheus at http://<this address>/metrics (default: off), e.g. 127.0.0.1:9465")
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
	if _, err := storeopen.Parse(cfg.store); err != nil {
		return config{}, fmt.Errorf("-store: %w", err)
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return config{}, errors.New("-tls-cert and -tls-key go together")
	}
	cfg.baseURL = strings.TrimRight(cfg.baseURL, "/")
	return cfg, nil
}

// run starts the dashboard and serves until ctx is done, then shuts down gracefully. The
// banner and the log go to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	key, err := secretKey(cfg.secretKeyFile)
	if err != nil {
		return err
	}
	if cfg.secretKeyFile == "" && !storeopen.InMemory(cfg.store) {
		logger.Warn("no -secret-key-file: TOTP secrets enrolled now will not work after a restart")
	}
	st, closeStore, err := storeopen.Open(ctx, cfg.store)
	if err != nil {
		return err
	}
	defer closeStore()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := cfg.baseURL
	if base == "" {
		scheme := "http"
		if cfg.tlsCert != "" {
			scheme = "https"
		}
		base = scheme + "://" + ln.Addr().String()
	}
	mailDir := cfg.mailDir
	if mailDir == "" {
		if mailDir, err = os.MkdirTemp("", "iamkit-dashboard-mail-"); err != nil {
			return err
		}
	}
	mailer, err := newDirMailer(mailDir, logger)
	if err != nil {
		return err
	}

	var options []iamkit.Option
	var metricsURL string
	if cfg.metricsAddr != "" {
		ms, err := promserve.Start(cfg.metricsAddr, logger)
		if err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		defer ms.Close(context.WithoutCancel(ctx))
		options, metricsURL = append(options, iamkit.WithMeterProvider(ms.Provider)), ms.URL
	}

	ac := appConfig{Store: st, BaseURL: base, Mailer: mailer, Logger: logger, SecretKey: key, AdminEmail: cfg.adminEmail, Options: options}
	if cfg.dnsServer != "" {
		ac.Resolver = resolverAt(cfg.dnsServer)
	}
	a, err := newApp(ctx, ac)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := a.IAM.Close(closeCtx); err != nil {
			logger.Error("iamkit stopped", "err", err)
		}
	}()
	link, linkErr := a.adminPasswordLink(ctx)
	printBanner(stdout, base, cfg, a, link, linkErr, mailDir, metricsURL)

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return bg },
	}
	return serve.Run(ctx, srv, ln, cfg.tlsCert, cfg.tlsKey, logger)
}

// secretKey reads the TOTP sealing key from path (hex or base64 of 32 bytes), or makes one.
func secretKey(path string) ([]byte, error) {
	if path == "" {
		k := make([]byte, sso.SecretKeyLen)
		_, err := rand.Read(k)
		return k, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-secret-key-file: %w", err)
	}
	k, err := parseSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("-secret-key-file: %w", err)
	}
	return k, nil
}

// errSecretKey refuses a key file that does not hold a key.
var errSecretKey = fmt.Errorf("want %d bytes in hex or base64 (such as the output of: openssl rand -hex 32)", sso.SecretKeyLen)

// parseSecretKey reads a key written in hex or base64, around which spaces and newlines are
// ignored.
func parseSecretKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, decode := range []func(string) ([]byte, error){hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString} {
		if k, err := decode(text); err == nil && len(k) == sso.SecretKeyLen {
			return k, nil
		}
	}
	return nil, errSecretKey
}

// appConfig is what newApp builds the dashboard from.
type appConfig struct {
	Store      store.Store
	BaseURL    string
	Mailer     Mailer
	Logger     *slog.Logger
	SecretKey  []byte
	AdminEmail string
	// Dashboard options after the dashboard's own (tests make password hashing cheap).
	Dashboard []sso.DashboardOption
	// Options for iamkit.New after the dashboard's own (a meter provider).
	Options []iamkit.Option
	// Resolver looks up the TXT records that verify domains (default: the system's).
	Resolver sso.Resolver
}

// app is the library, started, with the bootstrapped account and the dashboard's handler.
type app struct {
	IAM     *iamkit.IAM
	Handler http.Handler
	Boot    iamkit.Bootstrapped
	cfg     appConfig
}

// accountKey is the key of the account the dashboard bootstraps (iamkit.BootstrapSpec).
const accountKey = "dashboard"

// newApp builds the library over the store with SSO and dashboard sign-in under the base URL,
// starts it, bootstraps an account and its administrator, and builds the dashboard. The
// caller closes the IAM.
func newApp(ctx context.Context, c appConfig) (*app, error) {
	plans, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		return nil, err
	}
	// The SAML service provider needs a key for the stateless sessions it can also issue;
	// the dashboard uses server-side sessions only, so a key made here does.
	_, jwtKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	opts := append([]sso.DashboardOption{sso.WithSecretKey(c.SecretKey), sso.WithTOTPIssuer("iamkit dashboard")}, c.Dashboard...)
	iamOpts := []iamkit.Option{iamkit.WithLogger(c.Logger), iamkit.WithSSO(c.BaseURL, jwtKey), iamkit.WithDashboard(opts...)}
	if c.Resolver != nil {
		iamOpts = append(iamOpts, iamkit.WithSSOOptions(sso.WithResolver(c.Resolver)))
	}
	iam, err := iamkit.New(c.Store, plans, append(iamOpts, c.Options...)...)
	var se *store.Error
	if errors.As(err, &se) && se.Field == "base_url" {
		return nil, fmt.Errorf("-base-url %q: single sign-on needs an https URL (http only on a loopback address): %w", c.BaseURL, err)
	}
	if err != nil {
		return nil, err
	}
	if err := iam.Start(ctx); err != nil {
		return nil, err
	}
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{
		AccountKey: accountKey, AccountName: "Example", Plan: identity.Enterprise().Name,
		AdminEmail: c.AdminEmail, AdminName: "Administrator",
	})
	if err != nil {
		iam.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	h, err := newServer(deps{IAM: iam, BaseURL: c.BaseURL, Mailer: c.Mailer, FallbackAccount: boot.Account.ID, Logger: c.Logger})
	if err != nil {
		iam.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return &app{IAM: iam, Handler: h, Boot: boot, cfg: c}, nil
}

// adminPasswordLink returns a link that lets the bootstrapped administrator choose a
// password, when they have none yet (on the first start); "" when they have one.
func (a *app) adminPasswordLink(ctx context.Context) (string, error) {
	var secrets store.UserSecrets
	err := a.IAM.Store().View(ctx, func(r store.Reader) error {
		var err error
		secrets, err = r.UserSecrets(ctx, a.Boot.Admin.ID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if secrets.PasswordHash != "" {
		return "", nil
	}
	pr, err := a.IAM.Dashboard().RequestPasswordReset(ctx, a.Boot.Account.ID, a.Boot.Admin.Subject, sso.Client{})
	if err != nil {
		return "", err
	}
	if pr.Token.IsZero() {
		return "", errors.New("the administrator may not use a password (single sign-on is enforced): sign in through the account's identity provider")
	}
	return a.cfg.BaseURL + "/reset?" + url.Values{"token": {pr.Token.Reveal()}}.Encode(), nil
}

func printBanner(w io.Writer, base string, cfg config, a *app, link string, linkErr error, mailDir, metricsURL string) {
	fmt.Fprintf(w, "iamkit dashboard listening on %s\n", base)
	if storeopen.InMemory(cfg.store) {
		fmt.Fprintln(w, "Store: in memory; everything is lost when the process stops (-store keeps it in Redis or PostgreSQL).")
	}
	acct := a.Boot.Account
	if a.Boot.Created {
		fmt.Fprintf(w, "Bootstrapped account %q (%s) on the %s plan, with administrator %s.\n", acct.Name, acct.ID, acct.Plan, a.Boot.Admin.Subject)
	} else {
		fmt.Fprintf(w, "Store already bootstrapped: account %q (%s), administrator %s.\n", acct.Name, acct.ID, a.Boot.Admin.Subject)
	}
	switch {
	case linkErr != nil:
		fmt.Fprintf(w, "Could not make a link to set the administrator's password: %v\n", linkErr)
	case link != "":
		fmt.Fprintf(w, "Choose the administrator's password within the hour with this link, shown this once:\n\n    %s\n\n", link)
	}
	fmt.Fprintf(w, "Sign in at %s/login\n", base)
	fmt.Fprintf(w, "Mail (invitations, password resets) is written to %s instead of being sent.\n", mailDir)
	if metricsURL != "" {
		fmt.Fprintf(w, "iamkit's metrics for Prometheus at %s\n", metricsURL)
	}
}

// resolverAt is Go's resolver asking the DNS server at addr (host:port) only.
func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}
