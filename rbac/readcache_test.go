package rbac_test

import (
	"errors"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestRequireRead_RefusesOnceTheFeedDelivers: reads authorized by RequireRead (botuser's Get
// and List) answer from the grant cache while it is live, and a change that takes the
// permission away (a removed member, a deactivated bot user, a downgraded role) refuses the
// next read once the feed has delivered it (Sync), as the cache's other readers do.
func TestRequireRead_RefusesOnceTheFeedDelivers(t *testing.T) {
	for _, c := range []struct {
		name string
		// setup makes the reader (holding bot_users:read) and returns the change that takes
		// bot_users:read away from it.
		setup    func(e *env, admin identity.Principal) (identity.Principal, func() error)
		wantCode string
	}{
		{"removed member", func(e *env, admin identity.Principal) (identity.Principal, func() error) {
			p := e.Member(admin, "dev@example.com", rbac.RoleDeveloperReadOnly)
			return p, func() error { return e.Dir.RemoveMember(e.Ctx, admin, p.ID) }
		}, rbac.CodeNotMember},
		{"deactivated bot user", func(e *env, admin identity.Principal) (identity.Principal, func() error) {
			p := e.bot(admin, "ci", rbac.RoleDeveloperReadOnly)
			off := false
			return p, func() error {
				_, err := e.bots.Update(e.Ctx, admin, p.ID, botuser.UpdateParams{Active: &off})
				return err
			}
		}, rbac.CodeInactive},
		{"downgraded role", func(e *env, admin identity.Principal) (identity.Principal, func() error) {
			p := e.Member(admin, "dev@example.com", rbac.RoleDeveloperReadOnly)
			return p, func() error {
				_, err := e.Dir.SetMemberRoles(e.Ctx, admin, p.ID, []string{rbac.RoleTeamManager})
				return err
			}
		}, rbac.CodeNoRole},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.run()
			_, admin := e.Account("a@example.com", "enterprise")
			p, change := c.setup(e, admin)
			e.sync()
			target := e.bot(admin, "target") // what Get reads
			reads := []struct {
				name string
				read func() error
			}{
				{"List", func() error { _, err := e.bots.List(e.Ctx, p, store.Page{Limit: 10}); return err }},
				{"Get", func() error { _, err := e.bots.Get(e.Ctx, p, target.ID); return err }},
			}
			for range 2 { // the second read answers from the grant the first cached
				for _, r := range reads {
					if err := r.read(); err != nil {
						t.Fatalf("%s before the change: %v", r.name, err)
					}
				}
			}
			if !e.Authz.Caching() {
				t.Fatal("the grant cache is off: the reads were not served from it")
			}
			if err := change(); err != nil {
				t.Fatal(err)
			}
			e.sync()
			for _, r := range reads {
				if err := r.read(); !errors.Is(err, store.ErrDenied) || store.CodeOf(err) != c.wantCode {
					t.Errorf("%s after the change and Sync: %v (code %q), want denied with %q", r.name, err, store.CodeOf(err), c.wantCode)
				}
			}
		})
	}
}
