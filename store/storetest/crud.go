package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
)

// crudCase describes one record kind to the generic CRUD tests.
type crudCase[T any] struct {
	name string
	// make returns a new record, not stored, after storing whatever it needs (its account,
	// its owner).
	make func(e *env) T
	// change returns a copy of v with some mutable fields changed; it must not share
	// slices with v.
	change func(v T) T
	put    func(ctx context.Context, tx store.Tx, v T) error
	get    func(ctx context.Context, r store.Reader, v T) (T, error)
	// del is nil for kinds that cannot be deleted.
	del func(ctx context.Context, tx store.Tx, v T) error
	// clone deep-copies v; mutate changes the contents of v's slices in place. Both are nil
	// for kinds without slices.
	clone  func(v T) T
	mutate func(v T)
	// list lists v's account, if the kind has a listing.
	list func(ctx context.Context, r store.Reader, v T) ([]T, error)
}

func testCRUD(t *testing.T, ns NewStore) {
	runCRUD(t, ns, crudCase[store.Account]{
		name: "account",
		make: func(e *env) store.Account { return e.newAccount() },
		change: func(a store.Account) store.Account {
			a.Name += " renamed"
			a.Plan = "enterprise"
			a.Seats = 50
			a.SSO.Enforcement = "enforced"
			a.CredentialPolicy.AuthtokenMaxLifetime = 30 * 24 * time.Hour
			a.CredentialPolicy.APIKeyMaxLifetime = 365 * 24 * time.Hour
			a.CredentialPolicy.SSHKeyMaxLifetime = time.Hour
			a.CredentialPolicy.MaxRotationOverlap = 0
			return a
		},
		put: func(ctx context.Context, tx store.Tx, a store.Account) error { return tx.PutAccount(ctx, a) },
		get: func(ctx context.Context, r store.Reader, a store.Account) (store.Account, error) {
			return r.Account(ctx, a.ID)
		},
	})
	runCRUD(t, ns, crudCase[store.User]{
		name: "user",
		make: func(e *env) store.User { return e.newUser() },
		change: func(u store.User) store.User {
			u.Name += " renamed"
			return u
		},
		put: func(ctx context.Context, tx store.Tx, u store.User) error { return tx.PutUser(ctx, u) },
		get: func(ctx context.Context, r store.Reader, u store.User) (store.User, error) { return r.User(ctx, u.ID) },
	})
	runCRUD(t, ns, crudCase[store.Membership]{
		name: "membership",
		make: func(e *env) store.Membership {
			return e.newMembership(e.putAccount(), e.putUser().ID, store.MemberActive)
		},
		change: func(m store.Membership) store.Membership {
			m = m.Clone()
			m.Status = store.MemberDisabled
			m.Roles = append(m.Roles, "billing")
			m.UpdatedAt = m.UpdatedAt.Add(time.Microsecond) // stored times have microsecond precision
			return m
		},
		put: func(ctx context.Context, tx store.Tx, m store.Membership) error { return tx.PutMembership(ctx, m) },
		get: func(ctx context.Context, r store.Reader, m store.Membership) (store.Membership, error) {
			return r.Membership(ctx, m.AccountID, m.UserID)
		},
		del: func(ctx context.Context, tx store.Tx, m store.Membership) error {
			return tx.DeleteMembership(ctx, m.AccountID, m.UserID, suite())
		},
		clone:  store.Membership.Clone,
		mutate: func(m store.Membership) { m.Roles[0] = "mutated" },
		list: func(ctx context.Context, r store.Reader, m store.Membership) ([]store.Membership, error) {
			return r.Memberships(ctx, m.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.Invitation]{
		name: "invitation",
		make: func(e *env) store.Invitation { return e.newInvitation(e.putAccount()) },
		change: func(i store.Invitation) store.Invitation {
			i = i.Clone()
			i.Roles = append(i.Roles, "admin")
			i.ExpiresAt = i.ExpiresAt.Add(1e9)
			i.TokenHash = hashOf("another token " + i.ID)
			return i
		},
		put: func(ctx context.Context, tx store.Tx, i store.Invitation) error { return tx.PutInvitation(ctx, i) },
		get: func(ctx context.Context, r store.Reader, i store.Invitation) (store.Invitation, error) {
			return r.Invitation(ctx, i.ID)
		},
		del: func(ctx context.Context, tx store.Tx, i store.Invitation) error {
			return tx.DeleteInvitation(ctx, i.ID)
		},
		clone:  store.Invitation.Clone,
		mutate: func(i store.Invitation) { i.Roles[0] = "mutated" },
		list: func(ctx context.Context, r store.Reader, i store.Invitation) ([]store.Invitation, error) {
			return r.Invitations(ctx, i.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.BotUser]{
		name: "bot_user",
		make: func(e *env) store.BotUser { return e.newBot(e.putAccount()) },
		change: func(b store.BotUser) store.BotUser {
			b = b.Clone()
			b.Name += "-renamed"
			b.Active = false
			b.Roles = append(b.Roles, "viewer")
			return b
		},
		put: func(ctx context.Context, tx store.Tx, b store.BotUser) error { return tx.PutBotUser(ctx, b) },
		get: func(ctx context.Context, r store.Reader, b store.BotUser) (store.BotUser, error) {
			return r.BotUser(ctx, b.ID)
		},
		del: func(ctx context.Context, tx store.Tx, b store.BotUser) error {
			return tx.DeleteBotUser(ctx, b.ID, suite())
		},
		clone:  store.BotUser.Clone,
		mutate: func(b store.BotUser) { b.Roles[0] = "mutated" },
		list: func(ctx context.Context, r store.Reader, b store.BotUser) ([]store.BotUser, error) {
			return r.BotUsers(ctx, b.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey, store.AccessToken, store.SSHCredential} {
		runCRUD(t, ns, crudCase[store.Credential]{
			name: "credential_" + string(kind),
			make: func(e *env) store.Credential {
				acct := e.putAccount()
				return e.newCred(acct, e.owner(acct), kind)
			},
			change: func(c store.Credential) store.Credential {
				c = c.Clone()
				c.Description += " (rotated)"
				c.Metadata = `{"env":"prod"}`
				c.ACL = append(c.ACL, "bind:new.example.com")
				c.AllowedIPs = append(c.AllowedIPs[1:], "fd00::/8")
				c.RotatedTo = "cr_successor"
				if c.Kind == store.AccessToken {
					c.Scopes = append(c.Scopes, "endpoints:write")
				}
				c.ExpiresAt = c.ExpiresAt.Add(1e9)
				return c
			},
			put: func(ctx context.Context, tx store.Tx, c store.Credential) error { return tx.PutCredential(ctx, c) },
			get: func(ctx context.Context, r store.Reader, c store.Credential) (store.Credential, error) {
				return r.Credential(ctx, c.ID)
			},
			del: func(ctx context.Context, tx store.Tx, c store.Credential) error {
				return tx.DeleteCredential(ctx, c.ID)
			},
			clone: store.Credential.Clone,
			mutate: func(c store.Credential) {
				c.ACL[0], c.AllowedIPs[0] = "mutated", "mutated"
				if len(c.Scopes) > 0 {
					c.Scopes[0] = "mutated"
				}
			},
			list: func(ctx context.Context, r store.Reader, c store.Credential) ([]store.Credential, error) {
				return r.Credentials(ctx, c.AccountID, c.Kind, store.Page{Limit: store.MaxPageLimit})
			},
		})
	}
	runCRUD(t, ns, crudCase[store.Role]{
		name: "role",
		make: func(e *env) store.Role { return e.newRole(e.putAccount()) },
		change: func(r store.Role) store.Role {
			r = r.Clone()
			r.Name += "-renamed"
			r.Description = "changed"
			r.Permissions = append(r.Permissions, "roles:read")
			return r
		},
		put: func(ctx context.Context, tx store.Tx, r store.Role) error { return tx.PutRole(ctx, r) },
		get: func(ctx context.Context, rd store.Reader, r store.Role) (store.Role, error) {
			return rd.Role(ctx, r.ID)
		},
		del:    func(ctx context.Context, tx store.Tx, r store.Role) error { return tx.DeleteRole(ctx, r.ID) },
		clone:  store.Role.Clone,
		mutate: func(r store.Role) { r.Permissions[0] = "mutated" },
		list: func(ctx context.Context, rd store.Reader, r store.Role) ([]store.Role, error) {
			return rd.Roles(ctx, r.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.Group]{
		name: "group",
		make: func(e *env) store.Group { return e.newGroup(e.putAccount()) },
		change: func(g store.Group) store.Group {
			g = g.Clone()
			g.DisplayName += "-renamed"
			g.Members = append(g.Members[1:], "usr_three")
			g.UpdatedAt = g.UpdatedAt.Add(time.Minute)
			return g
		},
		put: func(ctx context.Context, tx store.Tx, g store.Group) error { return tx.PutGroup(ctx, g) },
		get: func(ctx context.Context, rd store.Reader, g store.Group) (store.Group, error) {
			return rd.Group(ctx, g.ID)
		},
		del:    func(ctx context.Context, tx store.Tx, g store.Group) error { return tx.DeleteGroup(ctx, g.ID) },
		clone:  store.Group.Clone,
		mutate: func(g store.Group) { g.Members[0] = "mutated" },
		list: func(ctx context.Context, rd store.Reader, g store.Group) ([]store.Group, error) {
			return rd.Groups(ctx, g.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	runCRUD(t, ns, crudCase[store.IdentityProvider]{
		name: "identity_provider",
		make: func(e *env) store.IdentityProvider { return e.newIdP(e.putAccount()) },
		change: func(p store.IdentityProvider) store.IdentityProvider {
			p = p.Clone()
			p.Description = "Okta (prod)"
			p.AllowIDPInitiated = false
			p.DefaultRoles = append(p.DefaultRoles, "viewer")
			p.RoleRules = p.RoleRules[:1]
			p.RoleRules[0].Roles = []string{"developer_read_only"}
			return p
		},
		put: func(ctx context.Context, tx store.Tx, p store.IdentityProvider) error {
			return tx.PutIdentityProvider(ctx, p)
		},
		get: func(ctx context.Context, r store.Reader, p store.IdentityProvider) (store.IdentityProvider, error) {
			return r.IdentityProvider(ctx, p.ID)
		},
		del: func(ctx context.Context, tx store.Tx, p store.IdentityProvider) error {
			return tx.DeleteIdentityProvider(ctx, p.ID)
		},
		clone:  store.IdentityProvider.Clone,
		mutate: func(p store.IdentityProvider) { p.DefaultRoles[0] = "mutated" },
		list: func(ctx context.Context, r store.Reader, p store.IdentityProvider) ([]store.IdentityProvider, error) {
			return r.IdentityProviders(ctx, p.AccountID, store.Page{Limit: store.MaxPageLimit})
		},
	})
	testEventCRUD(t, ns)
}

func runCRUD[T any](t *testing.T, ns NewStore, c crudCase[T]) {
	t.Run(c.name, func(t *testing.T) {
		t.Parallel()
		get := func(e *env, v T) (T, error) {
			return read(e, func(r store.Reader) (T, error) { return c.get(e.ctx, r, v) })
		}

		leaf(t, "put_get", ns, func(e *env) {
			v := c.make(e)
			e.update(func(tx store.Tx) error { return c.put(e.ctx, tx, v) })
			got, err := get(e, v)
			wantNoErr(e.t, "get after put", err)
			diff(e.t, "get after put", v, got)
		})

		leaf(t, "replace", ns, func(e *env) {
			v := c.make(e)
			e.update(func(tx store.Tx) error { return c.put(e.ctx, tx, v) })
			v2 := c.change(v)
			e.update(func(tx store.Tx) error { return c.put(e.ctx, tx, v2) })
			got, err := get(e, v)
			wantNoErr(e.t, "get after replace", err)
			diff(e.t, "get after replace", v2, got)
			if c.list != nil {
				all := mustRead(e, func(r store.Reader) ([]T, error) { return c.list(e.ctx, r, v) })
				diff(e.t, "listing after replace (one record, the new version)", []T{v2}, all)
			}
		})

		if c.del != nil {
			leaf(t, "delete", ns, func(e *env) {
				v := c.make(e)
				e.update(func(tx store.Tx) error { return c.put(e.ctx, tx, v) })
				e.update(func(tx store.Tx) error { return c.del(e.ctx, tx, v) })
				_, err := get(e, v)
				wantNotFound(e.t, "get after delete", err)
				err = e.tryUpdate(func(tx store.Tx) error { return c.del(e.ctx, tx, v) })
				wantNotFound(e.t, "second delete", err)
				if c.list != nil {
					all := mustRead(e, func(r store.Reader) ([]T, error) { return c.list(e.ctx, r, v) })
					diff(e.t, "listing after delete", []T(nil), all)
				}
			})

			leaf(t, "delete_missing", ns, func(e *env) {
				v := c.make(e) // prerequisites stored, v itself never
				err := e.tryUpdate(func(tx store.Tx) error { return c.del(e.ctx, tx, v) })
				wantNotFound(e.t, "delete of a record never stored", err)
			})
		}

		if c.mutate != nil {
			leaf(t, "copies", ns, func(e *env) {
				v := c.make(e)
				orig := c.clone(v)
				e.update(func(tx store.Tx) error {
					w := c.clone(v)
					if err := c.put(e.ctx, tx, w); err != nil {
						return err
					}
					c.mutate(w) // the caller's slice, changed after Put and before commit
					return nil
				})
				got, err := get(e, orig)
				wantNoErr(e.t, "get", err)
				diff(e.t, "stored record after mutating the slice passed to Put", orig, got)

				c.mutate(got)
				again, err := get(e, orig)
				wantNoErr(e.t, "get", err)
				diff(e.t, "stored record after mutating a returned slice", orig, again)

				if c.list != nil {
					all := mustRead(e, func(r store.Reader) ([]T, error) { return c.list(e.ctx, r, orig) })
					if len(all) != 1 {
						e.t.Fatalf("listing returned %d records, want 1", len(all))
					}
					c.mutate(all[0])
					again, err := get(e, orig)
					wantNoErr(e.t, "get", err)
					diff(e.t, "stored record after mutating a listed record's slice", orig, again)
				}

				// Within a transaction too: what a Tx returns is a copy.
				e.update(func(tx store.Tx) error {
					got, err := c.get(e.ctx, tx, orig)
					if err != nil {
						return err
					}
					c.mutate(got)
					return nil
				})
				again, err = get(e, orig)
				wantNoErr(e.t, "get", err)
				diff(e.t, "stored record after mutating a slice returned inside Update", orig, again)
			})
		}
	})
}

// testEventCRUD covers events, which are append-only and have no lookup by ID.
func testEventCRUD(t *testing.T, ns NewStore) {
	t.Run("event", func(t *testing.T) {
		t.Parallel()
		list := func(e *env, acct string) []store.Event {
			e.t.Helper()
			return mustRead(e, func(r store.Reader) ([]store.Event, error) {
				return r.Events(e.ctx, acct, store.Page{Limit: store.MaxPageLimit})
			})
		}

		leaf(t, "append_list", ns, func(e *env) {
			acct := e.putAccount()
			ev1, ev2 := e.newEvent(acct), e.newEvent(acct)
			ev2.Type = "credential_created.v0"
			ev2.Principal = store.Principal{ID: "bot_x", Subject: "ci", Source: "sdk"}
			e.update(func(tx store.Tx) error { return tx.AppendEvent(e.ctx, ev1) })
			e.update(func(tx store.Tx) error { return tx.AppendEvent(e.ctx, ev2) })
			diff(e.t, "events", []store.Event{ev2, ev1}, list(e, acct))
		})

		leaf(t, "append_many", ns, func(e *env) {
			acct := e.putAccount()
			ev1, ev2, ev3 := e.newEvent(acct), e.newEvent(acct), e.newEvent(acct)
			e.update(func(tx store.Tx) error { return tx.AppendEvents(e.ctx, nil) })
			e.update(func(tx store.Tx) error { return tx.AppendEvents(e.ctx, []store.Event{ev1, ev2}) })
			diff(e.t, "events", []store.Event{ev2, ev1}, list(e, acct))
			for _, c := range []struct {
				name   string
				events []store.Event
			}{
				{"an ID already stored", []store.Event{ev3, ev1}},
				{"one ID twice", []store.Event{ev3, ev3}},
			} {
				err := e.tryUpdate(func(tx store.Tx) error { return tx.AppendEvents(e.ctx, c.events) })
				wantIs(e.t, "AppendEvents with "+c.name, err, store.ErrConflict)
				diff(e.t, "events after AppendEvents with "+c.name, []store.Event{ev2, ev1}, list(e, acct))
			}
			bad := e.newEvent(acct)
			bad.Type = ""
			err := e.tryUpdate(func(tx store.Tx) error { return tx.AppendEvents(e.ctx, []store.Event{ev3, bad}) })
			wantIs(e.t, "AppendEvents with an event without a type", err, store.ErrInvalid)
			e.update(func(tx store.Tx) error { return tx.AppendEvents(e.ctx, []store.Event{ev3}) })
			diff(e.t, "events", []store.Event{ev3, ev2, ev1}, list(e, acct))
		})

		leaf(t, "copies", ns, func(e *env) {
			acct := e.putAccount()
			ev := e.newEvent(acct)
			orig := ev.Clone()
			e.update(func(tx store.Tx) error {
				w := ev.Clone()
				if err := tx.AppendEvent(e.ctx, w); err != nil {
					return err
				}
				w.Object[0] = 'X'
				return nil
			})
			got := list(e, acct)
			diff(e.t, "events after mutating the appended Object", []store.Event{orig}, got)
			if len(got) == 1 && len(got[0].Object) > 0 {
				got[0].Object[0] = 'X'
			}
			diff(e.t, "events after mutating a returned Object", []store.Event{orig}, list(e, acct))
			if !slices.Equal(orig.Object, ev.Object) {
				e.t.Fatal("test bug: orig is not a copy")
			}
		})
	})
}
