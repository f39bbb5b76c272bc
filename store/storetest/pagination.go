package storetest

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// listing describes one paginated listing to the generic pagination tests. Keys are what
// Page.BeforeID takes: record IDs, or user IDs for memberships.
type listing struct {
	name string
	// prepare stores what records of an account need (owners); called once per account.
	prepare func(e *env, acct string)
	// add stores one record of the listing in acct, in its own Update, plus unrelated
	// records that must not appear in it; it returns the record's key.
	add func(e *env, acct string) string
	// gapKey returns a key, never stored, that sorts after every key made so far.
	gapKey func(e *env, acct string) string
	list   func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error)
	// del deletes a record by key; nil when the kind cannot be deleted.
	del func(ctx context.Context, tx store.Tx, acct, key string) error
}

// ids turns a listing's result into its keys: ids(r.Roles(...))(keyFunc).
func ids[T any](v []T, err error) func(key func(T) string) ([]string, error) {
	return func(key func(T) string) ([]string, error) {
		if err != nil {
			return nil, err
		}
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = key(x)
		}
		return out, nil
	}
}

func otherKind(k store.CredentialKind, n int) store.CredentialKind {
	kinds := []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken, store.SSHCredential}
	i := slices.Index(kinds, k)
	return kinds[(i+1+n%2)%len(kinds)]
}

func listings() []listing {
	noPrep := func(*env, string) {}
	var out []listing
	out = append(out, listing{
		name:    "bot_users",
		prepare: noPrep,
		add:     func(e *env, acct string) string { return e.putBot(acct, true).ID },
		gapKey:  func(e *env, acct string) string { return e.newIDIn(id.BotUser, acct) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.BotUsers(ctx, acct, p))(func(b store.BotUser) string { return b.ID })
		},
		del: func(ctx context.Context, tx store.Tx, _, key string) error {
			return tx.DeleteBotUser(ctx, key, suite())
		},
	})
	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken, store.SSHCredential} {
		out = append(out, listing{
			name:    "credentials_" + string(kind),
			prepare: func(e *env, acct string) { e.owner(acct) },
			add: func(e *env, acct string) string {
				c := e.newCred(acct, e.owner(acct), kind)
				// Noise of another kind, chosen by a random character of the ID.
				noise := e.newCred(acct, e.owner(acct), otherKind(kind, int(c.ID[len(c.ID)-5])))
				e.update(func(tx store.Tx) error {
					if err := tx.PutCredential(e.ctx, c); err != nil {
						return err
					}
					return tx.PutCredential(e.ctx, noise)
				})
				return c.ID
			},
			gapKey: func(e *env, acct string) string { return e.newIDIn(credPrefix(kind), acct) },
			list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
				return ids(r.Credentials(ctx, acct, kind, p))(func(c store.Credential) string { return c.ID })
			},
			del: func(ctx context.Context, tx store.Tx, _, key string) error { return tx.DeleteCredential(ctx, key) },
		})
	}
	out = append(out, listing{
		// One kind only, so that ID order and creation order agree; mixed kinds are
		// walked separately (see testCredentialsByOwnerMixedKinds).
		name: "credentials_by_owner",
		prepare: func(e *env, acct string) {
			if e.sharedUser == "" {
				e.sharedUser = e.putUser().ID
			}
			e.putMember(acct, e.sharedUser, store.MemberActive)
			e.owner(acct)
		},
		add: func(e *env, acct string) string {
			c := e.newCred(acct, e.sharedUser, store.Authtoken)
			noise := e.newCred(acct, e.owner(acct), store.Authtoken) // another owner
			e.update(func(tx store.Tx) error {
				if err := tx.PutCredential(e.ctx, c); err != nil {
					return err
				}
				return tx.PutCredential(e.ctx, noise)
			})
			return c.ID
		},
		gapKey: func(e *env, acct string) string { return e.newIDIn(id.Authtoken, acct) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.CredentialsByOwner(ctx, acct, e.sharedUser, p))(func(c store.Credential) string { return c.ID })
		},
		del: func(ctx context.Context, tx store.Tx, _, key string) error { return tx.DeleteCredential(ctx, key) },
	})
	out = append(out, listing{
		name:    "invitations",
		prepare: noPrep,
		add: func(e *env, acct string) string {
			i := e.newInvitation(acct)
			e.update(func(tx store.Tx) error { return tx.PutInvitation(e.ctx, i) })
			return i.ID
		},
		gapKey: func(e *env, acct string) string { return e.newIDIn(id.Invitation, acct) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.Invitations(ctx, acct, p))(func(i store.Invitation) string { return i.ID })
		},
		del: func(ctx context.Context, tx store.Tx, _, key string) error { return tx.DeleteInvitation(ctx, key) },
	})
	out = append(out, listing{
		name:    "roles",
		prepare: noPrep,
		add: func(e *env, acct string) string {
			r := e.newRole(acct)
			e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, r) })
			return r.ID
		},
		gapKey: func(e *env, acct string) string { return e.newIDIn(id.Role, acct) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.Roles(ctx, acct, p))(func(r store.Role) string { return r.ID })
		},
		del: func(ctx context.Context, tx store.Tx, _, key string) error { return tx.DeleteRole(ctx, key) },
	})
	out = append(out, listing{
		name:    "identity_providers",
		prepare: noPrep,
		add: func(e *env, acct string) string {
			p := e.newIdP(acct)
			e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, p) })
			return p.ID
		},
		gapKey: func(e *env, acct string) string { return e.newIDIn(id.IdentityProvider, acct) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.IdentityProviders(ctx, acct, p))(func(p store.IdentityProvider) string { return p.ID })
		},
		del: func(ctx context.Context, tx store.Tx, _, key string) error {
			return tx.DeleteIdentityProvider(ctx, key)
		},
	})
	out = append(out, listing{
		name:    "events",
		prepare: noPrep,
		add: func(e *env, acct string) string {
			ev := e.newEvent(acct)
			e.update(func(tx store.Tx) error { return tx.AppendEvent(e.ctx, ev) })
			return ev.ID
		},
		gapKey: func(e *env, acct string) string { return e.newIDIn(id.Event, acct) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.Events(ctx, acct, p))(func(ev store.Event) string { return ev.ID })
		},
	})
	out = append(out, listing{
		name:    "memberships",
		prepare: noPrep,
		add:     func(e *env, acct string) string { return e.putMemberUser(acct, store.MemberActive).ID },
		gapKey:  func(e *env, acct string) string { return e.newID(id.User) },
		list: func(ctx context.Context, r store.Reader, e *env, acct string, p store.Page) ([]string, error) {
			return ids(r.Memberships(ctx, acct, p))(func(m store.Membership) string { return m.UserID })
		},
		del: func(ctx context.Context, tx store.Tx, acct, key string) error {
			return tx.DeleteMembership(ctx, acct, key, suite())
		},
	})
	return out
}

// seeded is a listing seeded in account a, interleaved with records of account b.
type seeded struct {
	a, b string
	keys []string // a's keys in creation order
	gap  string   // never stored; sorts between keys[gapAfter] and keys[gapAfter+1]
}

const (
	seedCount = 7
	gapAfter  = 3
)

func seed(e *env, l listing) seeded {
	e.t.Helper()
	s := seeded{a: e.putAccount(), b: e.putAccount()}
	l.prepare(e, s.a)
	l.prepare(e, s.b)
	for i := range seedCount {
		s.keys = append(s.keys, l.add(e, s.a))
		l.add(e, s.b)
		if i == gapAfter {
			s.gap = l.gapKey(e, s.a)
		}
	}
	return s
}

func (l listing) page(e *env, acct string, p store.Page) []string {
	e.t.Helper()
	return mustRead(e, func(r store.Reader) ([]string, error) { return l.list(e.ctx, r, e, acct, p) })
}

func testPagination(t *testing.T, ns NewStore) {
	for _, l := range listings() {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			testListing(t, ns, l)
		})
	}
	t.Run("credentials_by_owner_mixed_kinds", func(t *testing.T) {
		t.Parallel()
		testCredentialsByOwnerMixedKinds(t, ns)
	})
}

func testListing(t *testing.T, ns NewStore, l listing) {
	leaf(t, "empty_account", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		l.prepare(e, a)
		l.prepare(e, b)
		l.add(e, b)
		got, err := read(e, func(r store.Reader) ([]string, error) {
			return l.list(e.ctx, r, e, a, store.Page{Limit: 10})
		})
		wantNoErr(e.t, "listing an empty account", err)
		if len(got) != 0 {
			e.t.Errorf("listing an empty account returned %v, want nothing", got)
		}
	})

	leaf(t, "newest_first_this_account_only", ns, func(e *env) {
		s := seed(e, l)
		diff(e.t, "full listing", reversed(s.keys), l.page(e, s.a, store.Page{Limit: store.MaxPageLimit}))
	})

	leaf(t, "walk_pages", ns, func(e *env) {
		s := seed(e, l)
		const limit = 3
		var walked []string
		before := ""
		for range seedCount + 2 {
			p := l.page(e, s.a, store.Page{BeforeID: before, Limit: limit})
			if len(p) > limit {
				e.t.Fatalf("page of limit %d returned %d records", limit, len(p))
			}
			if len(p) == 0 {
				break
			}
			walked = append(walked, p...)
			before = p[len(p)-1]
		}
		diff(e.t, "records visited walking pages of 3", reversed(s.keys), walked)
	})

	leaf(t, "exact_page", ns, func(e *env) {
		s := seed(e, l)
		p := l.page(e, s.a, store.Page{Limit: seedCount})
		diff(e.t, "page with limit = count", reversed(s.keys), p)
		if len(p) > 0 {
			next := l.page(e, s.a, store.Page{BeforeID: p[len(p)-1], Limit: seedCount})
			diff(e.t, "page after the last record", []string(nil), next)
		}
		first := l.page(e, s.a, store.Page{Limit: 1})
		diff(e.t, "page with limit 1", reversed(s.keys)[:1], first)
	})

	if l.del != nil {
		leaf(t, "before_deleted", ns, func(e *env) {
			s := seed(e, l)
			gone := s.keys[gapAfter]
			e.update(func(tx store.Tx) error { return l.del(e.ctx, tx, s.a, gone) })
			got := l.page(e, s.a, store.Page{BeforeID: gone, Limit: store.MaxPageLimit})
			diff(e.t, "page before a deleted record", reversed(s.keys[:gapAfter]), got)
			all := l.page(e, s.a, store.Page{Limit: store.MaxPageLimit})
			diff(e.t, "full listing after a delete", reversed(slices.Delete(slices.Clone(s.keys), gapAfter, gapAfter+1)), all)
		})
	}

	leaf(t, "before_never_stored", ns, func(e *env) {
		s := seed(e, l)
		got := l.page(e, s.a, store.Page{BeforeID: s.gap, Limit: store.MaxPageLimit})
		diff(e.t, "page before a key that was never stored", reversed(s.keys[:gapAfter+1]), got)
	})

	leaf(t, "before_oldest", ns, func(e *env) {
		s := seed(e, l)
		got := l.page(e, s.a, store.Page{BeforeID: s.keys[0], Limit: store.MaxPageLimit})
		diff(e.t, "page before the oldest record", []string(nil), got)
	})

	leaf(t, "page_limits", ns, func(e *env) {
		a := e.putAccount()
		l.prepare(e, a)
		l.add(e, a)
		for _, limit := range []int{0, -1, store.MaxPageLimit + 1} {
			_, err := read(e, func(r store.Reader) ([]string, error) {
				return l.list(e.ctx, r, e, a, store.Page{Limit: limit})
			})
			wantInvalid(e.t, "limit "+strconv.Itoa(limit), err, "limit")
		}
		got, err := read(e, func(r store.Reader) ([]string, error) {
			return l.list(e.ctx, r, e, a, store.Page{Limit: store.MaxPageLimit})
		})
		wantNoErr(e.t, "limit MaxPageLimit", err)
		if len(got) != 1 {
			e.t.Errorf("limit MaxPageLimit returned %d records, want 1", len(got))
		}
	})
}

// testCredentialsByOwnerMixedKinds walks an owner's credentials of every kind. The order
// across kinds is not asserted: IDs of different kinds have different prefixes, so
// "descending ID order" and "creation order" differ; each credential must be visited once.
func testCredentialsByOwnerMixedKinds(t *testing.T, ns NewStore) {
	leaf(t, "walk_visits_each_once", ns, func(e *env) {
		a := e.putAccount()
		bot := e.owner(a)
		other := e.putBot(a, true).ID
		kinds := []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken, store.SSHCredential}
		var want []string
		for i := range 9 {
			c := e.putCred(a, bot, kinds[i%len(kinds)])
			want = append(want, c.ID)
			e.putCred(a, other, kinds[i%len(kinds)])
		}
		var walked []string
		before := ""
		for range 12 {
			p, err := read(e, func(r store.Reader) ([]store.Credential, error) {
				return r.CredentialsByOwner(e.ctx, a, bot, store.Page{BeforeID: before, Limit: 2})
			})
			if err != nil {
				e.t.Fatalf("CredentialsByOwner: %v", err)
			}
			if len(p) == 0 {
				break
			}
			for _, c := range p {
				walked = append(walked, c.ID)
			}
			before = p[len(p)-1].ID
		}
		slices.Sort(want)
		got := slices.Clone(walked)
		slices.Sort(got)
		diff(e.t, "credentials visited walking pages of 2 (sorted)", want, got)
		if distinct := len(slices.Compact(got)); distinct != len(walked) {
			e.t.Errorf("walk visited %d credentials, %d distinct: %v", len(walked), distinct, walked)
		}
	})
}
