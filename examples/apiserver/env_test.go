package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/dnstest"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// Independent, ngrok-shaped types: the field names and JSON tags of ngrok's API v2 as
// ngrok-api.md (and ngrok's Go client) give them. Responses are decoded into them strictly
// (unknown fields are errors), so a field this server adds, renames or misspells fails a test.
type (
	ngrokBotUser struct {
		ID        string `json:"id,omitempty"`
		URI       string `json:"uri,omitempty"`
		Name      string `json:"name,omitempty"`
		Active    bool   `json:"active,omitempty"`
		CreatedAt string `json:"created_at,omitempty"`
	}
	ngrokBotUserList struct {
		BotUsers    []ngrokBotUser `json:"bot_users,omitempty"`
		URI         string         `json:"uri,omitempty"`
		NextPageURI *string        `json:"next_page_uri,omitempty"`
	}
	ngrokCredential struct {
		ID          string   `json:"id,omitempty"`
		URI         string   `json:"uri,omitempty"`
		CreatedAt   string   `json:"created_at,omitempty"`
		Description string   `json:"description,omitempty"`
		Metadata    string   `json:"metadata,omitempty"`
		Token       *string  `json:"token,omitempty"`
		ACL         []string `json:"acl,omitempty"`
		OwnerID     *string  `json:"owner_id,omitempty"`
	}
	ngrokCredentialList struct {
		Credentials []ngrokCredential `json:"credentials,omitempty"`
		URI         string            `json:"uri,omitempty"`
		NextPageURI *string           `json:"next_page_uri,omitempty"`
	}
	ngrokAPIKey struct {
		ID          string  `json:"id,omitempty"`
		URI         string  `json:"uri,omitempty"`
		Description string  `json:"description,omitempty"`
		Metadata    string  `json:"metadata,omitempty"`
		CreatedAt   string  `json:"created_at,omitempty"`
		Token       *string `json:"token,omitempty"`
		OwnerID     *string `json:"owner_id,omitempty"`
	}
	ngrokAPIKeyList struct {
		Keys        []ngrokAPIKey `json:"keys,omitempty"`
		URI         string        `json:"uri,omitempty"`
		NextPageURI *string       `json:"next_page_uri,omitempty"`
	}
	ngrokSSHCredential struct {
		ID          string   `json:"id,omitempty"`
		URI         string   `json:"uri,omitempty"`
		CreatedAt   string   `json:"created_at,omitempty"`
		Description string   `json:"description,omitempty"`
		Metadata    string   `json:"metadata,omitempty"`
		PublicKey   string   `json:"public_key,omitempty"`
		ACL         []string `json:"acl,omitempty"`
		OwnerID     *string  `json:"owner_id,omitempty"`
	}
	ngrokSSHCredentialList struct {
		SSHCredentials []ngrokSSHCredential `json:"ssh_credentials,omitempty"`
		URI            string               `json:"uri,omitempty"`
		NextPageURI    *string              `json:"next_page_uri,omitempty"`
	}
	ngrokError struct {
		ErrorCode  string            `json:"error_code,omitempty"`
		StatusCode int32             `json:"status_code,omitempty"`
		Msg        string            `json:"msg,omitempty"`
		Details    map[string]string `json:"details,omitempty"`
	}
)

// rfc3339Z is ngrok's timestamp form.
var rfc3339Z = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// env is a server on a fresh memory store, bootstrapped, behind an httptest server.
type env struct {
	t    *testing.T
	st   store.Store
	iam  *iamkit.IAM
	srv  *httptest.Server
	boot bootstrapResult
	key  string // the administrator's API key
	logs *syncBuffer
	dns  *dnstest.Server // answers the TXT records that verify domains
}

// envConfig is what envOptions change in newEnv.
type envConfig struct {
	plans         []identity.Plan               // added to the example's
	wrap          func(store.Store) store.Store // what the services see instead of the store
	verifierAlone bool                          // the caches trust nothing: every call reads the store
	baseURL       string                        // deps.BaseURL; default: the listener's URL
	iamOpts       []iamkit.Option               // added to newIAM's
}

// envOption configures newEnv.
type envOption func(*envConfig)

// withPlans adds plans to the example's catalog.
func withPlans(plans ...identity.Plan) envOption {
	return func(c *envConfig) { c.plans = append(c.plans, plans...) }
}

// withStore gives the services wrap(store) instead of the memory store; env.st stays the
// memory store itself.
func withStore(wrap func(store.Store) store.Store) envOption {
	return func(c *envConfig) { c.wrap = wrap }
}

// withBaseURL sets the external base URL of "uri" fields (the -base-url flag).
func withBaseURL(base string) envOption {
	return func(c *envConfig) { c.baseURL = base }
}

// withIAMOptions gives newIAM more options (secret scanning, a clock).
func withIAMOptions(opts ...iamkit.Option) envOption {
	return func(c *envConfig) { c.iamOpts = append(c.iamOpts, opts...) }
}

// withoutVerifierFeed makes the caches trust nothing they hold (a maximum staleness of a
// nanosecond), so that the Verifier reads the store on every call, as it does until it has
// synced with the change feed; the Authorizer does too.
func withoutVerifierFeed() envOption {
	return func(c *envConfig) { c.verifierAlone = true }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range opts {
		o(&cfg)
	}
	mem, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	st := mem
	if cfg.wrap != nil {
		st = cfg.wrap(mem)
	}
	plans, err := identity.NewCatalog(append(examplePlans(), cfg.plans...)...)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewUnstartedServer(nil)
	dns := dnstest.Start(t)
	extra := append([]iamkit.Option{iamkit.WithSSOOptions(sso.WithResolver(dns.Resolver()))}, cfg.iamOpts...)
	if cfg.verifierAlone {
		extra = append(extra, iamkit.WithMaxStaleness(time.Nanosecond))
	}
	iam, ssoBase, err := newIAM(st, plans, "http://"+srv.Listener.Addr().String(), logger, extra...)
	if err != nil || ssoBase == "" {
		t.Fatalf("iam: %v (SSO under %q)", err, ssoBase)
	}
	ctx := context.Background()
	if err := iam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(ctx); mem.Close() })

	b, err := iam.Bootstrap(ctx, bootstrapSpec("admin@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	boot := resultOf(b)
	d := deps{IAM: iam, SSOBaseURL: ssoBase, Logger: logger, BaseURL: cfg.baseURL}
	if d.BaseURL == "" {
		d.BaseURL = "http://" + srv.Listener.Addr().String()
	}
	if srv.Config.Handler, err = newServer(d); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, st: mem, iam: iam, srv: srv, boot: boot, key: boot.APIKey, logs: logs, dns: dns}
}

// domainOutT is a domain as the API returns it.
type domainOutT struct {
	ID         string `json:"id"`
	URI        string `json:"uri"`
	Domain     string `json:"domain"`
	Verified   bool   `json:"verified"`
	RequireSSO bool   `json:"require_sso"`
	RecordName string `json:"txt_record_name"`
	Record     string `json:"txt_record_value"`
	VerifiedAt string `json:"verified_at"`
	CreatedAt  string `json:"created_at"`
}

// verifyDomains claims each domain through the API, publishes its TXT record and verifies
// it, as an administrator does before trusting an IdP for it, and returns them.
func (e *env) verifyDomains(names ...string) []domainOutT {
	e.t.Helper()
	var out []domainOutT
	for _, n := range names {
		var d domainOutT
		e.req("POST", "/domains", map[string]any{"domain": n}).want(http.StatusCreated, &d)
		if err := e.dns.SetTXT(d.RecordName, d.Record); err != nil {
			e.t.Fatal(err)
		}
		e.req("POST", "/domains/"+d.ID+"/verify", nil).want(http.StatusOK, &d)
		if !d.Verified {
			e.t.Fatalf("domain %+v not verified", d)
		}
		out = append(out, d)
	}
	return out
}

// in returns e for use in subtest t: its requests report failures to t.
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// response is what a request got back.
type response struct {
	t      *testing.T
	status int
	header http.Header
	body   []byte
}

// req sends a request with the administrator's key, Ngrok-Version: 2 and, for a body, a JSON
// Content-Type. body is sent as is when it is a string, marshalled otherwise. hdr overrides
// headers; an empty value removes one.
func (e *env) req(method, path string, body any, hdr ...string) *response {
	e.t.Helper()
	return e.reqAs(e.key, method, path, body, hdr...)
}

func (e *env) reqAs(key, method, path string, body any, hdr ...string) *response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	url := path
	if !strings.HasPrefix(url, "http") {
		url = e.srv.URL + path
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Ngrok-Version", "2")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{t: e.t, status: resp.StatusCode, header: resp.Header, body: data}
}

// want fails the test unless the status is status, and decodes the body strictly into v.
func (r *response) want(status int, v any) *response {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if v != nil {
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			r.t.Fatalf("decoding %s: %v", r.body, err)
		}
	}
	return r
}

// wantError checks an ngrok error body: status, code, and an operation ID.
func (r *response) wantError(status int, code string) {
	r.t.Helper()
	var e ngrokError
	r.want(status, &e)
	if e.ErrorCode != code || int(e.StatusCode) != status || e.Msg == "" || !strings.HasPrefix(e.Details["operation_id"], "op_") {
		r.t.Fatalf("error body %s, want %s with status %d and an operation id", r.body, code, status)
	}
	if r.header.Get("Ngrok-Operation-Id") != e.Details["operation_id"] {
		r.t.Fatalf("Ngrok-Operation-Id header %q, body %q", r.header.Get("Ngrok-Operation-Id"), e.Details["operation_id"])
	}
}

// wantErrorParam is wantError for an error about one request parameter (a body field, a
// query parameter, a header): the body names it in details.param.
func (r *response) wantErrorParam(status int, code, param string) {
	r.t.Helper()
	r.wantError(status, code)
	var e ngrokError
	r.want(status, &e)
	if e.Details["param"] != param {
		r.t.Fatalf("error body %s names parameter %q, want %q", r.body, e.Details["param"], param)
	}
}

// raw decodes the body into a generic map, to look at what ngrok's types cannot show
// (a key present with null).
func (r *response) raw() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		r.t.Fatalf("decoding %s: %v", r.body, err)
	}
	return m
}

// snapshot counts what a failed request must not change: events (every write records one),
// bot users and credentials of each kind.
type snapshot struct{ events, bots, authtokens, apiKeys, sshKeys, accessTokens int }

func (e *env) snapshot() snapshot {
	e.t.Helper()
	ctx := e.t.Context()
	all := store.Page{Limit: store.MaxPageLimit}
	var s snapshot
	err := e.st.View(ctx, func(r store.Reader) error {
		evs, err := r.Events(ctx, e.boot.AccountID, all)
		if err != nil {
			return err
		}
		bots, err := r.BotUsers(ctx, e.boot.AccountID, all)
		if err != nil {
			return err
		}
		s.events, s.bots = len(evs), len(bots)
		for kind, n := range map[store.CredentialKind]*int{store.Authtoken: &s.authtokens, store.APIKey: &s.apiKeys, store.SSHCredential: &s.sshKeys, store.AccessToken: &s.accessTokens} {
			cs, err := r.Credentials(ctx, e.boot.AccountID, kind, all)
			if err != nil {
				return err
			}
			*n = len(cs)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// createBot creates a bot user through the API.
func (e *env) createBot(name string) ngrokBotUser {
	e.t.Helper()
	var b ngrokBotUser
	e.req("POST", "/bot_users", map[string]any{"name": name}).want(http.StatusCreated, &b)
	return b
}

// createAPIKey creates an API key owned by owner ("" for the caller) and returns it with its token.
func (e *env) createAPIKey(owner string) ngrokAPIKey {
	e.t.Helper()
	body := map[string]any{"description": "test key"}
	if owner != "" {
		body["owner_id"] = owner
	}
	var k ngrokAPIKey
	e.req("POST", "/api_keys", body).want(http.StatusCreated, &k)
	if k.Token == nil || *k.Token == "" {
		e.t.Fatalf("created API key has no token: %+v", k)
	}
	return k
}

// addMember creates a user and adds it to the account with roles, directly through the
// library (the API adds members through invitations).
func (e *env) addMember(email string, roles ...string) string {
	e.t.Helper()
	ctx := e.t.Context()
	u, err := e.iam.Directory().CreateUser(ctx, email, "Member")
	if err != nil {
		e.t.Fatal(err)
	}
	admin, err := e.iam.Directory().Principal(ctx, e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.iam.Directory().AddMember(ctx, admin, u.ID, roles); err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// sshPublicKey returns a fresh ed25519 public key in authorized_keys form.
func sshPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " test@example"
}

// syncBuffer is an io.Writer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
