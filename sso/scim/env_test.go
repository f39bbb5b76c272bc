package scim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// env is an IAM on memstore with SSO and a dashboard, an enterprise account whose identity
// provider is trusted for acme.test, a service user "okta" (team manager) with a SCIM access
// token, and the SCIM handler served by an httptest server under /scim/v2/.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	iam   *iamkit.IAM
	boot  iamkit.Bootstrapped
	idp   store.IdentityProvider
	bot   store.BotUser
	token string // the SCIM access token
	tokID string
	srv   *httptest.Server
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(identity.Free(), identity.Enterprise())
	if err != nil {
		t.Fatal(err)
	}
	perms, err := rbac.NewPermissions(scim.PermissionSpec())
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	iam, err := iamkit.New(st, plans, iamkit.WithPermissions(perms), iamkit.WithSSO("https://dash.acme.test", key),
		iamkit.WithDashboard(sso.WithPasswordParams(sso.PasswordParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := iam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(context.Background()) })
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{
		AccountKey: "acme", AccountName: "Acme", Plan: identity.Enterprise().Name,
		AdminEmail: "admin@acme.test", AdminName: "Ada",
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, st: st, iam: iam, boot: boot}
	e.idp = e.putIdP("acme.test")
	e.bot, e.token, e.tokID = e.serviceUser("okta", provisionerRoles, e.provisionerScopes()...)
	h, err := iam.SCIM()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.sync()
	return e
}

// putIdP writes an identity provider trusted for domains straight into the store: what SAML
// it speaks does not matter to SCIM.
func (e *env) putIdP(domains ...string) store.IdentityProvider {
	e.t.Helper()
	idpID, err := id.NewGenerator(wallClock{}, rand.Reader).NewIn(id.IdentityProvider, e.boot.Account.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	p := store.IdentityProvider{ID: idpID, AccountID: e.boot.Account.ID, Description: "Okta",
		EntityID: "https://idp.acme.test/" + idpID, MetadataXML: "<EntityDescriptor/>", Domains: domains, CreatedAt: time.Now()}
	if err := e.st.Update(e.ctx, func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, p) }); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// provisionerRoles are a SCIM service user's roles: it manages members (team manager) and
// grants the default member roles (developer), which nobody grants without holding them.
var provisionerRoles = []string{rbac.RoleTeamManager, rbac.RoleDeveloper}

// provisionerScopes are the scopes of a SCIM token: scim:write and everything its roles grant.
func (e *env) provisionerScopes() []string {
	ps := e.iam.Authorizer().Permissions()
	var held rbac.Set
	for _, r := range provisionerRoles {
		s, _ := ps.RoleGrants(r)
		held = held.Union(s)
	}
	return ps.Names(held)
}

// serviceUser creates a service user with roles and an access token with scopes.
func (e *env) serviceUser(name string, roles []string, scopes ...string) (store.BotUser, string, string) {
	e.t.Helper()
	bot, err := e.iam.BotUsers().Create(e.ctx, e.boot.Admin, botuser.CreateParams{Name: name, Roles: roles})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.iam.Credentials().Create(e.ctx, e.boot.Admin, credential.CreateRequest{
		Kind: store.AccessToken, OwnerID: bot.ID, Scopes: scopes,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return bot, tok.Token.Reveal(), tok.ID
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.iam.Sync(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// do sends a SCIM request with the env's token and returns the status and the decoded body
// (nil when empty). It checks the content type of every body.
func (e *env) do(method, path, body string) (int, map[string]any) {
	e.t.Helper()
	return e.doAs(e.token, method, path, body)
}

func (e *env) doAs(token, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, m
}

// must is do that requires a status.
func (e *env) must(want int, method, path, body string) map[string]any {
	e.t.Helper()
	status, m := e.do(method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

// signedIn starts a dashboard session for a member and returns its token.
func (e *env) signedIn(userID string) string {
	e.t.Helper()
	p, err := e.iam.Directory().Principal(e.ctx, e.boot.Account.ID, userID, identity.SourceDashboard, "")
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.iam.Dashboard().IssueSession(e.ctx, p, sso.MethodOAuth, sso.Client{})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Token.Reveal()
}

// userToken creates an API key owned by a member (the administrator names the owner), for
// the Verifier checks.
func (e *env) userToken(userID string) string {
	e.t.Helper()
	tok, err := e.iam.Credentials().Create(e.ctx, e.boot.Admin, credential.CreateRequest{Kind: store.APIKey, OwnerID: userID})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Token.Reveal()
}
