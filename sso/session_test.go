package sso_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

func wantRevoked(t *testing.T, err error, reason sso.LoginReason) {
	t.Helper()
	if store.CodeOf(err) != sso.CodeSessionRevoked || !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("error %v, want a revoked session", err)
	}
	var got sso.LoginReason
	if reason != "" && (!errors.As(err, &got) || got != reason) {
		t.Fatalf("error %v, want reason %s", err, reason)
	}
}

// TestSessionEnforcement: a session's login method is re-checked against the account's
// current enforcement and the membership on every VerifySession.
func TestSessionEnforcement(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method sso.LoginMethod
		change func(e *env, userID string, idp *testIdP)
		revoke sso.LoginReason // empty: still valid; "-": revoked without a policy decision
	}{
		{"password, still off", sso.MethodPassword, func(*env, string, *testIdP) {}, ""},
		{"password, then mixed: grandfathered", sso.MethodPassword, func(e *env, _ string, _ *testIdP) {
			e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementMixed)
		}, ""},
		{"password, then enforced", sso.MethodPassword, func(e *env, _ string, _ *testIdP) {
			e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
		}, sso.ReasonSSOEnforced},
		{"oauth, then enforced", sso.MethodOAuth, func(e *env, _ string, _ *testIdP) {
			e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
		}, sso.ReasonSSOEnforced},
		{"password, mixed, member re-added since", sso.MethodPassword, func(e *env, userID string, _ *testIdP) {
			e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementMixed)
			if err := e.dir.RemoveMember(e.ctx, e.admin, userID); err != nil {
				e.t.Fatal(err)
			}
			if _, err := e.dir.AddMember(e.ctx, e.admin, userID, nil); err != nil {
				e.t.Fatal(err)
			}
		}, sso.ReasonSSORequired},
		{"sso, then enforced", sso.MethodSSO, func(e *env, _ string, _ *testIdP) {
			e.setSettings(sso.ProvisioningInviteOnly, sso.EnforcementEnforced)
		}, ""},
		{"password, member disabled", sso.MethodPassword, func(e *env, userID string, _ *testIdP) {
			if _, err := e.dir.DisableMember(e.ctx, e.admin, userID); err != nil {
				e.t.Fatal(err)
			}
		}, sso.ReasonMemberDisabled},
		{"sso, member removed", sso.MethodSSO, func(e *env, userID string, _ *testIdP) {
			if err := e.dir.RemoveMember(e.ctx, e.admin, userID); err != nil {
				e.t.Fatal(err)
			}
		}, sso.ReasonNotMember},
		{"sso, IdP deleted", sso.MethodSSO, func(e *env, _ string, idp *testIdP) {
			if err := e.svc.DeleteIdentityProvider(e.ctx, e.admin, idp.rec.ID); err != nil {
				e.t.Fatal(err)
			}
		}, "-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, identity.Enterprise().Name)
			idp := e.newIdP(sso.IdPParams{})
			e.newIdP(sso.IdPParams{}) // a second IdP, so the first may be deleted under enforcement
			u := e.member("alice@example.com", rbac.RoleDeveloper)
			idpID := ""
			if c.method == sso.MethodSSO {
				idpID = idp.rec.ID
			}
			tok, issued, err := e.sessions.IssueSession(e.ctx, e.principal(u.ID), c.method, idpID)
			if err != nil {
				t.Fatal(err)
			}
			if issued.UserID != u.ID || issued.AccountID != e.acct.ID || issued.Method != c.method || issued.IdPID != idpID {
				t.Fatalf("issued %+v", issued)
			}
			e.tick()
			c.change(e, u.ID, idp)
			s, err := e.sessions.VerifySession(e.ctx, e.acct.ID, tok)
			switch c.revoke {
			case "":
				if err != nil || s != issued {
					t.Fatalf("session %+v (issued %+v): %v", s, issued, err)
				}
			case "-":
				wantRevoked(t, err, "")
			default:
				wantRevoked(t, err, c.revoke)
				// And no new session of that kind is issued either.
				if c.revoke != sso.ReasonNotMember {
					_, _, err := e.sessions.IssueSession(e.ctx, e.principal(u.ID), c.method, idpID)
					wantDenied(t, err, c.revoke)
				}
			}
		})
	}
}

func TestSessionTokenChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	u := e.member("alice@example.com")
	tok, _, err := e.sessions.IssueSession(e.ctx, e.principal(u.ID), sso.MethodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.MapClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &claims)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Method.Alg() != "EdDSA" || claims["account_id"] != e.acct.ID || claims["sub"] != u.ID ||
		claims["login_method"] != "password" || claims["jti"] == "" {
		t.Fatalf("claims %v (%s)", claims, parsed.Method.Alg())
	}
	resign := func(m jwt.SigningMethod, key any, edit func(jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if edit != nil {
			edit(c)
		}
		tk := jwt.NewWithClaims(m, c)
		tk.Header["kid"] = parsed.Header["kid"]
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	pub := e.key.Public().(ed25519.PublicKey)
	parts := strings.Split(tok, ".")

	bad := map[string]string{
		"alg none":             resign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil),
		"HS256 with pub key":   resign(jwt.SigningMethodHS256, []byte(pub), nil),
		"other Ed25519 key":    resign(jwt.SigningMethodEdDSA, otherEd, nil),
		"edited payload":       parts[0] + "." + resign(jwt.SigningMethodEdDSA, otherEd, func(c jwt.MapClaims) { c["sub"] = "usr_x" })[len(parts[0])+1:],
		"no signature":         parts[0] + "." + parts[1] + ".",
		"empty":                "",
		"garbage":              "not.a.token",
		"too long":             tok + strings.Repeat("A", sso.MaxSessionTokenLen),
		"bot subject":          resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { c["sub"] = "bot_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ" }),
		"no expiry":            resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { delete(c, "exp") }),
		"other issuer":         resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { c["iss"] = "elsewhere" }),
		"sso without idp":      resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { c["login_method"] = "sso" }),
		"year-long lifetime":   resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { c["exp"] = c["iat"].(float64) + 365*86400 }),
		"issued in the future": resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { c["iat"] = c["iat"].(float64) + 3600 }),
		"other account":        resign(jwt.SigningMethodEdDSA, e.key, func(c jwt.MapClaims) { c["account_id"] = "ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ" }),
	}
	for name, b := range bad {
		if _, err := e.sessions.VerifySession(e.ctx, e.acct.ID, b); store.CodeOf(err) != sso.CodeSessionInvalid {
			t.Errorf("%s: %v, want ErrInvalidSession", name, err)
		}
	}
	if _, err := e.sessions.VerifySession(e.ctx, e.acct.ID, tok); err != nil {
		t.Fatal(err)
	}

	// Rotation: a Sessions with a new key still verifies the old key's tokens.
	_, newKey, _ := ed25519.GenerateKey(rand.Reader)
	rotated, err := sso.NewSessions(e.svc, newKey, sso.WithVerificationKeys(pub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.VerifySession(e.ctx, e.acct.ID, tok); err != nil {
		t.Fatalf("rotated: %v", err)
	}
	// Expiry by the injected clock.
	e.clk.Advance(time.Hour + time.Second)
	_, err = e.sessions.VerifySession(e.ctx, e.acct.ID, tok)
	wantCode(t, err, sso.CodeSessionInvalid)
}

func TestSessionKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := sso.NewSessions(e.svc, ec)
	if err != nil {
		t.Fatal(err)
	}
	u := e.member("alice@example.com")
	tok, _, err := s.IssueSession(e.ctx, e.principal(u.ID), sso.MethodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{}); p.Method.Alg() != "ES256" {
		t.Fatalf("alg %s", p.Method.Alg())
	}
	if _, err := s.VerifySession(e.ctx, e.acct.ID, tok); err != nil {
		t.Fatal(err)
	}
	// The EdDSA Sessions does not accept the ES256 token, nor the reverse.
	_, err = e.sessions.VerifySession(e.ctx, e.acct.ID, tok)
	wantCode(t, err, sso.CodeSessionInvalid)

	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, err = sso.NewSessions(e.svc, ec384)
	wantCode(t, err, sso.CodeConfigInvalid)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err = sso.NewSessions(e.svc, rsaKey)
	wantCode(t, err, sso.CodeConfigInvalid)
	_, err = sso.NewSessions(e.svc, e.key, sso.WithVerificationKeys(&ec.PublicKey))
	wantCode(t, err, sso.CodeConfigInvalid)
	_, err = sso.NewSessions(e.svc, e.key, sso.WithSessionTTL(48*time.Hour))
	wantCode(t, err, sso.CodeConfigInvalid)
}

// FuzzVerifySession: no input panics the session parser, and nothing but the token this
// Sessions issued verifies.
func FuzzVerifySession(f *testing.F) {
	e := newEnv(f, identity.Enterprise().Name)
	u := e.member("alice@example.com")
	valid, _, err := e.sessions.IssueSession(e.ctx, e.principal(u.ID), sso.MethodPassword, "")
	if err != nil {
		f.Fatal(err)
	}
	other := "ac_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
	for _, tok := range []string{valid, valid[:len(valid)-2], strings.Replace(valid, ".", "..", 1), "", "a.b.c",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfeCJ9.", "eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.e30.AAAA"} {
		f.Add(e.acct.ID, tok)
	}
	f.Add(other, valid)
	f.Add("", valid)
	f.Add(strings.ToLower(e.acct.ID), valid)
	f.Fuzz(func(t *testing.T, accountID, tok string) {
		s, err := e.sessions.VerifySession(e.ctx, accountID, tok)
		if err == nil {
			if tok != valid || accountID != e.acct.ID || s.UserID != u.ID || s.AccountID != accountID {
				t.Fatalf("accepted a token it did not issue for this account: %q %+v", accountID, s)
			}
			return
		}
		if store.CodeOf(err) != sso.CodeSessionInvalid && store.CodeOf(err) != sso.CodeSessionRevoked && !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
