package oidctest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ErrInvalid is matched by the errors of Launch, AddUser and AddClient for a user or client
// that lacks a required field or repeats another's identifier.
var ErrInvalid = errors.New("oidctest: invalid user or client")

// ScopeGroups is the scope that releases the groups claim.
const ScopeGroups = "groups"

// User is a person who can sign in at the provider.
type User struct {
	// Subject is the sub claim. Required, unique among the provider's users.
	Subject string
	// Username is what the login form takes; when empty the user signs in with Email. The
	// login name must be unique among the provider's users.
	Username string
	// Password is what the login form takes with the login name. Required.
	Password string
	// Email and EmailVerified are the email and email_verified claims (scope email).
	Email         string
	EmailVerified bool
	// Name is the name claim (scope profile).
	Name string
	// Groups is the groups claim (scope groups).
	Groups []string
}

// String describes the user without the password.
func (u User) String() string {
	return fmt.Sprintf("oidctest.User{Subject:%q Login:%q Email:%q EmailVerified:%v Name:%q Groups:%q}",
		u.Subject, u.login(), u.Email, u.EmailVerified, u.Name, u.Groups)
}

func (u User) login() string {
	if u.Username != "" {
		return u.Username
	}
	return u.Email
}

// Client is a relying party registered at the provider.
type Client struct {
	// ID is the client_id. Required, unique among the provider's clients.
	ID string
	// Secret is the client_secret. Required: clients are confidential.
	Secret string
	// RedirectURIs are the absolute http or https URLs the provider may redirect to, matched
	// exactly. At least one is required.
	RedirectURIs []string
}

// String describes the client without the secret.
func (c Client) String() string {
	return fmt.Sprintf("oidctest.Client{ID:%q RedirectURIs:%q}", c.ID, c.RedirectURIs)
}

// Options configures Start and Launch.
type Options struct {
	// Users can sign in from the start.
	Users []User
	// Clients are registered from the start.
	Clients []Client
}

// Provider is an OpenID Connect provider listening on 127.0.0.1.
type Provider struct {
	// Issuer is the issuer URL, http://127.0.0.1:port, with no trailing slash. Discovery is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string

	store *storage
	srv   *http.Server
	done  chan struct{}
}

// Start returns a provider for t, closed when t ends; it fails t on an invalid option.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	p, err := Launch(opts)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Launch is Start for callers without a testing.TB, such as TestMain. The caller must Close
// the provider.
func Launch(opts Options) (*Provider, error) {
	store, err := newStorage()
	if err != nil {
		return nil, err
	}
	for _, u := range opts.Users {
		if err := store.addUser(u); err != nil {
			return nil, err
		}
	}
	for _, c := range opts.Clients {
		if err := store.addClient(c); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oidctest: listen: %w", err)
	}
	p := &Provider{Issuer: "http://" + l.Addr().String(), store: store, done: make(chan struct{})}
	handler, err := p.handler()
	if err != nil {
		l.Close()
		return nil, err
	}
	p.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(l)
	}()
	return p, nil
}

// handler routes the login page and the provider's own endpoints.
func (p *Provider) handler() (http.Handler, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	config := &op.Config{
		CryptoKey:          key,
		CodeMethodS256:     true,
		AuthMethodPost:     true,
		SupportedScopes:    []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile, ScopeGroups},
		SupportedClaims:    []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash", "email", "email_verified", "name", "preferred_username", "groups"},
		SupportedUILocales: nil,
	}
	provider, err := op.NewProvider(config, p.store, op.StaticIssuer(p.Issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	login := &loginPage{store: p.store, callback: op.AuthCallbackURL(provider)}
	mux := http.NewServeMux()
	mux.Handle(loginPath, op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler(login))
	mux.Handle("/", provider)
	return mux, nil
}

// Close stops the provider, closing its connections.
func (p *Provider) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		_ = p.srv.Close()
	}
	<-p.done
}

// DiscoveryURL returns the URL of the provider's discovery document.
func (p *Provider) DiscoveryURL() string { return p.Issuer + oidc.DiscoveryEndpoint }

// LoginURL returns the URL of the login page (the form's action).
func (p *Provider) LoginURL() string { return p.Issuer + loginPath }

// AddUser lets one more user sign in.
func (p *Provider) AddUser(u User) error { return p.store.addUser(u) }

// SetUser replaces the user with u's Subject (its login, password and claims), as an
// administrator changing a person at the provider would: tokens issued from then on carry
// the new claims. It is safe for concurrent use.
func (p *Provider) SetUser(u User) error { return p.store.setUser(u) }

// AddClient registers one more client.
func (p *Provider) AddClient(c Client) error { return p.store.addClient(c) }

// checkUser refuses a user without the fields the provider needs.
func checkUser(u User) error {
	switch {
	case strings.TrimSpace(u.Subject) == "":
		return fmt.Errorf("%w: User.Subject is required", ErrInvalid)
	case u.login() == "":
		return fmt.Errorf("%w: user %q: User.Username or User.Email is required (the login name)", ErrInvalid, u.Subject)
	case u.Password == "":
		return fmt.Errorf("%w: user %q: User.Password is required", ErrInvalid, u.Subject)
	}
	return nil
}

// checkClient refuses a client without the fields the provider needs.
func checkClient(c Client) error {
	switch {
	case c.ID == "":
		return fmt.Errorf("%w: Client.ID is required", ErrInvalid)
	case c.Secret == "":
		return fmt.Errorf("%w: client %q: Client.Secret is required (clients are confidential)", ErrInvalid, c.ID)
	case len(c.RedirectURIs) == 0:
		return fmt.Errorf("%w: client %q: Client.RedirectURIs needs at least one URL", ErrInvalid, c.ID)
	}
	for _, r := range c.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("%w: client %q: Client.RedirectURIs: %q is not an absolute http(s) URL without a fragment", ErrInvalid, c.ID, r)
		}
	}
	return nil
}
