package tunnel_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/examples/tunneledge/tunnel"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// closeDeadline is how long a test waits for the edge to close a session whose credential went
// bad. The edge aims at well under a second (one check interval plus the feed delay); the
// deadline is generous so that a loaded machine does not fail the test, and the measured time
// is logged.
const closeDeadline = 5 * time.Second

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is an account with an administrator and a bot user, and an edge serving on a free
// loopback port, all on a memstore. The edge stops when the test ends.
type fixture struct {
	addr  string
	admin identity.Principal
	acct  string
	bot   store.BotUser
	bots  *botuser.Service
	creds *credential.Service
	logs  *syncBuffer
	// shutdown stops the edge and waits for Serve to return (once; the test's cleanup calls it).
	shutdown func()
}

func newFixture(t *testing.T, opts ...tunnel.Option) *fixture {
	t.Helper()
	return newFixtureOn(t, "127.0.0.1:0", opts...)
}

// newFixtureOn is newFixture with the edge listening on listen.
func newFixtureOn(t *testing.T, listen string, opts ...tunnel.Option) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plans, err := identity.NewCatalog(identity.PayAsYouGo())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := rbac.New(st, plans)
	if err != nil {
		t.Fatal(err)
	}
	go authz.Run(ctx)
	dir, err := identity.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dir.CreateUser(ctx, "ops@example.com", "Ops")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := dir.CreateAccount(ctx, u.ID, "acme", identity.PayAsYouGo().Name)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dir.Principal(ctx, acct.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	bots, err := botuser.New(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	bot, err := bots.Create(ctx, admin, botuser.CreateParams{Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}

	v, err := credential.NewVerifier(st, credential.WithAuthorizer(authz))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := credential.NewService(st, authz)
	if err != nil {
		t.Fatal(err)
	}
	go v.Run(ctx)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))
	srv := tunnel.New(v, append([]tunnel.Option{tunnel.WithLogger(logger)}, opts...)...)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	shutdown := sync.OnceFunc(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v, want nil after cancellation", err)
			}
		case <-time.After(closeDeadline):
			t.Error("Serve did not return after its context was cancelled")
		}
	})
	t.Cleanup(shutdown)
	return &fixture{
		addr: ln.Addr().String(), admin: admin, acct: acct.ID, bot: bot,
		bots: bots, creds: creds, logs: logs, shutdown: shutdown,
	}
}

// authtoken issues an authtoken owned by the bot user.
func (f *fixture) authtoken(t *testing.T, req credential.CreateRequest) credential.Issued {
	t.Helper()
	req.Kind = cmpOr(req.Kind, store.Authtoken)
	req.OwnerID = f.bot.ID
	issued, err := f.creds.Create(t.Context(), f.admin, req)
	if err != nil {
		t.Fatalf("create credential: %v", err)
	}
	return issued
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func dial(t *testing.T, addr, token, bind string) (*tunnel.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := tunnel.Dial(ctx, addr, tunnel.Request{Authtoken: token, Bind: bind})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// wantCode checks that err is the edge's *tunnel.Error with the given code.
func wantCode(t *testing.T, err error, code string) *tunnel.Error {
	t.Helper()
	var te *tunnel.Error
	if !errors.As(err, &te) {
		t.Fatalf("got error %v, want a *tunnel.Error with code %s", err, code)
	}
	if te.Code != code {
		t.Fatalf("got %s (%s), want %s", te.Code, te.Msg, code)
	}
	return te
}

func TestSessionOpens(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{ACL: []string{"bind:*.ok.example.com"}})
	s, err := dial(t, f.addr, tok.Token.Reveal(), "app.ok.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	want := tunnel.Response{OK: true, AccountID: f.acct, CredentialID: tok.ID, OwnerID: f.bot.ID}
	if s.Response != want {
		t.Errorf("answer = %+v, want %+v", s.Response, want)
	}
}

func TestBindDeniedByACL(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{ACL: []string{
		"bind:*.ok.example.com", "bind:tcp.example.com:20002", "bind:edge=blue",
	}})
	for _, tc := range []struct {
		bind string
		code string // "" when allowed
	}{
		{"app.ok.example.com", ""},
		{"tcp.example.com:20002", ""},
		{"edge=blue", ""},
		{"app.other.example.com", tunnel.CodeBindNameDenied},
		{"ok.example.com", tunnel.CodeBindNameDenied},
		{"tcp.example.com:20003", tunnel.CodeBindAddressDenied},
		{"edge=green", tunnel.CodeBindLabelDenied},
	} {
		t.Run(tc.bind, func(t *testing.T) {
			s, err := dial(t, f.addr, tok.Token.Reveal(), tc.bind)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				s.Close()
				return
			}
			te := wantCode(t, err, tc.code)
			if !strings.Contains(te.Msg, tok.ID) {
				t.Errorf("message %q does not name the credential %s", te.Msg, tok.ID)
			}
		})
	}
}

func TestBadAuthtokens(t *testing.T) {
	f := newFixture(t)
	good := f.authtoken(t, credential.CreateRequest{})
	apiKey := f.authtoken(t, credential.CreateRequest{Kind: store.APIKey})
	// The right credential ID with another secret: well-formed, checksum and all, but unknown.
	forged, err := credential.NewToken(store.Authtoken, good.ID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mistyped := []byte(good.Token.Reveal())
	mistyped[len(mistyped)-10] ^= 'a' ^ 'b'
	for _, tc := range []struct {
		name, token, code string
	}{
		{"missing", "", tunnel.CodeAuthtokenMissing},
		{"garbage", "not-a-token", tunnel.CodeAuthtokenMalformed},
		{"mistyped", string(mistyped), tunnel.CodeAuthtokenMalformed},
		{"api key", apiKey.Token.Reveal(), tunnel.CodeAuthtokenMalformed},
		{"unknown", forged.Reveal(), tunnel.CodeAuthtokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, f.addr, tc.token, "app.example.com")
			wantCode(t, err, tc.code)
		})
	}
}

// rawExchange writes payload on a fresh connection and returns the line the edge answers.
func rawExchange(t *testing.T, addr string, payload []byte) tunnel.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		t.Fatalf("read answer: %v (got %q)", err, line)
	}
	var resp tunnel.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	// The edge closes the connection after refusing.
	if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("connection still open after a refusal: n=%d err=%v", n, err)
	}
	return resp
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{}).Token.Reveal()
	line := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		code    string
	}{
		{"oversized line", bytes.Repeat([]byte("a"), tunnel.MaxRequestLen+1000), tunnel.CodeRequestTooLarge},
		{"oversized json", append(line(map[string]string{
			"authtoken": tok, "bind": strings.Repeat("x", tunnel.MaxRequestLen)}), '\n'), tunnel.CodeRequestTooLarge},
		{"not json", []byte("hello\n"), tunnel.CodeBadRequest},
		{"wrong type", []byte(`{"authtoken":42,"bind":"a.example.com"}` + "\n"), tunnel.CodeBadRequest},
		{"no bind", line(map[string]string{"authtoken": tok}), tunnel.CodeBadRequest},
		{"invalid bind", line(map[string]string{"authtoken": tok, "bind": "not a host"}), tunnel.CodeBadRequest},
		{"wildcard bind", line(map[string]string{"authtoken": tok, "bind": "*"}), tunnel.CodeBadRequest},
		{"wildcard label", line(map[string]string{"authtoken": tok, "bind": "app=*"}), tunnel.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawExchange(t, f.addr, tc.payload)
			if resp.OK || resp.ErrorCode != tc.code {
				t.Errorf("answer %+v, want error code %s", resp, tc.code)
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	f := newFixture(t, tunnel.WithHandshakeTimeout(100*time.Millisecond))
	conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte(`{"authtoken":`)) // and nothing more
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	var resp tunnel.Response
	if err := json.Unmarshal(line, &resp); err != nil || resp.ErrorCode != tunnel.CodeBadRequest {
		t.Errorf("answer %s (%v), want %s", line, err, tunnel.CodeBadRequest)
	}
}

// waitClosed waits for the edge to close s, checks the closing code and returns how long it
// took from since.
func waitClosed(t *testing.T, s *tunnel.Session, since time.Time, code string) time.Duration {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.Wait() }()
	select {
	case err := <-errc:
		took := time.Since(since)
		wantCode(t, err, code)
		return took
	case <-time.After(closeDeadline):
		s.Close()
		t.Fatalf("session still open %v after its credential went bad", closeDeadline)
		return 0
	}
}

func TestSessionClosedOnRevocation(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{})
	s, err := dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	// Let a few checks pass, then revoke.
	time.Sleep(3 * tunnel.DefaultCheckInterval)
	start := time.Now()
	if err := f.creds.Delete(t.Context(), f.admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	took := waitClosed(t, s, start, tunnel.CodeAuthtokenRevoked)
	t.Logf("revocation to close: %v", took)

	_, err = dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	wantCode(t, err, tunnel.CodeAuthtokenRevoked)
}

func TestSessionClosedOnOwnerSuspended(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{})
	s, err := dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	time.Sleep(3 * tunnel.DefaultCheckInterval)
	inactive := false
	start := time.Now()
	if _, err := f.bots.Update(t.Context(), f.admin, f.bot.ID, botuser.UpdateParams{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	took := waitClosed(t, s, start, tunnel.CodeOwnerInactive)
	t.Logf("suspension to close: %v", took)

	_, err = dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	wantCode(t, err, tunnel.CodeOwnerInactive)
}

func TestSessionClosedWhenACLStopsAllowingBind(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{ACL: []string{"bind:app.example.com"}})
	s, err := dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	acl := []string{"bind:other.example.com"}
	start := time.Now()
	if _, err := f.creds.Update(t.Context(), f.admin, tok.ID, credential.UpdateRequest{ACL: &acl}); err != nil {
		t.Fatal(err)
	}
	took := waitClosed(t, s, start, tunnel.CodeBindNameDenied)
	t.Logf("ACL change to close: %v", took)
}

func TestSessionClosedOnExpiry(t *testing.T) {
	f := newFixture(t)
	expires := time.Now().Add(time.Second)
	tok := f.authtoken(t, credential.CreateRequest{ExpiresAt: expires})
	s, err := dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	took := waitClosed(t, s, expires, tunnel.CodeAuthtokenInvalid)
	t.Logf("expiry to close: %v", took)
}

func TestShutdownClosesSessions(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{})
	s, err := dial(t, f.addr, tok.Token.Reveal(), "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	// And a connection in the middle of its handshake.
	conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte(`{"bind":`))
	time.Sleep(50 * time.Millisecond) // let the edge start reading it

	start := time.Now()
	f.shutdown()
	t.Logf("shutdown took %v", time.Since(start))
	waitClosed(t, s, start, tunnel.CodeShutdown)
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	var resp tunnel.Response
	if err := json.Unmarshal(line, &resp); err != nil || resp.ErrorCode != tunnel.CodeShutdown {
		t.Errorf("answer %s (%v), want %s", line, err, tunnel.CodeShutdown)
	}
	if c, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after Serve returned")
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	f := newFixture(t)
	tok := f.authtoken(t, credential.CreateRequest{ACL: []string{"bind:app.example.com"}})
	secret := tok.Token.Reveal()
	s, err := dial(t, f.addr, secret, "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	s.Close()
	dial(t, f.addr, secret, "denied.example.com")
	dial(t, f.addr, secret[:len(secret)-1]+"x", "app.example.com")
	rawExchange(t, f.addr, []byte(`{"authtoken":"`+secret+`","bind":7}`+"\n"))
	if err := f.creds.Delete(t.Context(), f.admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	dial(t, f.addr, secret, "app.example.com")

	// Give the edge a moment to log the end of the first session.
	deadline := time.Now().Add(closeDeadline)
	for !strings.Contains(f.logs.String(), "tunnel session closed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, tok.ID) {
		t.Errorf("logs do not name the credential %s:\n%s", tok.ID, logs)
	}
	// The secret part is what must never appear; the public part (the ID body) may.
	secretPart := secret[len(secret)-credential.SecretLen-credential.ChecksumLen:]
	if strings.Contains(logs, secretPart) {
		t.Errorf("logs contain the token's secret:\n%s", logs)
	}
	req := tunnel.Request{Authtoken: secret, Bind: "b.example.com"}
	if got := fmt.Sprintf("%v %+v %#v %s", req, req, req, req); strings.Contains(got, secretPart) {
		t.Errorf("a formatted Request shows the token: %s", got)
	}
}

// TestAccessTokens: the edge takes an access token wherever it takes an authtoken, when its
// scopes include tunnel:start and its owner holds it; it refuses one without that scope or
// from an address its allow-list leaves out, and closes the session of one whose owner is
// demoted to a role without tunnel:start.
func TestAccessTokens(t *testing.T) {
	f := newFixture(t)
	agent := f.authtoken(t, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"tunnel:start"}, ACL: []string{"bind:*.example.com"}})
	apiOnly := f.authtoken(t, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"credentials:read"}})
	elsewhere := f.authtoken(t, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"tunnel:start"}, AllowedIPs: []string{"192.0.2.0/24"}})
	loopback := f.authtoken(t, credential.CreateRequest{Kind: store.AccessToken, Scopes: []string{"tunnel:start"}, AllowedIPs: []string{"127.0.0.0/8", "::1/128"}})
	for _, tc := range []struct {
		name, token, bind, code string
	}{
		{"tunnel_start", agent.Token.Reveal(), "app.example.com", ""},
		{"tunnel_start_outside_its_acl", agent.Token.Reveal(), "app.example.org", tunnel.CodeBindNameDenied},
		{"without_tunnel_start", apiOnly.Token.Reveal(), "app.example.com", tunnel.CodeNotScoped},
		{"from_an_address_not_allowed", elsewhere.Token.Reveal(), "app.example.com", tunnel.CodeIPNotAllowed},
		{"from_an_allowed_address", loopback.Token.Reveal(), "app.example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dial(t, f.addr, tc.token, tc.bind)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			s.Close()
		})
	}
	s, err := dial(t, f.addr, agent.Token.Reveal(), "app.example.com")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if s.Response.CredentialID != agent.ID || s.Response.OwnerID != f.bot.ID {
		t.Fatalf("answer %+v", s.Response)
	}
	start := time.Now()
	if _, err := f.bots.Update(t.Context(), f.admin, f.bot.ID, botuser.UpdateParams{Roles: &[]string{rbac.RoleTeamManager}}); err != nil {
		t.Fatal(err)
	}
	took := waitClosed(t, s, start, tunnel.CodeNotScoped)
	t.Logf("demotion to close: %v", took)
}

// TestAllowedIPsIPv6: an agent reaching the edge over IPv6 (from ::1) is let in by an
// allow-list naming its address or a prefix holding it, and refused by one naming only other
// IPv6 prefixes or only IPv4 ones; authtokens and access tokens alike.
func TestAllowedIPsIPv6(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs IPv6 loopback: %v", err)
		}
		t.Skipf("no IPv6 loopback: %v", err)
	}
	probe.Close()
	f := newFixtureOn(t, "[::1]:0")
	for _, tc := range []struct {
		name    string
		kind    store.CredentialKind
		allowed []string
		code    string // "" when allowed
	}{
		{"the_address", store.Authtoken, []string{"::1"}, ""},
		{"a_prefix_holding_it", store.Authtoken, []string{"192.0.2.0/24", "::/64"}, ""},
		{"other_ipv6_prefixes", store.Authtoken, []string{"2001:db8::/32", "fd00::/8"}, tunnel.CodeIPNotAllowed},
		{"ipv4_only", store.Authtoken, []string{"127.0.0.0/8"}, tunnel.CodeIPNotAllowed},
		{"access_token_the_address", store.AccessToken, []string{"::1/128"}, ""},
		{"access_token_elsewhere", store.AccessToken, []string{"2001:db8::/32"}, tunnel.CodeIPNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := credential.CreateRequest{Kind: tc.kind, AllowedIPs: tc.allowed}
			if tc.kind == store.AccessToken {
				req.Scopes = []string{"tunnel:start"}
			}
			s, err := dial(t, f.addr, f.authtoken(t, req).Token.Reveal(), "app.example.com")
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatalf("Dial over IPv6: %v", err)
			}
			s.Close()
		})
	}
}
