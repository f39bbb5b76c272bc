package credential_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// wantReason fails unless err is the rejection r.
func wantReason(t *testing.T, what string, err error, r credential.Reason) {
	t.Helper()
	if !errors.Is(err, r) {
		t.Fatalf("%s: %v, want %s", what, err, r)
	}
}

// TestVerify_ExpiresAtTheInstant: with an injected clock (read on every call, exactly) a
// credential is accepted until the instant it expires and refused from that instant on: an
// expired token is refused within 1 ms of its expiry, and here within a nanosecond. No time
// to live, no cache lag: the cached entry is checked against the clock on every call.
func TestVerify_ExpiresAtTheInstant(t *testing.T) {
	e := newEnv(t)
	expires := e.clock.Now().Add(time.Hour)
	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken} {
		tok, _ := e.issue(kind, e.bot, func(c *store.Credential) { c.ExpiresAt = expires })
		t.Run(string(kind), func(t *testing.T) {
			for _, c := range []struct {
				at     time.Duration // from the expiry
				accept bool
			}{
				{-time.Millisecond, true},
				{-time.Nanosecond, true},
				{0, false},
				{time.Nanosecond, false},
				{time.Millisecond, false},
			} {
				e.clock.Set(expires.Add(c.at))
				res, err := e.v.VerifyToken(e.ctx, tok.Reveal())
				if c.accept {
					if err != nil || !res.ExpiresAt.Equal(expires) {
						t.Fatalf("%v from the expiry: %v, %v; want accepted, expiring at %v", c.at, res.ExpiresAt, err, expires)
					}
					continue
				}
				wantReason(t, c.at.String()+" from the expiry", err, credential.ReasonExpired)
			}
		})
	}
	if s := e.v.Stats(); s.Hits == 0 {
		t.Fatalf("the verifications were not answered from the cache: %+v", s)
	}
}

// TestVerifyFrom_AllowedIPs: a credential with an address allow-list is accepted only from
// an address in it, IPv4 or IPv6 (an IPv4 client through a dual-stack listener counts as
// IPv4), and refused from anywhere else and from an unknown address (Verify, which knows
// none); a credential without one is accepted from anywhere.
func TestVerifyFrom_AllowedIPs(t *testing.T) {
	e := newEnv(t)
	listed, _ := e.issue(store.APIKey, e.bot, func(c *store.Credential) {
		c.AllowedIPs = []string{"192.0.2.0/24", "10.1.0.0/16", "2001:db8:1::/48", "fd00::7/128"}
	})
	open, _ := e.issue(store.APIKey, e.bot, nil)
	for _, c := range []struct {
		addr   string // "" for the zero Addr
		accept bool
	}{
		{"192.0.2.1", true},
		{"192.0.2.255", true},
		{"10.1.200.3", true},
		{"::ffff:10.1.0.9", true},
		{"2001:db8:1:ffff::1", true},
		{"fd00::7", true},
		{"192.0.3.1", false},
		{"10.2.0.1", false},
		{"2001:db8:2::1", false},
		{"fd00::8", false},
		{"", false},
	} {
		var addr netip.Addr
		if c.addr != "" {
			addr = netip.MustParseAddr(c.addr)
		}
		_, err := e.v.VerifyFrom(e.ctx, store.APIKey, listed.Reveal(), addr)
		if c.accept != (err == nil) {
			t.Errorf("the listed key from %q: %v, want accepted %v", c.addr, err, c.accept)
		}
		if !c.accept && !errors.Is(err, credential.ReasonIPNotAllowed) {
			t.Errorf("the listed key from %q: %v, want ReasonIPNotAllowed", c.addr, err)
		}
		if _, err := e.v.VerifyTokenFrom(e.ctx, open.Reveal(), addr); err != nil {
			t.Errorf("a key without an allow-list from %q: %v", c.addr, err)
		}
	}
	_, err := e.v.Verify(e.ctx, store.APIKey, listed.Reveal())
	wantReason(t, "Verify, which knows no address", err, credential.ReasonIPNotAllowed)
	if store.CodeOf(err) != credential.CodeIPNotAllowed || !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("ReasonIPNotAllowed: code %s", store.CodeOf(err))
	}
	// A new allow-list reaches the cache through the feed.
	e.update(func(tx store.Tx) error {
		c, err := tx.Credential(e.ctx, listed.Token().CredentialID())
		if err != nil {
			return err
		}
		c.AllowedIPs = []string{"203.0.113.0/24"}
		return tx.PutCredential(e.ctx, c)
	})
	_, err = e.v.VerifyFrom(e.ctx, store.APIKey, listed.Reveal(), netip.MustParseAddr("192.0.2.1"))
	wantReason(t, "an address the new list leaves out", err, credential.ReasonIPNotAllowed)
	if _, err := e.v.VerifyFrom(e.ctx, store.APIKey, listed.Reveal(), netip.MustParseAddr("203.0.113.9")); err != nil {
		t.Fatalf("an address of the new list: %v", err)
	}
}

// TestVerify_AccessTokenScope: an access token's Result carries its scopes, compiled with
// the Authorizer's registry, and so does the principal it builds; other kinds carry none.
func TestVerify_AccessTokenScope(t *testing.T) {
	e := newEnv(t)
	tok, c := e.issue(store.AccessToken, e.bot, func(c *store.Credential) {
		c.Scopes = []string{"credentials:read", "tunnel:start", "widgets:fly"} // the last is no permission
	})
	res, err := e.v.VerifyToken(e.ctx, tok.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	want := identity.ScopeOf(rbac.SetOf(rbac.CredentialsRead, rbac.TunnelStart))
	if res.Kind != store.AccessToken || res.CredentialID != c.ID || res.Scope != want {
		t.Fatalf("Result = %+v, want an access token scoped to credentials:read and tunnel:start", res)
	}
	p := res.Principal(identity.SourceAPI)
	if p.Scope != want || p.CredentialID != c.ID || p.Validate() != nil {
		t.Fatalf("Principal = %+v", p)
	}
	key, _ := e.issue(store.APIKey, e.bot, nil)
	if res, err := e.v.VerifyToken(e.ctx, key.Reveal()); err != nil || res.Scope.Limited() {
		t.Fatalf("an API key's Result: %+v, %v", res, err)
	}
}

// TestVerifyAgent: the tunnel edge's verification admits authtokens and access tokens that
// may start agent sessions (scope tunnel:start, held by the owner); it refuses other access
// tokens, access tokens whose owner was demoted, API keys, and every access token when the
// Verifier has no Authorizer.
func TestVerifyAgent(t *testing.T) {
	e := newEnv(t)
	// payg has RBAC: the bot user can be demoted to a role without tunnel:start.
	authtoken, _ := e.issue(store.Authtoken, e.bot, nil)
	agent, _ := e.issue(store.AccessToken, e.bot, func(c *store.Credential) { c.Scopes = []string{"tunnel:start"} })
	apiOnly, _ := e.issue(store.AccessToken, e.bot, func(c *store.Credential) { c.Scopes = []string{"credentials:read"} })
	apiKey, _ := e.issue(store.APIKey, e.bot, nil)
	addr := netip.MustParseAddr("198.51.100.4")
	for _, c := range []struct {
		name   string
		token  string
		reason credential.Reason // 0: accepted
	}{
		{"authtoken", authtoken.Reveal(), 0},
		{"access_token_with_tunnel_start", agent.Reveal(), 0},
		{"access_token_without_tunnel_start", apiOnly.Reveal(), credential.ReasonNotScoped},
		{"api_key", apiKey.Reveal(), credential.ReasonWrongKind},
		{"malformed", "iap_nope", credential.ReasonMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.v.VerifyAgent(e.ctx, c.token, addr)
			if c.reason == 0 {
				if err != nil || res.OwnerID != e.bot {
					t.Fatalf("VerifyAgent: %+v, %v", res, err)
				}
				return
			}
			wantReason(t, "VerifyAgent", err, c.reason)
		})
	}
	// Demoted to team_manager, which does not grant tunnel:start, the bot user's access
	// token no longer starts agents; its authtoken, unscoped, still does.
	e.update(func(tx store.Tx) error {
		b, err := tx.BotUser(e.ctx, e.bot)
		if err != nil {
			return err
		}
		b.Roles = []string{rbac.RoleTeamManager}
		return tx.PutBotUser(e.ctx, b)
	})
	_, err := e.v.VerifyAgent(e.ctx, agent.Reveal(), addr)
	wantReason(t, "the access token of a demoted owner", err, credential.ReasonNotScoped)
	if _, err := e.v.VerifyAgent(e.ctx, authtoken.Reveal(), addr); err != nil {
		t.Fatalf("the authtoken of the demoted owner: %v", err)
	}
	// Without an Authorizer, no access token starts an agent.
	bare := verifier(t, e.st, credential.WithClock(e.clock))
	_, err = bare.VerifyAgent(e.ctx, agent.Reveal(), addr)
	wantReason(t, "a Verifier without an Authorizer", err, credential.ReasonNotScoped)
}

// TestVerify_TestTokensAreNeverLookedUp: a test token (NewTestToken) parses, but every
// verification refuses it as unknown without reading the store.
func TestVerify_TestTokensAreNeverLookedUp(t *testing.T) {
	e := newEnv(t)
	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken} {
		tok, err := credential.NewTestToken(kind, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		before := e.st.views.Load()
		_, err = e.v.VerifyToken(e.ctx, tok)
		wantReason(t, string(kind)+" test token", err, credential.ReasonUnknown)
		_, err = e.v.VerifyAgent(e.ctx, tok, netip.Addr{})
		if kind != store.APIKey {
			wantReason(t, string(kind)+" test token at the edge", err, credential.ReasonUnknown)
		}
		if got := e.st.views.Load(); got != before {
			t.Fatalf("%s test token: %d store reads", kind, got-before)
		}
	}
}

// TestLastUse_RecordsTheAddress: the last use the Verifier records off the hot path carries
// the client's address (an IPv4 client through a dual-stack listener as IPv4), and no
// address when the verification had none.
func TestLastUse_RecordsTheAddress(t *testing.T) {
	e := newEnv(t, credential.WithLastUsedInterval(time.Hour))
	v4, _ := e.issue(store.Authtoken, e.bot, nil)
	v6, _ := e.issue(store.AccessToken, e.bot, nil)
	unknown, _ := e.issue(store.APIKey, e.bot, nil)
	if _, err := e.v.VerifyTokenFrom(e.ctx, v4.Reveal(), netip.MustParseAddr("::ffff:192.0.2.44")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.VerifyTokenFrom(e.ctx, v6.Reveal(), netip.MustParseAddr("fe80::9%eth0")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.VerifyToken(e.ctx, unknown.Reveal()); err != nil {
		t.Fatal(err)
	}
	e.v.FlushUsage(context.WithoutCancel(e.ctx))
	for _, c := range []struct {
		tok  credential.Secret
		want string
	}{{v4, "192.0.2.44"}, {v6, "fe80::9"}, {unknown, ""}} {
		var got store.Credential
		err := e.inner.View(e.ctx, func(r store.Reader) error {
			var err error
			got, err = r.Credential(e.ctx, c.tok.Token().CredentialID())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var want netip.Addr
		if c.want != "" {
			want = netip.MustParseAddr(c.want)
		}
		if got.LastUsedAt.IsZero() || got.LastUsedIP != want {
			t.Errorf("%s: last used %v from %v, want from %v", got.ID, got.LastUsedAt, got.LastUsedIP, want)
		}
	}
}

// TestVerifyFrom_HitDoesNotAllocate: a cache hit of an access token with scopes and a full
// address allow-list makes no allocation, as one without them.
func TestVerifyFrom_HitDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	var allowed []string
	for i := range credential.MaxAllowedIPs / 2 {
		allowed = append(allowed, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16).String(),
			netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 48).String())
	}
	restricted, _ := e.issue(store.AccessToken, e.bot, func(c *store.Credential) {
		c.Scopes, c.AllowedIPs = []string{"credentials:read", "tunnel:start", "events:read"}, allowed
	})
	plain, _ := e.issue(store.Authtoken, e.bot, nil)
	for _, c := range []struct {
		name  string
		token string
		addr  netip.Addr
	}{
		{"restricted_ipv4", restricted.Reveal(), netip.MustParseAddr("10.15.1.1")},
		{"restricted_ipv6", restricted.Reveal(), netip.MustParseAddr("2001:db8:f::1")},
		{"plain", plain.Reveal(), netip.MustParseAddr("10.15.1.1")},
	} {
		if _, err := e.v.VerifyTokenFrom(e.ctx, c.token, c.addr); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := testing.AllocsPerRun(100, func() { e.v.VerifyTokenFrom(e.ctx, c.token, c.addr) }); n != 0 {
			t.Errorf("%s: a cache hit allocates %v times", c.name, n)
		}
	}
}
