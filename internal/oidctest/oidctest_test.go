package oidctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

var ada = User{
	Subject: "u-1001", Username: "ada", Password: "correct horse", Email: "ada@example.com",
	EmailVerified: true, Name: "Ada Lovelace", Groups: []string{"admins", "devs"},
}

// app is the relying party of a test: an HTTP server whose /callback records what the
// provider redirects back with.
type app struct {
	srv      *httptest.Server
	callback chan url.Values
}

func newApp(t *testing.T) *app {
	a := &app{callback: make(chan url.Values, 1)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		a.callback <- r.URL.Query()
		io.WriteString(w, "signed in")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) redirectURI() string { return a.srv.URL + "/callback" }

// wait returns the query of the next request to the callback, failing t when none comes
// before ctx ends.
func (a *app) wait(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	select {
	case q := <-a.callback:
		return q
	case <-ctx.Done():
		t.Fatal("the provider never redirected to the app's callback")
		return nil
	}
}

// setup starts a provider with ada and a client for a fresh app, and returns the oauth2
// configuration of that client, from discovery.
func setup(t *testing.T) (*Provider, *app, *oauth2.Config, *gooidc.Provider) {
	t.Helper()
	a := newApp(t)
	p := Start(t, Options{Users: []User{ada}})
	if err := p.AddClient(Client{ID: "dashboard", Secret: "client-secret", RedirectURIs: []string{a.redirectURI()}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	disc, err := gooidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := &oauth2.Config{
		ClientID: "dashboard", ClientSecret: "client-secret", Endpoint: disc.Endpoint(),
		RedirectURL: a.redirectURI(), Scopes: []string{gooidc.ScopeOpenID, "email", "profile", ScopeGroups},
	}
	return p, a, cfg, disc
}

func TestDiscovery(t *testing.T) {
	p, _, _, _ := setup(t)
	resp, err := http.Get(p.DiscoveryURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		TokenEndpoint         string   `json:"token_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		ScopesSupported       []string `json:"scopes_supported"`
		ClaimsSupported       []string `json:"claims_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
		SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != p.Issuer {
		t.Errorf("issuer %q, want %q", doc.Issuer, p.Issuer)
	}
	for name, u := range map[string]string{"authorization": doc.AuthorizationEndpoint, "token": doc.TokenEndpoint, "jwks": doc.JWKSURI} {
		if !strings.HasPrefix(u, p.Issuer+"/") {
			t.Errorf("%s endpoint %q is not under the issuer", name, u)
		}
	}
	wantAll := map[string]struct{ got, want []string }{
		"scopes":         {doc.ScopesSupported, []string{"openid", "email", "profile", "groups"}},
		"claims":         {doc.ClaimsSupported, []string{"sub", "email", "email_verified", "name", "groups", "nonce"}},
		"PKCE methods":   {doc.CodeChallengeMethods, []string{"S256"}},
		"response types": {doc.ResponseTypes, []string{"code"}},
		"auth methods":   {doc.TokenAuthMethods, []string{"client_secret_basic", "client_secret_post"}},
		"signing algs":   {doc.SigningAlgs, []string{"RS256"}},
	}
	for name, c := range wantAll {
		for _, w := range c.want {
			if !slices.Contains(c.got, w) {
				t.Errorf("%s %q lack %q", name, c.got, w)
			}
		}
	}
}

// TestCodeFlowWithPKCE signs ada in the way a browser would, with Go's HTTP client following
// the redirects and posting the login form, then exchanges the code with the PKCE verifier and
// verifies the ID token with go-oidc.
func TestCodeFlowWithPKCE(t *testing.T) {
	for _, style := range []struct {
		name string
		auth oauth2.AuthStyle
	}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
		t.Run(style.name, func(t *testing.T) {
			p, a, cfg, disc := setup(t)
			cfg.Endpoint.AuthStyle = style.auth
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			verifier, state, nonce := oauth2.GenerateVerifier(), "state-"+randomID(), "nonce-"+randomID()

			b := newBrowser(t)
			form := b.get(ctx, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)))
			if form.action != p.LoginURL() {
				t.Fatalf("login form posts to %q, want %q", form.action, p.LoginURL())
			}
			form.values.Set("username", ada.Username)
			form.values.Set("password", ada.Password)
			status, body := b.post(ctx, form)
			if status != http.StatusOK || body != "signed in" {
				t.Fatalf("after the login form: %d %q, want the app's callback page", status, body)
			}
			got := a.wait(t, ctx)
			if got.Get("state") != state || got.Get("code") == "" {
				t.Fatalf("callback %v, want a code and state %q", got, state)
			}

			tok, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := disc.Verifier(&gooidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("verifying the ID token: %v", err)
			}
			if idt.Nonce != nonce || idt.Subject != ada.Subject || idt.Issuer != p.Issuer {
				t.Errorf("ID token nonce %q sub %q iss %q, want %q %q %q", idt.Nonce, idt.Subject, idt.Issuer, nonce, ada.Subject, p.Issuer)
			}
			var claims struct {
				Email         string   `json:"email"`
				EmailVerified bool     `json:"email_verified"`
				Name          string   `json:"name"`
				Groups        []string `json:"groups"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.Email != ada.Email || !claims.EmailVerified || claims.Name != ada.Name || !slices.Equal(claims.Groups, ada.Groups) {
				t.Errorf("ID token claims %+v, want ada's", claims)
			}

			// The userinfo endpoint answers the access token with the same claims.
			info, err := disc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("UserInfo: %v", err)
			}
			if info.Subject != ada.Subject || info.Email != ada.Email {
				t.Errorf("userinfo sub %q email %q, want ada's", info.Subject, info.Email)
			}

			// A code is good once.
			if _, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
				t.Error("the code was exchanged twice")
			}
		})
	}
}

// TestScopesLimitClaims asks for openid only: the ID token has sub and none of the rest.
func TestScopesLimitClaims(t *testing.T) {
	_, a, cfg, disc := setup(t)
	cfg.Scopes = []string{gooidc.ScopeOpenID}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	form := b.get(ctx, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	form.values.Set("username", ada.Username)
	form.values.Set("password", ada.Password)
	b.post(ctx, form)
	code := a.wait(t, ctx).Get("code")
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := disc.Verifier(&gooidc.Config{ClientID: cfg.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"email", "email_verified", "name", "groups"} {
		if v, ok := claims[c]; ok {
			t.Errorf("claim %s = %v released without its scope", c, v)
		}
	}
}

// TestRefusals covers what the provider must refuse: a wrong password, an authorization
// request without PKCE or with the plain method, a code exchanged with a wrong verifier or
// the wrong secret.
func TestRefusals(t *testing.T) {
	t.Run("wrong password shows the form again", func(t *testing.T) {
		_, _, cfg, _ := setup(t)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		b := newBrowser(t)
		form := b.get(ctx, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		form.values.Set("username", ada.Username)
		form.values.Set("password", "wrong")
		status, body := b.post(ctx, form)
		if status != http.StatusUnauthorized || !strings.Contains(body, `id="error"`) || !strings.Contains(body, `id="password"`) {
			t.Errorf("status %d, body %q; want 401 with the form and an error", status, body)
		}
	})
	for _, tt := range []struct {
		name string
		opts []oauth2.AuthCodeOption
	}{
		{"no PKCE", nil},
		{"plain PKCE", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", strings.Repeat("p", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, a, cfg, _ := setup(t)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			b := newBrowser(t)
			b.getRaw(ctx, cfg.AuthCodeURL("s", tt.opts...))
			got := a.wait(t, ctx)
			if got.Get("error") != "invalid_request" || got.Get("code") != "" {
				t.Errorf("callback %v, want error=invalid_request and no code", got)
			}
		})
	}
	for _, tt := range []struct {
		name     string
		secret   string
		verifier func(string) string
	}{
		{"wrong verifier", "client-secret", func(string) string { return oauth2.GenerateVerifier() }},
		{"no verifier", "client-secret", func(string) string { return "" }},
		{"wrong secret", "not-the-secret", func(v string) string { return v }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, a, cfg, _ := setup(t)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			verifier := oauth2.GenerateVerifier()
			b := newBrowser(t)
			form := b.get(ctx, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
			form.values.Set("username", ada.Username)
			form.values.Set("password", ada.Password)
			b.post(ctx, form)
			code := a.wait(t, ctx).Get("code")
			cfg.ClientSecret = tt.secret
			var opts []oauth2.AuthCodeOption
			if v := tt.verifier(verifier); v != "" {
				opts = append(opts, oauth2.VerifierOption(v))
			}
			_, err := cfg.Exchange(ctx, code, opts...)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("Exchange = %v, want a RetrieveError", err)
			}
		})
	}
}

func TestInvalidUsersAndClients(t *testing.T) {
	p := Start(t, Options{Users: []User{ada}, Clients: []Client{{ID: "c", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}}})
	users := []struct {
		name string
		u    User
	}{
		{"no subject", User{Username: "x", Password: "p"}},
		{"no login name", User{Subject: "s2", Password: "p"}},
		{"no password", User{Subject: "s2", Username: "x"}},
		{"subject taken", User{Subject: ada.Subject, Username: "other", Password: "p"}},
		{"login taken", User{Subject: "s2", Username: ada.Username, Password: "p"}},
	}
	for _, tt := range users {
		t.Run("user/"+tt.name, func(t *testing.T) {
			if err := p.AddUser(tt.u); !errors.Is(err, ErrInvalid) {
				t.Errorf("AddUser = %v, want ErrInvalid", err)
			}
		})
	}
	if err := p.AddUser(User{Subject: "s3", Username: "grace", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]User{
		"unknown subject": {Subject: "nobody", Username: "nobody", Password: "p"},
		"login taken":     {Subject: "s3", Username: ada.Username, Password: "p"},
		"no password":     {Subject: "s3", Username: "grace"},
	} {
		if err := p.SetUser(u); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetUser (%s) = %v, want ErrInvalid", name, err)
		}
	}
	if err := p.SetUser(User{Subject: "s3", Username: "grace2", Password: "p", Groups: []string{"Ops"}}); err != nil {
		t.Errorf("SetUser with a new login name: %v", err)
	}
	if err := p.AddUser(User{Subject: "s4", Username: "grace", Password: "p"}); err != nil {
		t.Errorf("the old login name is not free after SetUser: %v", err)
	}
	clients := []struct {
		name string
		c    Client
	}{
		{"no ID", Client{Secret: "s", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
		{"no secret", Client{ID: "x", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
		{"no redirect URI", Client{ID: "x", Secret: "s"}},
		{"relative redirect URI", Client{ID: "x", Secret: "s", RedirectURIs: []string{"/cb"}}},
		{"custom scheme", Client{ID: "x", Secret: "s", RedirectURIs: []string{"app://cb"}}},
		{"ID taken", Client{ID: "c", Secret: "s", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	}
	for _, tt := range clients {
		t.Run("client/"+tt.name, func(t *testing.T) {
			if err := p.AddClient(tt.c); !errors.Is(err, ErrInvalid) {
				t.Errorf("AddClient = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := Launch(Options{Users: []User{{Subject: "x"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Launch with an invalid user = %v, want ErrInvalid", err)
	}
}

// TestSecretsNotFormatted checks that %v of a user or client shows neither secret.
func TestSecretsNotFormatted(t *testing.T) {
	for _, v := range []any{ada, Client{ID: "c", Secret: "client-secret", RedirectURIs: []string{"http://x/cb"}}} {
		for _, verb := range []string{"%v", "%+v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, "correct horse") || strings.Contains(s, "client-secret") {
				t.Errorf("%s shows a secret: %s", verb, s)
			}
		}
	}
}

// browser is Go's HTTP client with a cookie jar, following redirects, and a form reader.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

// htmlForm is the first form of a page: its absolute action and its fields' values.
type htmlForm struct {
	action string
	values url.Values
}

// get loads a page and returns its first form.
func (b *browser) get(ctx context.Context, u string) htmlForm {
	b.t.Helper()
	resp, body := b.getRaw(ctx, u)
	f, ok := firstForm(resp.Request.URL, body)
	if !ok {
		b.t.Fatalf("GET %s (ended at %s, %d): no form in %q", u, resp.Request.URL, resp.StatusCode, body)
	}
	return f
}

func (b *browser) getRaw(ctx context.Context, u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	return b.do(req)
}

// post submits a form and returns the final status and body.
func (b *browser) post(ctx context.Context, f htmlForm) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.action, strings.NewReader(f.values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := b.do(req)
	return resp.StatusCode, body
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

// firstForm finds the first form of an HTML page with golang.org/x/net/html.
func firstForm(base *url.URL, page string) (htmlForm, bool) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return htmlForm{}, false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			form = n
			break
		}
	}
	if form == nil {
		return htmlForm{}, false
	}
	action, err := base.Parse(attr(form, "action"))
	if err != nil {
		return htmlForm{}, false
	}
	f := htmlForm{action: action.String(), values: url.Values{}}
	for n := range form.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			f.values.Set(attr(n, "name"), attr(n, "value"))
		}
	}
	return f, true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
