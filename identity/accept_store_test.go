package identity_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/internal/testenv"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// backend opens a store on a fake clock.
type backend struct {
	name string
	open func(t *testing.T, clk *clock.Fake) store.Store
}

var backends = []backend{
	{"memstore", func(t *testing.T, clk *clock.Fake) store.Store {
		return testenv.Mem(t, clk)
	}},
	{"redis cluster", func(t *testing.T, clk *clock.Fake) store.Store {
		cl := redistest.StartCluster(t, 3)
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		t.Cleanup(func() { c.Close() })
		st, err := redisstore.New(t.Context(), c, redisstore.WithPrefix(redistest.UniquePrefix()), redisstore.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// TestAcceptInvitationToken_OneTransaction: an acceptance is checked completely before
// anything is written, and writes the new user, the membership, the invitation's deletion
// and the events in one store.Update, which on Redis Cluster is one bucket (the user's ID
// carries the account's shard tag). A refused acceptance (expired, wrong or malformed token,
// revoked invitation, invalid name, already a member) stores nothing: no user, no event,
// the invitation untouched.
func TestAcceptInvitationToken_OneTransaction(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			clk := clock.NewFake(testenv.Epoch())
			st := b.open(t, clk)
			plans, err := identity.NewCatalog(identity.Enterprise())
			if err != nil {
				t.Fatal(err)
			}
			dir := testenv.Directory(t, st, testenv.Authz(t, st, plans, rbac.WithClock(clk)), identity.WithClock(clk))
			ctx := t.Context()
			founder, err := dir.CreateUser(ctx, "admin@example.com", "")
			if err != nil {
				t.Fatal(err)
			}
			a, err := dir.CreateAccount(ctx, founder.ID, "acme", identity.Enterprise().Name)
			if err != nil {
				t.Fatal(err)
			}
			admin, err := dir.Principal(ctx, a.ID, founder.ID, identity.SourceAPI, "")
			if err != nil {
				t.Fatal(err)
			}
			invite := func(email string) identity.Invited {
				t.Helper()
				inv, err := dir.Invite(ctx, admin, email, nil)
				if err != nil {
					t.Fatal(err)
				}
				return inv
			}
			events := func() int {
				t.Helper()
				var n int
				err := st.View(ctx, func(r store.Reader) error {
					evs, err := r.Events(ctx, a.ID, store.Page{Limit: store.MaxPageLimit})
					n = len(evs)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}

			// The invitee's user exists already and is a member (a join that left the
			// invitation behind, written here straight through the store).
			member := invite("member@example.com")
			old := store.User{ID: mustID(t, id.User), Email: "member@example.com", Name: "Old Name", CreatedAt: clk.Now()}
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutUser(ctx, old) }); err != nil {
				t.Fatal(err)
			}
			err = st.Update(ctx, func(tx store.Tx) error {
				return tx.PutMembership(ctx, store.Membership{AccountID: a.ID, UserID: old.ID, Roles: []string{rbac.RoleDeveloper}, Status: store.MemberActive, CreatedAt: clk.Now(), UpdatedAt: clk.Now()})
			})
			if err != nil {
				t.Fatal(err)
			}
			revoked := invite("revoked@example.com")
			if err := dir.RevokeInvitation(ctx, admin, revoked.ID); err != nil {
				t.Fatal(err)
			}
			wrong := invite("wrong@example.com")
			tok := []byte(wrong.Token.Reveal())
			if i := len(tok) - 10; tok[i] == 'A' { // another character of the secret
				tok[i] = 'B'
			} else {
				tok[i] = 'A'
			}
			named := invite("named@example.com")
			late := invite("late@example.com")

			for _, c := range []struct {
				name, token, userName, email string
				want                         error
				code                         string // "": any
			}{
				{"wrong token", string(tok), "", "wrong@example.com", store.ErrNotFound, ""},
				{"malformed token", wrong.Token.Reveal()[1:], "", "wrong@example.com", store.ErrInvalid, ""},
				{"revoked", revoked.Token.Reveal(), "", "revoked@example.com", store.ErrNotFound, ""},
				{"invalid name", named.Token.Reveal(), "Named\u202e", "named@example.com", store.ErrInvalid, ""},
				{"already a member", member.Token.Reveal(), "New Name", "member@example.com", store.ErrConflict, identity.CodeAlreadyMember},
				{"expired", late.Token.Reveal(), "Late", "late@example.com", store.ErrConflict, identity.CodeInvitationExpired},
			} {
				if c.name == "expired" {
					clk.Advance(identity.DefaultInvitationTTL)
				}
				before := events()
				_, err := dir.AcceptInvitationToken(ctx, c.token, c.userName, identity.SourceDashboard)
				if !errors.Is(err, c.want) || c.code != "" && store.CodeOf(err) != c.code {
					t.Errorf("%s: %v, want %v %s", c.name, err, c.want, c.code)
				}
				u, err := dir.UserByEmail(ctx, c.email)
				switch {
				case c.email == old.Email && (err != nil || u.Name != old.Name):
					t.Errorf("%s: the member's user changed: %+v, %v", c.name, u, err)
				case c.email != old.Email && !errors.Is(err, store.ErrNotFound):
					t.Errorf("%s: a refused acceptance stored a user: %+v, %v", c.name, u, err)
				}
				if n := events(); n != before {
					t.Errorf("%s: %d events written", c.name, n-before)
				}
			}
			for _, inv := range []identity.Invited{member, wrong, named, late} {
				if _, err := dir.Invitation(ctx, admin, inv.ID); err != nil {
					t.Errorf("invitation of %s: %v", inv.Email, err)
				}
			}

			// The successful path: a new user and its membership in one Update.
			carol := invite("carol@example.com")
			m, err := dir.AcceptInvitationToken(ctx, carol.Token.Reveal(), "Carol", identity.SourceDashboard)
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			u, err := dir.UserByEmail(ctx, "carol@example.com")
			if err != nil || u.ID != m.UserID || id.Tag(u.ID) != id.Tag(a.ID) {
				t.Fatalf("carol: %+v, %v", u, err)
			}
			if got, err := dir.Member(ctx, admin, u.ID); err != nil || got.Status != store.MemberActive {
				t.Fatalf("carol's membership: %+v, %v", got, err)
			}
		})
	}
}

func mustID(t *testing.T, p id.Prefix) string {
	t.Helper()
	s, err := id.NewGenerator(clock.System{}, rand.Reader).New(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
