package sso_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// BenchmarkPassword measures Argon2id with the default parameters (OWASP's minimum,
// m=19456 KiB, t=2, p=1): hashing a new password and verifying a sign-in, which costs the
// same whether the user exists (its hash) or not (the dummy hash).
func BenchmarkPassword(b *testing.B) {
	e := newEnv(b, ssoPlan.Name)
	d, err := sso.NewDashboard(e.svc)
	if err != nil {
		b.Fatal(err)
	}
	de := &dashEnv{env: e, dash: d}
	u := de.member("alice@example.com", "developer")
	b.Run("set_password", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := d.SetInitialPassword(e.ctx, e.user("x"+randSuffix(b)+"@example.com").ID, goodPassword); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := d.SetInitialPassword(e.ctx, u.ID, goodPassword); err != nil {
		b.Fatal(err)
	}
	lenient := sso.WithThrottle(sso.Throttle{PerUser: []store.Rate{{Limit: 1 << 30, Period: time.Second}}})
	d, err = sso.NewDashboard(e.svc, lenient)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, email, password string }{
		{"sign_in_wrong_password", "alice@example.com", "not the password"},
		{"sign_in_unknown_email", "nobody@example.com", goodPassword},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := d.SignIn(e.ctx, sso.SignInRequest{AccountID: e.acct.ID, Email: c.email, Password: c.password})
				if store.CodeOf(err) != sso.CodeBadCredentials {
					b.Fatal(err)
				}
			}
		})
	}
}

func randSuffix(b *testing.B) string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	const hexd = "0123456789abcdef"
	out := make([]byte, 16)
	for i, c := range r {
		out[2*i], out[2*i+1] = hexd[c>>4], hexd[c&15]
	}
	return string(out)
}

// BenchmarkVerifySession measures verifying a session token on the dashboard's every request:
// memstore, and Redis (one round trip for the session, one pipeline for its account,
// membership, secrets and IdP). The clock does not move, so no last-use write happens: that
// is at most one small write a minute per session.
func BenchmarkVerifySession(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		e := newDash(b, ssoPlan.Name)
		e.withPassword("alice@example.com", "developer")
		_, tok := e.session("alice@example.com")
		benchVerify(b, e.dash, e.ctx, e.acct.ID, tok)
	})
	b.Run("redis", func(b *testing.B) {
		d, ctx, acct, tok := redisDashboard(b)
		benchVerify(b, d, ctx, acct, tok)
	})
	b.Run("malformed", func(b *testing.B) {
		e := newDash(b, ssoPlan.Name)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.dash.Verify(e.ctx, e.acct.ID, "ias_not_a_token"); store.CodeOf(err) != sso.CodeSessionInvalid {
				b.Fatal(err)
			}
		}
	})
}

func benchVerify(b *testing.B, d *sso.Dashboard, ctx context.Context, accountID, tok string) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Verify(ctx, accountID, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// redisDashboard is a Dashboard on Redis with an account, a member and one of its sessions.
func redisDashboard(b *testing.B) (*sso.Dashboard, context.Context, string, string) {
	srv := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	ctx := b.Context()
	st, err := redisstore.New(ctx, c, redisstore.WithPrefix(srv.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close(); c.Close() })
	clk := clock.NewFake(time.Now().UTC())
	plans, err := identity.NewCatalog(identity.Enterprise())
	if err != nil {
		b.Fatal(err)
	}
	authz, err := rbac.New(st, plans, rbac.WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	dir, err := identity.New(st, authz, identity.WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := sso.New(st, authz, "https://dash.example.com", sso.WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	d, err := sso.NewDashboard(svc, sso.WithPasswordParams(cheapParams()))
	if err != nil {
		b.Fatal(err)
	}
	u, err := dir.CreateUser(ctx, "alice@example.com", "")
	if err != nil {
		b.Fatal(err)
	}
	acct, err := dir.CreateAccount(ctx, u.ID, "acme", identity.Enterprise().Name)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.SetInitialPassword(ctx, u.ID, goodPassword); err != nil {
		b.Fatal(err)
	}
	res, err := d.SignIn(ctx, sso.SignInRequest{AccountID: acct.ID, Email: "alice@example.com", Password: goodPassword})
	if err != nil {
		b.Fatal(err)
	}
	return d, ctx, acct.ID, res.Token.Reveal()
}
