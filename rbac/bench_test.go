package rbac_test

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// BenchmarkCheck is a warm Check: the principal's grants are cached and the feed is live.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b)
	e.run()
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper, rbac.RoleTeamInvite)
	e.check(dev, rbac.CredentialsWrite)
	for _, c := range []struct {
		name string
		perm rbac.Permission
	}{{"allow", rbac.CredentialsWrite}, {"deny", rbac.BillingManage}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Authz.Check(e.Ctx, dev, c.perm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// A principal acting with an access token: the same, and one more bit test in its scope.
	b.Run("scoped", func(b *testing.B) {
		tok := dev
		tok.CredentialID = "pat_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"
		tok.Scope = identity.ScopeOf(rbac.SetOf(rbac.CredentialsRead, rbac.CredentialsWrite))
		if d := e.check(tok, rbac.CredentialsWrite); !d.Allowed {
			b.Fatal(d)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Authz.Check(e.Ctx, tok, rbac.CredentialsWrite); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A permission the embedder registered, granted by Developer: the same bit test.
	b.Run("registered", func(b *testing.B) {
		e := newEnv(b, rbac.WithPermissions(embedder(b)))
		e.run()
		_, admin := e.Account("admin@example.com", "payg")
		dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper, rbac.RoleTeamInvite)
		write, err := e.Authz.Permission("endpoints:write")
		if err != nil {
			b.Fatal(err)
		}
		if d := e.check(dev, write); !d.Allowed {
			b.Fatal(d)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Authz.Check(e.Ctx, dev, write); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e.Authz.Check(e.Ctx, dev, rbac.CredentialsWrite)
			}
		})
	})
}

// BenchmarkCheckUncached is the fallback when no feed is followed: every Check compiles the
// principal's grants from the store (memstore).
func BenchmarkCheckUncached(b *testing.B) {
	e := newEnv(b)
	_, admin := e.Account("admin@example.com", "payg")
	dev := e.Member(admin, "dev@example.com", rbac.RoleDeveloper, rbac.RoleTeamInvite)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Authz.Check(e.Ctx, dev, rbac.CredentialsWrite); err != nil {
			b.Fatal(err)
		}
	}
}

// dataset is a large account: members holding custom roles. The casbin comparison loads
// the same one.
type dataset struct {
	account string
	roles   []store.Role
	members []store.Membership
	checks  []rbac.Permission // one per member, half of them granted
}

// grantable returns the permissions custom roles may hold.
func grantable() []rbac.Permission {
	reg, _ := rbac.NewPermissions()
	var ps []rbac.Permission
	for _, p := range reg.All() {
		if !rbac.AdminOnly().Has(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

func newDataset(nMembers, nRoles int) *dataset {
	r := rand.New(rand.NewPCG(1, 2))
	grantable := grantable()
	reg, _ := rbac.NewPermissions()
	g := id.NewGenerator(clock.NewFake(epoch), crand.Reader)
	acct, _ := g.New(id.Account)
	d := &dataset{account: acct}
	for i := range nRoles {
		rid, _ := g.NewIn(id.Role, acct)
		var perms rbac.Set
		for range 2 + r.IntN(4) {
			perms = perms.With(grantable[r.IntN(len(grantable))])
		}
		d.roles = append(d.roles, store.Role{ID: rid, AccountID: acct, Name: fmt.Sprintf("role-%d", i), Permissions: reg.Names(perms), CreatedAt: epoch})
	}
	for range nMembers {
		uid, _ := g.New(id.User)
		var roles []string
		for range 1 + r.IntN(3) {
			roles = append(roles, d.roles[r.IntN(nRoles)].ID)
		}
		d.members = append(d.members, store.Membership{AccountID: acct, UserID: uid, Roles: roles, Status: store.MemberActive, CreatedAt: epoch, UpdatedAt: epoch})
		d.checks = append(d.checks, grantable[r.IntN(len(grantable))])
	}
	return d
}

func (e *env) load(d *dataset) {
	e.T.Helper()
	ctx := e.Ctx
	err := e.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: d.account, Name: "big", Plan: identity.Enterprise().Name, CreatedAt: epoch}); err != nil {
			return err
		}
		for _, r := range d.roles {
			if err := tx.PutRole(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.T.Fatal(err)
	}
	for i := 0; i < len(d.members); i += 1000 {
		err := e.Store.Update(ctx, func(tx store.Tx) error {
			for _, m := range d.members[i:min(i+1000, len(d.members))] {
				if err := tx.PutUser(ctx, store.User{ID: m.UserID, Email: m.UserID + "@example.com", CreatedAt: epoch}); err != nil {
					return err
				}
				if err := tx.PutMembership(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.T.Fatal(err)
		}
	}
}

func (d *dataset) principals() []identity.Principal {
	ps := make([]identity.Principal, len(d.members))
	for i, m := range d.members {
		ps[i] = identity.Principal{ID: m.UserID, Kind: identity.KindUser, AccountID: d.account, Subject: m.UserID + "@example.com", Source: identity.SourceAPI}
	}
	return ps
}

// BenchmarkCheck10kMembers50CustomRoles checks a different member of a 10,000-member
// account with 50 custom roles each time, all warm.
func BenchmarkCheck10kMembers50CustomRoles(b *testing.B) {
	e := newEnv(b)
	d := newDataset(10000, 50)
	e.load(d)
	e.run()
	ps := d.principals()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	allowed := 0
	for i, p := range ps {
		dec, err := e.Authz.Check(context.Background(), p, d.checks[i])
		if err != nil {
			b.Fatal(err)
		}
		if dec.Allowed {
			allowed++
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := e.Authz.Check(e.Ctx, ps[i], d.checks[i]); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(ps) {
			i = 0
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(ps)), "cache-B/principal")
	b.ReportMetric(float64(allowed)/float64(len(ps)), "allowed-ratio")
}

// BenchmarkCompile10kMembers50CustomRoles is the cold path in the same account: compiling
// one member's grants from memstore.
func BenchmarkCompile10kMembers50CustomRoles(b *testing.B) {
	e := newEnv(b)
	d := newDataset(10000, 50)
	e.load(d)
	ps := d.principals()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.Authz.Check(e.Ctx, ps[i], d.checks[i]); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(ps)
	}
}
