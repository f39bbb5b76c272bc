package iamkit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// call sends one request with a bearer token from addr ("host:port") to h and returns its
// status and error code.
func call(t *testing.T, h http.Handler, method, token, addr string) (int, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, "/things", nil)
	req.RemoteAddr = addr
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body iamkit.ErrorBody
	if rec.Code != http.StatusOK {
		if err := json.NewDecoder(rec.Body).Decode(&body); err != nil {
			t.Fatalf("error body: %v", err)
		}
	}
	return rec.Code, body.Error.Code
}

// TestAccessTokens_EndToEnd: an access token authenticates at the HTTP layer and may do what
// its scopes allow of its owner's grants: refused outside its scopes, shrinking when its
// owner is demoted, refused from an address its allow-list leaves out. A service user's
// credentials act with its roles.
func TestAccessTokens_EndToEnd(t *testing.T) {
	w := newWorld(t)
	u, _, err := w.iam.Directory().EnsureUser(w.ctx, "dev@acme.test", "Dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.iam.Directory().AddMember(w.ctx, w.boot.Admin, u.ID, []string{rbac.RoleDeveloper}); err != nil {
		t.Fatal(err)
	}
	dev, err := w.iam.Directory().Principal(w.ctx, w.boot.Account.ID, u.ID, "sdk", "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := w.iam.Credentials().Create(w.ctx, dev, credential.CreateRequest{
		Kind: store.AccessToken, Scopes: []string{"credentials:read", "credentials:write"},
		AllowedIPs: []string{"192.0.2.0/24", "2001:db8::/32"},
	})
	if err != nil {
		t.Fatal(err)
	}
	bot, err := w.iam.BotUsers().Create(w.ctx, w.boot.Admin, botuser.CreateParams{Name: "svc", Roles: []string{rbac.RoleDeveloperReadOnly}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := w.iam.Credentials().Create(w.ctx, w.boot.Admin, credential.CreateRequest{
		Kind: store.AccessToken, OwnerID: bot.ID, Scopes: []string{"credentials:read", "credentials:write"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.iam.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	read := w.iam.Protect(rbac.CredentialsRead, ok)
	write := w.iam.Protect(rbac.CredentialsWrite, ok)
	events := w.iam.Protect(rbac.EventsRead, ok)
	const from4, from6, elsewhere = "192.0.2.10:40000", "[2001:db8::7]:40000", "198.51.100.1:40000"
	for _, c := range []struct {
		name   string
		h      http.Handler
		token  string
		addr   string
		status int
		code   string
	}{
		{"in_scope_from_ipv4", read, tok.Token.Reveal(), from4, http.StatusOK, ""},
		{"in_scope_from_ipv6", write, tok.Token.Reveal(), from6, http.StatusOK, ""},
		{"outside_its_scopes", events, tok.Token.Reveal(), from4, http.StatusForbidden, rbac.CodeOutOfScope},
		{"from_an_address_not_allowed", read, tok.Token.Reveal(), elsewhere, http.StatusUnauthorized, credential.CodeIPNotAllowed},
		{"service_user_reads", read, svc.Token.Reveal(), elsewhere, http.StatusOK, ""},
		{"service_user_acts_with_its_read_only_role", write, svc.Token.Reveal(), elsewhere, http.StatusForbidden, rbac.CodeNoRole},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, code := call(t, c.h, "GET", c.token, c.addr); status != c.status || code != c.code {
				t.Fatalf("status %d, code %q; want %d, %q", status, code, c.status, c.code)
			}
		})
	}
	// Demoted to read-only, the developer's token can no longer write.
	if _, err := w.iam.Directory().SetMemberRoles(w.ctx, w.boot.Admin, u.ID, []string{rbac.RoleDeveloperReadOnly}); err != nil {
		t.Fatal(err)
	}
	if err := w.iam.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	if status, code := call(t, write, "GET", tok.Token.Reveal(), from4); status != http.StatusForbidden || code != rbac.CodeNoRole {
		t.Fatalf("after the demotion, credentials:write: %d %q", status, code)
	}
	if status, _ := call(t, read, "GET", tok.Token.Reveal(), from4); status != http.StatusOK {
		t.Fatalf("after the demotion, credentials:read: %d", status)
	}
	p, err := w.iam.AuthenticateFrom(w.ctx, tok.Token.Reveal(), netip.MustParseAddr("192.0.2.99"))
	if err != nil || !p.Scope.Limited() || p.CredentialID != tok.ID {
		t.Fatalf("AuthenticateFrom: %+v, %v", p, err)
	}
}

// TestGitHubSecretScanningHandler: a signed report revokes the token it names; a forged one
// is refused with 401 and a replay of the signed one too.
func TestGitHubSecretScanningHandler(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, iamkit.WithGitHubSecretScanning([]credential.GitHubKey{{ID: "k1", Key: &key.PublicKey}}, nil))
	if w.iam.LeakResponder() == nil {
		t.Fatal("no leak responder")
	}
	leaked := w.boot.APIKey.Token.Reveal()
	body, _ := json.Marshal([]credential.ScanMatch{{Token: leaked, Type: "iamkit_api_key", URL: "https://github.com/a/b", Source: "content"}})
	sign := func(k *ecdsa.PrivateKey) string {
		d := sha256.Sum256(body)
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(sig)
	}
	post := func(sig string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/github/secret-scanning", bytes.NewReader(body))
		req.Header.Set("Github-Public-Key-Identifier", "k1")
		req.Header.Set("Github-Public-Key-Signature", sig)
		rec := httptest.NewRecorder()
		w.iam.GitHubSecretScanning().ServeHTTP(rec, req)
		return rec
	}
	if rec := post(sign(attacker)); rec.Code != http.StatusUnauthorized {
		t.Fatalf("a forged report: %d %s", rec.Code, rec.Body)
	}
	if _, err := w.iam.Authenticate(w.ctx, leaked); err != nil {
		t.Fatalf("the key after a forged report: %v", err)
	}
	sig := sign(key)
	rec := post(sig)
	var fb []credential.ScanFeedback
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &fb) != nil || len(fb) != 1 || fb[0].Label != credential.LabelTruePositive {
		t.Fatalf("the signed report: %d %s", rec.Code, rec.Body)
	}
	if err := w.iam.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.iam.Authenticate(w.ctx, leaked); err == nil {
		t.Fatal("the leaked key still authenticates")
	}
	if rec := post(sig); rec.Code != http.StatusUnauthorized {
		t.Fatalf("the replayed report: %d %s", rec.Code, rec.Body)
	}
	plain := newWorld(t)
	rec = httptest.NewRecorder()
	plain.iam.GitHubSecretScanning().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "POST", "/", bytes.NewReader(body)))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without WithGitHubSecretScanning: %d", rec.Code)
	}
}
