//go:build casbin

// The casbin comparison needs github.com/casbin/casbin/v2, a test-only dependency kept out
// of the default build: go get github.com/casbin/casbin/v2, then
// go test -tags casbin -run '^$' -bench . ./rbac

package rbac_test

import (
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"github.com/iamkit/iamkit/rbac"
)

// casbinModel is RBAC with domains: the equivalent of a member's roles in an account.
const casbinModel = `
[request_definition]
r = sub, dom, act
[policy_definition]
p = sub, dom, act
[role_definition]
g = _, _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.act == p.act
`

type enforcer interface {
	Enforce(rvals ...any) (bool, error)
}

func newCasbin(b *testing.B, d *dataset, cached bool) enforcer {
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		b.Fatal(err)
	}
	var e *casbin.Enforcer
	var out enforcer
	if cached {
		ce, err := casbin.NewCachedEnforcer(m)
		if err != nil {
			b.Fatal(err)
		}
		e, out = ce.Enforcer, ce
	} else {
		if e, err = casbin.NewEnforcer(m); err != nil {
			b.Fatal(err)
		}
		out = e
	}
	var policies, groupings [][]string
	reg, err := rbac.NewPermissions()
	if err != nil {
		b.Fatal(err)
	}
	for _, bi := range rbac.BuiltinRoles() {
		for _, p := range reg.Names(bi.Permissions) {
			policies = append(policies, []string{bi.Name, d.account, p})
		}
	}
	for _, r := range d.roles {
		for _, p := range r.Permissions {
			policies = append(policies, []string{r.ID, d.account, p})
		}
	}
	for _, m := range d.members {
		for _, r := range m.Roles {
			groupings = append(groupings, []string{m.UserID, r, d.account})
		}
	}
	if _, err := e.AddPolicies(policies); err != nil {
		b.Fatal(err)
	}
	if len(groupings) > 0 {
		if _, err := e.AddGroupingPolicies(groupings); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkCasbinCheck is BenchmarkCheck's question asked of casbin: one member holding
// developer and team_invite.
func BenchmarkCasbinCheck(b *testing.B) {
	d := newDataset(0, 1)
	user := "usr_01JGJFGR48G94QJP8HWVXXSKE8CQ91"
	for _, cached := range []bool{false, true} {
		name := "enforcer"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			dd := *d
			e := newCasbin(b, &dd, cached)
			addGrouping(b, e, user, dd.account, rbac.RoleDeveloper, rbac.RoleTeamInvite)
			for _, c := range []struct {
				name string
				perm rbac.Permission
			}{{"allow", rbac.CredentialsWrite}, {"deny", rbac.BillingManage}} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					act := builtins(b).Name(c.perm)
					for b.Loop() {
						if _, err := e.Enforce(user, dd.account, act); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func addGrouping(b *testing.B, e enforcer, user, dom string, roles ...string) {
	var g interface {
		AddGroupingPolicy(params ...any) (bool, error)
	}
	switch x := e.(type) {
	case *casbin.Enforcer:
		g = x
	case *casbin.CachedEnforcer:
		g = x
	}
	for _, r := range roles {
		if _, err := g.AddGroupingPolicy(user, r, dom); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCasbin10kMembers50CustomRoles asks casbin BenchmarkCheck10kMembers50CustomRoles's
// questions on the same data set.
func BenchmarkCasbin10kMembers50CustomRoles(b *testing.B) {
	d := newDataset(10000, 50)
	for _, cached := range []bool{false, true} {
		name := "enforcer"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			e := newCasbin(b, d, cached)
			acts := make([]string, len(d.checks))
			allowed := 0
			for i, p := range d.checks {
				acts[i] = builtins(b).Name(p)
				ok, err := e.Enforce(d.members[i].UserID, d.account, acts[i]) // warm the cache
				if err != nil {
					b.Fatal(err)
				}
				if ok {
					allowed++
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := e.Enforce(d.members[i].UserID, d.account, acts[i]); err != nil {
					b.Fatal(err)
				}
				i = (i + 1) % len(d.members)
			}
			b.ReportMetric(float64(allowed)/float64(len(d.members)), "allowed-ratio")
		})
	}
}
