package iamkit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// countingBackend counts the calls a Store makes to its Backend: every one is a store round
// trip on Redis or PostgreSQL.
type countingBackend struct {
	store.Backend
	calls atomic.Int64
}

func (b *countingBackend) View(ctx context.Context, fn func(store.Ops) error) error {
	b.calls.Add(1)
	return b.Backend.View(ctx, fn)
}

func (b *countingBackend) Update(ctx context.Context, fn func(store.WriteOps) error) error {
	b.calls.Add(1)
	return b.Backend.Update(ctx, fn)
}

func (b *countingBackend) LastUsed(ctx context.Context, ids []string) ([]store.Use, error) {
	b.calls.Add(1)
	return b.Backend.LastUsed(ctx, ids)
}

func (b *countingBackend) RecordUse(ctx context.Context, uses []store.Use) error {
	b.calls.Add(1)
	return b.Backend.RecordUse(ctx, uses)
}

func plans(t testing.TB) *identity.Catalog {
	t.Helper()
	c, err := identity.NewCatalog(identity.Free(), identity.PayAsYouGo(), identity.Enterprise())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// world is an IAM on memstore, started, with a bootstrapped account.
type world struct {
	t       testing.TB
	ctx     context.Context
	backend *countingBackend
	iam     *iamkit.IAM
	boot    iamkit.Bootstrapped
}

func newWorld(t testing.TB, opts ...iamkit.Option) *world {
	t.Helper()
	b, err := memstore.NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	cb := &countingBackend{Backend: b}
	st := store.New(cb)
	t.Cleanup(func() { st.Close() })
	iam, err := iamkit.New(st, plans(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := iam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iam.Close(context.Background()) })
	boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{
		AccountKey: "acme", AccountName: "Acme", Plan: identity.PayAsYouGo().Name,
		AdminEmail: "admin@acme.test", AdminName: "Ada", APIKey: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := iam.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: ctx, backend: cb, iam: iam, boot: boot}
}

func TestNewRefusesMissingParts(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, build := range map[string]func() (*iamkit.IAM, error){
		"store": func() (*iamkit.IAM, error) { return iamkit.New(nil, plans(t)) },
		"plans": func() (*iamkit.IAM, error) { return iamkit.New(st, nil) },
	} {
		_, err := build()
		var e *store.Error
		if !errors.As(err, &e) || e.Kind != store.ErrInvalid || e.Field != name {
			t.Errorf("New without %s: %v, want ErrInvalid naming %q", name, err, name)
		}
	}
}

// TestLifecycle: Sync fails at once before Start and after Close; Start twice is refused; Close
// is idempotent.
func TestLifecycle(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	iam, err := iamkit.New(st, plans(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := iam.Sync(ctx); store.CodeOf(err) != store.CodeNotRunning {
		t.Fatalf("Sync before Start = %v, want code %q", err, store.CodeNotRunning)
	}
	if err := iam.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := iam.Start(ctx); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Start = %v, want ErrConflict", err)
	}
	if err := iam.Sync(ctx); err != nil {
		t.Fatalf("Sync while running: %v", err)
	}
	if err := iam.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := iam.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := iam.Sync(ctx); store.CodeOf(err) != store.CodeNotRunning {
		t.Fatalf("Sync after Close = %v, want code %q", err, store.CodeNotRunning)
	}
	if err := iam.Start(ctx); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
}

// TestCloseFlushesLastUsedBeforeTheStoreCloses: a use recorded by Authenticate reaches the
// store when Close returns, before the caller closes the store.
func TestCloseFlushesLastUsedBeforeTheStoreCloses(t *testing.T) {
	w := newWorld(t)
	token := w.boot.APIKey.Token.Reveal()
	if _, err := w.iam.Authenticate(w.ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := w.iam.Close(w.ctx); err != nil {
		t.Fatal(err)
	}
	var c store.Credential
	err := w.iam.Store().View(w.ctx, func(r store.Reader) error {
		var err error
		c, err = r.Credential(w.ctx, w.boot.APIKey.ID)
		return err
	})
	if err != nil || c.LastUsedAt.IsZero() {
		t.Fatalf("after Close the key's last use is %v (%v), want it recorded", c.LastUsedAt, err)
	}
}

// TestAuthenticateThenAuthorizeReadsNoStore: on a cache hit, Authenticate and Require make no
// store call at all, and the Principal names the owner.
func TestAuthenticateThenAuthorizeReadsNoStore(t *testing.T) {
	w := newWorld(t)
	token := w.boot.APIKey.Token.Reveal()
	warm := func() iamkit.Principal {
		p, err := w.iam.Authenticate(w.ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.iam.Require(w.ctx, p, rbac.BotUsersWrite); err != nil {
			t.Fatal(err)
		}
		return p
	}
	warm()
	before := w.backend.calls.Load()
	p := warm()
	if n := w.backend.calls.Load() - before; n != 0 {
		t.Fatalf("a warm Authenticate and Require made %d store calls, want 0", n)
	}
	want := iamkit.Principal{ID: w.boot.Admin.ID, Kind: identity.KindUser, AccountID: w.boot.Account.ID,
		Subject: "admin@acme.test", Source: identity.SourceAPI, CredentialID: w.boot.APIKey.ID}
	if p != want {
		t.Fatalf("Principal = %+v, want %+v", p, want)
	}
}

// TestBootstrapIsIdempotent: a restart creates nothing; concurrent starts make one account.
func TestBootstrapIsIdempotent(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spec := iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme", Plan: "payg", AdminEmail: "a@acme.test", APIKey: true}
	const starters = 8
	results := make([]iamkit.Bootstrapped, starters)
	var wg sync.WaitGroup
	for n := range starters {
		iam, err := iamkit.New(st, plans(t))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			var err error
			if results[n], err = iam.Bootstrap(t.Context(), spec); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	created := 0
	for _, r := range results {
		if r.Created {
			created++
		}
		if r.Account.ID != results[0].Account.ID {
			t.Fatalf("starters got accounts %s and %s, want one", results[0].Account.ID, r.Account.ID)
		}
	}
	if created != 1 {
		t.Fatalf("%d starters created the account, want 1", created)
	}
	iam, err := iamkit.New(st, plans(t))
	if err != nil {
		t.Fatal(err)
	}
	again, err := iam.Bootstrap(t.Context(), spec)
	if err != nil || again.Created || !again.APIKey.Token.IsZero() || again.Account.ID != results[0].Account.ID {
		t.Fatalf("a restart: created %v, new key %v, account %s (%v); want nothing new", again.Created, !again.APIKey.Token.IsZero(), again.Account.ID, err)
	}
}

// TestHTTPLayer: the middleware answers every refusal with the stable code and the status of
// its kind, and hands an allowed request its Principal.
func TestHTTPLayer(t *testing.T) {
	w := newWorld(t)
	admin := w.boot.APIKey.Token.Reveal()
	bot, err := w.iam.BotUsers().Create(w.ctx, w.boot.Admin, botuser.CreateParams{Name: "ci", Roles: []string{rbac.RoleDeveloperReadOnly}})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := w.iam.Credentials().Create(w.ctx, w.boot.Admin, credential.CreateRequest{Kind: store.APIKey, OwnerID: bot.ID})
	if err != nil {
		t.Fatal(err)
	}
	authtoken, err := w.iam.Credentials().Create(w.ctx, w.boot.Admin, credential.CreateRequest{Kind: store.Authtoken})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /things", w.iam.Protect(rbac.BotUsersWrite, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, _ := iamkit.PrincipalFrom(r.Context())
		_ = json.NewEncoder(rw).Encode(map[string]string{"by": p.Subject})
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []struct {
		name, header string
		status       int
		code         string
	}{
		{"no header", "", http.StatusUnauthorized, iamkit.CodeMissingCredentials},
		{"not bearer", "Basic abc", http.StatusUnauthorized, iamkit.CodeBadAuthorization},
		{"malformed token", "Bearer iak_nope", http.StatusUnauthorized, "malformed_token"},
		{"an authtoken is a token too", "Bearer " + authtoken.Token.Reveal(), http.StatusOK, ""},
		{"read-only bot", "Bearer " + reader.Token.Reveal(), http.StatusForbidden, rbac.CodeNoRole},
		{"administrator", "Bearer " + admin, http.StatusOK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(w.ctx, "POST", srv.URL+"/things", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.code == "" {
				return
			}
			var body iamkit.ErrorBody
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error.Code != c.code {
				t.Fatalf("error body %+v (%v), want code %q", body, err, c.code)
			}
		})
	}
}

// TestRetryAfter: an error about a rate answers 429 with a Retry-After of its wait, in whole
// seconds rounded up.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&store.Error{Kind: store.ErrLimitExceeded, Code: sso.CodeThrottled, RetryAfter: 90 * time.Second}, "90"},
		{&store.Error{Kind: store.ErrLimitExceeded, Code: sso.CodeThrottled, RetryAfter: 1500 * time.Millisecond}, "2"},
		{fmt.Errorf("wrapped: %w", &store.Error{Kind: store.ErrLimitExceeded, Code: "x", RetryAfter: time.Millisecond}), "1"},
		{store.NewError(store.ErrLimitExceeded, "seat_limit", "x"), ""},
	} {
		rec := httptest.NewRecorder()
		iamkit.JSONErrors(rec, httptest.NewRequest(http.MethodPost, "/", nil), iamkit.HTTPStatus(c.err), c.err)
		if got := rec.Header().Get("Retry-After"); got != c.want {
			t.Errorf("%v: Retry-After %q, want %q", c.err, got, c.want)
		}
	}
}

// TestHTTPStatus: one status per kind of error.
func TestHTTPStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{store.Invalid("name", store.CodeRequired, 0, "required"), 400},
		{store.NewError(store.ErrUnauthenticated, "x", "x"), 401},
		{credential.ReasonRevoked, 401},
		{credential.ReasonUnavailable, 503},
		{store.NewError(store.ErrDenied, "x", "x"), 403},
		{store.NewError(store.ErrFeatureUnavailable, "x", "x"), 403},
		{store.NewError(store.ErrLimitExceeded, "seat_limit", "x"), 403},
		{store.NewError(store.ErrLimitExceeded, iamkit.CodeRateLimited, "x"), 429},
		{&store.Error{Kind: store.ErrLimitExceeded, Code: sso.CodeThrottled, RetryAfter: 90 * time.Second}, 429},
		{store.ErrNotFound, 404},
		{store.NewError(store.ErrConflict, "x", "x"), 409},
		{store.ErrClosed, 503},
		{context.DeadlineExceeded, 504},
		{errors.New("something else"), 500},
	} {
		if got := iamkit.HTTPStatus(c.err); got != c.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestAuthenticateKind: AuthenticateKind accepts only tokens of its kind, and both it and
// Authenticate tell a credential's ID sent in place of its token (by the ID prefixes of the
// kinds they accept) from a malformed token. No refusal repeats what was sent.
func TestAuthenticateKind(t *testing.T) {
	w := newWorld(t)
	apiKey := w.boot.APIKey
	authtoken, err := w.iam.Credentials().Create(w.ctx, w.boot.Admin, credential.CreateRequest{Kind: store.Authtoken})
	if err != nil {
		t.Fatal(err)
	}
	anyKind := func(ctx context.Context, token string) (iamkit.Principal, error) {
		return w.iam.Authenticate(ctx, token)
	}
	onlyAPIKeys := func(ctx context.Context, token string) (iamkit.Principal, error) {
		return w.iam.AuthenticateKind(ctx, store.APIKey, token)
	}
	onlyAuthtokens := func(ctx context.Context, token string) (iamkit.Principal, error) {
		return w.iam.AuthenticateKind(ctx, store.Authtoken, token)
	}
	for _, c := range []struct {
		name         string
		authenticate func(context.Context, string) (iamkit.Principal, error)
		token        string
		code         string // "" for success
	}{
		{"API key, any kind", anyKind, apiKey.Token.Reveal(), ""},
		{"authtoken, any kind", anyKind, authtoken.Token.Reveal(), ""},
		{"API key, API keys only", onlyAPIKeys, apiKey.Token.Reveal(), ""},
		{"authtoken, authtokens only", onlyAuthtokens, authtoken.Token.Reveal(), ""},
		{"authtoken, API keys only", onlyAPIKeys, authtoken.Token.Reveal(), credential.CodeWrongKind},
		{"API key, authtokens only", onlyAuthtokens, apiKey.Token.Reveal(), credential.CodeWrongKind},
		{"malformed, any kind", anyKind, "not-a-token", credential.CodeMalformedToken},
		{"malformed, API keys only", onlyAPIKeys, "not-a-token", credential.CodeMalformedToken},
		{"API key ID, any kind", anyKind, apiKey.ID, iamkit.CodeCredentialIDAsToken},
		{"authtoken ID, any kind", anyKind, authtoken.ID, iamkit.CodeCredentialIDAsToken},
		{"API key ID, API keys only", onlyAPIKeys, apiKey.ID, iamkit.CodeCredentialIDAsToken},
		{"mangled API key ID, API keys only", onlyAPIKeys, "ak_123", iamkit.CodeCredentialIDAsToken},
		{"authtoken ID, API keys only", onlyAPIKeys, authtoken.ID, credential.CodeMalformedToken},
		{"API key ID, authtokens only", onlyAuthtokens, apiKey.ID, credential.CodeMalformedToken},
		{"authtoken ID, authtokens only", onlyAuthtokens, authtoken.ID, iamkit.CodeCredentialIDAsToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.authenticate(w.ctx, c.token)
			if c.code == "" {
				if err != nil || p.AccountID != w.boot.Account.ID || p.Source != identity.SourceAPI {
					t.Fatalf("got %+v, %v; want a principal of the account, source api", p, err)
				}
				return
			}
			if !errors.Is(err, store.ErrUnauthenticated) || store.CodeOf(err) != c.code {
				t.Fatalf("got %v (code %q), want ErrUnauthenticated with code %q", err, store.CodeOf(err), c.code)
			}
			if p != (iamkit.Principal{}) {
				t.Fatalf("a refusal came with the principal %+v", p)
			}
			if leaks(err, c.token) {
				t.Fatalf("the refusal %q repeats what was sent", err)
			}
		})
	}
}

// leaks reports whether err, in any of its formats, contains token.
func leaks(err error, token string) bool {
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, token) {
			return true
		}
	}
	return false
}

// TestBearerAuthKind: middleware that takes API keys only refuses an authtoken and an API key's
// ID with their own codes, and lets an API key through with its Principal.
func TestBearerAuthKind(t *testing.T) {
	w := newWorld(t)
	authtoken, err := w.iam.Credentials().Create(w.ctx, w.boot.Admin, credential.CreateRequest{Kind: store.Authtoken})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api", w.iam.BearerAuthKind(store.APIKey)(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, ok := iamkit.PrincipalFrom(r.Context())
		if !ok || p.CredentialID != w.boot.APIKey.ID {
			rw.WriteHeader(http.StatusTeapot)
		}
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []struct {
		name, header string
		status       int
		code         string
	}{
		{"no header", "", http.StatusUnauthorized, iamkit.CodeMissingCredentials},
		{"an authtoken", "Bearer " + authtoken.Token.Reveal(), http.StatusUnauthorized, credential.CodeWrongKind},
		{"an API key's ID", "Bearer " + w.boot.APIKey.ID, http.StatusUnauthorized, iamkit.CodeCredentialIDAsToken},
		{"an API key", "Bearer " + w.boot.APIKey.Token.Reveal(), http.StatusOK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(w.ctx, "GET", srv.URL+"/api", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.code == "" {
				return
			}
			var body iamkit.ErrorBody
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error.Code != c.code {
				t.Fatalf("error body %+v (%v), want code %q", body, err, c.code)
			}
		})
	}
}

// FuzzAuthenticate: whatever is sent as a bearer token, Authenticate and AuthenticateKind
// either accept one of the world's real tokens or refuse it with ErrUnauthenticated and a
// refusal code, never repeating a token-like input.
func FuzzAuthenticate(f *testing.F) {
	w := newWorld(f)
	key := w.boot.APIKey
	for _, seed := range []string{key.Token.Reveal(), key.ID, "ak_", "ak", "cr_x", "iak_", "", "Bearer x", key.Token.Reveal()[:20]} {
		f.Add(seed)
	}
	codes := map[string]bool{
		credential.CodeMalformedToken: true, credential.CodeWrongKind: true, credential.CodeUnknown: true,
		credential.CodeRevoked: true, credential.CodeExpired: true, iamkit.CodeCredentialIDAsToken: true,
	}
	tokenLike := regexp.MustCompile(`^[A-Za-z0-9_]{20,}$`)
	f.Fuzz(func(t *testing.T, token string) {
		for name, authenticate := range map[string]func() (iamkit.Principal, error){
			"Authenticate":     func() (iamkit.Principal, error) { return w.iam.Authenticate(w.ctx, token) },
			"AuthenticateKind": func() (iamkit.Principal, error) { return w.iam.AuthenticateKind(w.ctx, store.APIKey, token) },
		} {
			p, err := authenticate()
			if err == nil {
				if token != key.Token.Reveal() || p.CredentialID != key.ID {
					t.Fatalf("%s accepted %q as %+v", name, token, p)
				}
				continue
			}
			if !errors.Is(err, store.ErrUnauthenticated) || !codes[store.CodeOf(err)] {
				t.Fatalf("%s(%q) = %v (code %q), want a refusal", name, token, err, store.CodeOf(err))
			}
			if tokenLike.MatchString(token) && leaks(err, token) {
				t.Fatalf("%s(%q): the refusal %q repeats it", name, token, err)
			}
		}
	})
}

// TestDashboard: WithDashboard builds an sso.Dashboard on the facade's SSO service, and needs
// WithSSO.
func TestDashboard(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, iamkit.WithSSO("https://dash.acme.test", key), iamkit.WithDashboard(sso.WithPasswordParams(sso.PasswordParams{
		Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32,
	})))
	d := w.iam.Dashboard()
	if d == nil {
		t.Fatal("no Dashboard")
	}
	admin := w.boot.Admin
	if err := d.SetInitialPassword(w.ctx, admin.ID, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	res, err := d.SignIn(w.ctx, sso.SignInRequest{AccountID: w.boot.Account.ID, Email: "admin@acme.test", Password: "correct horse battery"})
	if err != nil || res.Step != sso.StepDone {
		t.Fatalf("SignIn: %+v, %v", res, err)
	}
	if _, err := d.Verify(w.ctx, w.boot.Account.ID, res.Token.Reveal()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if w := newWorld(t); w.iam.Dashboard() != nil {
		t.Error("a Dashboard without WithDashboard")
	}
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = iamkit.New(st, plans(t), iamkit.WithDashboard())
	var e *store.Error
	if !errors.As(err, &e) || e.Kind != store.ErrInvalid || e.Field != "dashboard" {
		t.Errorf("WithDashboard without WithSSO: %v, want ErrInvalid naming dashboard", err)
	}
}

// TestAuditRetention: a running IAM prunes each account's audit log to its retention in
// the background (here at most 100 events, pruned once 100 more have come), and keeps every
// event with retention off.
func TestAuditRetention(t *testing.T) {
	for _, c := range []struct {
		name   string
		keep   rbac.Retention
		pruned bool
	}{
		{"at most 100 events", rbac.Retention{MaxCount: 100}, true},
		{"off", rbac.Retention{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, iamkit.WithAuditRetention(c.keep))
			events := func() []store.Event {
				var evs []store.Event
				if err := w.iam.Store().View(w.ctx, func(r store.Reader) error {
					var err error
					evs, err = r.Events(w.ctx, w.boot.Account.ID, store.Page{Limit: store.MaxPageLimit})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return evs
			}
			first := events()
			oldest := first[len(first)-1].ID
			for i := range 250 {
				if _, err := w.iam.BotUsers().Create(w.ctx, w.boot.Admin, botuser.CreateParams{Name: "bot" + strconv.Itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				evs := events()
				gone := evs[len(evs)-1].ID != oldest
				if !c.pruned {
					if gone || len(evs) != len(first)+250 {
						t.Fatalf("retention off: %d events of %d, the oldest gone: %v", len(evs), len(first)+250, gone)
					}
					return
				}
				if gone && len(evs) < 200 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d events, the oldest gone: %v", len(evs), gone)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestPruningKeepsCachesWarm: the audit Pruner's deletions are changes in the feed like any
// other, but about events, which the Verifier's and the Authorizer's caches ignore: a warm
// Authenticate and Require still read no store after events were appended and pruned.
func TestPruningKeepsCachesWarm(t *testing.T) {
	w := newWorld(t, iamkit.WithAuditRetention(rbac.Retention{MaxCount: 100}))
	token := w.boot.APIKey.Token.Reveal()
	warm := func() {
		p, err := w.iam.Authenticate(w.ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.iam.Require(w.ctx, p, rbac.BotUsersWrite); err != nil {
			t.Fatal(err)
		}
	}
	warm()
	events := func() []store.Event {
		var evs []store.Event
		if err := w.iam.Store().View(w.ctx, func(r store.Reader) error {
			var err error
			evs, err = r.Events(w.ctx, w.boot.Account.ID, store.Page{Limit: store.MaxPageLimit})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	first := events()
	oldest := first[len(first)-1].ID
	for c := range 3 {
		evs := make([]store.Event, 100)
		for i := range evs {
			evs[i] = store.Event{ID: first[0].ID[:3] + strconv.Itoa(c) + "x" + strconv.Itoa(i) + first[0].ID[len(first[0].ID)-4:],
				AccountID: w.boot.Account.ID, Type: identity.EventBotUserCreated, Object: []byte(`{}`), CreatedAt: time.Now()}
		}
		if err := w.iam.Store().Update(w.ctx, func(tx store.Tx) error { return tx.AppendEvents(w.ctx, evs) }); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for evs := events(); evs[len(evs)-1].ID == oldest || len(evs) >= 200; evs = events() {
		if time.Now().After(deadline) {
			t.Fatalf("%d events, the oldest still there", len(evs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.iam.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	before := w.backend.calls.Load()
	warm()
	if n := w.backend.calls.Load() - before; n != 0 {
		t.Fatalf("after pruning, a warm Authenticate and Require made %d store calls, want 0", n)
	}
}
