package storetest

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// uniqueCase describes one unique key to the generic unique-key tests.
type uniqueCase struct {
	name  string
	kind  store.Kind // ConflictError.Kind expected
	index string     // ConflictError.Index expected
	// perAccount: the record belongs to an account (false for users). global: the key is
	// unique across accounts.
	perAccount, global bool
	// rekey: a later Put may change the key (false for credentials, whose keys are fixed).
	rekey bool
	key   func(n int) string
	// newID returns a new record ID in acct; put writes the record with that ID and key,
	// with note in some other mutable field.
	newID  func(e *env, acct string) string
	put    func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error
	lookup func(ctx context.Context, r store.Reader, acct, key string) (string, error)
	// del deletes by ID; nil for kinds that cannot be deleted.
	del func(ctx context.Context, tx store.Tx, recID string) error
}

func uniqueCases() []uniqueCase {
	credCase := func(name string, kind store.CredentialKind) uniqueCase {
		c := uniqueCase{
			name:       name,
			kind:       store.KindCredential,
			index:      "secret_hash",
			perAccount: true,
			global:     true,
			key:        func(n int) string { return hashOf("secret-" + string(rune('a'+n))) },
			newID:      func(e *env, acct string) string { return e.newIDIn(credPrefix(kind), acct) },
			put: func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error {
				c := e.newCred(acct, e.owners[acct], kind)
				c.ID, c.Description = recID, note
				if kind == store.SSHCredential {
					// The public key is fixed at creation too: derive it from the key.
					c.Fingerprint = key
					c.PublicKey = "ssh-ed25519 " + base64.StdEncoding.EncodeToString([]byte(key))
				} else {
					c.SecretHash = key
				}
				return tx.PutCredential(ctx, c)
			},
			lookup: func(ctx context.Context, r store.Reader, _, key string) (string, error) {
				c, err := r.CredentialBySecretHash(ctx, key)
				return c.ID, err
			},
			del: func(ctx context.Context, tx store.Tx, recID string) error { return tx.DeleteCredential(ctx, recID) },
		}
		if kind == store.SSHCredential {
			c.index = "fingerprint"
			c.key = func(n int) string { return fingerprintOf("key-" + string(rune('a'+n))) }
			c.lookup = func(ctx context.Context, r store.Reader, _, key string) (string, error) {
				c, err := r.CredentialByFingerprint(ctx, key)
				return c.ID, err
			}
		}
		return c
	}
	// listLookup finds a record by key through a listing, for keys that have no lookup.
	listLookup := func(list func(ctx context.Context, r store.Reader, acct string) (map[string]string, error)) func(context.Context, store.Reader, string, string) (string, error) {
		return func(ctx context.Context, r store.Reader, acct, key string) (string, error) {
			m, err := list(ctx, r, acct)
			if err != nil {
				return "", err
			}
			if v, ok := m[key]; ok {
				return v, nil
			}
			return "", store.ErrNotFound
		}
	}
	all := store.Page{Limit: store.MaxPageLimit}
	return []uniqueCase{
		{
			name: "user_email", kind: store.KindUser, index: "email", rekey: true,
			key:   func(n int) string { return string(rune('a'+n)) + "@example.com" },
			newID: func(e *env, _ string) string { return e.newID(id.User) },
			put: func(ctx context.Context, tx store.Tx, e *env, _, recID, key, note string) error {
				return tx.PutUser(ctx, store.User{ID: recID, Email: key, Name: note, CreatedAt: e.now()})
			},
			lookup: func(ctx context.Context, r store.Reader, _, key string) (string, error) {
				u, err := r.UserByEmail(ctx, key)
				return u.ID, err
			},
		},
		{
			name: "bot_user_name", kind: store.KindBotUser, index: "name", perAccount: true, rekey: true,
			key:   func(n int) string { return "deploy-" + string(rune('a'+n)) },
			newID: func(e *env, acct string) string { return e.newIDIn(id.BotUser, acct) },
			put: func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error {
				b := e.newBot(acct)
				b.ID, b.Name, b.Roles = recID, key, []string{note}
				return tx.PutBotUser(ctx, b)
			},
			lookup: func(ctx context.Context, r store.Reader, acct, key string) (string, error) {
				b, err := r.BotUserByName(ctx, acct, key)
				return b.ID, err
			},
			del: func(ctx context.Context, tx store.Tx, recID string) error {
				return tx.DeleteBotUser(ctx, recID, suite())
			},
		},
		{
			name: "role_name", kind: store.KindRole, index: "name", perAccount: true, rekey: true,
			key:   func(n int) string { return "operator-" + string(rune('a'+n)) },
			newID: func(e *env, acct string) string { return e.newIDIn(id.Role, acct) },
			put: func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error {
				r := e.newRole(acct)
				r.ID, r.Name, r.Description = recID, key, note
				return tx.PutRole(ctx, r)
			},
			lookup: listLookup(func(ctx context.Context, r store.Reader, acct string) (map[string]string, error) {
				rs, err := r.Roles(ctx, acct, all)
				m := map[string]string{}
				for _, x := range rs {
					m[x.Name] = x.ID
				}
				return m, err
			}),
			del: func(ctx context.Context, tx store.Tx, recID string) error { return tx.DeleteRole(ctx, recID) },
		},
		{
			name: "group_name", kind: store.KindGroup, index: "name", perAccount: true, rekey: true,
			key:   func(n int) string { return "group-" + string(rune('a'+n)) },
			newID: func(e *env, acct string) string { return e.newIDIn(id.Group, acct) },
			put: func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error {
				g := e.newGroup(acct)
				g.ID, g.DisplayName, g.ExternalID = recID, key, note
				return tx.PutGroup(ctx, g)
			},
			lookup: func(ctx context.Context, r store.Reader, acct, key string) (string, error) {
				g, err := r.GroupByName(ctx, acct, key)
				return g.ID, err
			},
			del: func(ctx context.Context, tx store.Tx, recID string) error { return tx.DeleteGroup(ctx, recID) },
		},
		{
			name: "invitation_email", kind: store.KindInvitation, index: "email", perAccount: true, rekey: true,
			key:   func(n int) string { return "invitee-" + string(rune('a'+n)) + "@example.com" },
			newID: func(e *env, acct string) string { return e.newIDIn(id.Invitation, acct) },
			put: func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error {
				i := e.newInvitation(acct)
				i.ID, i.Email, i.InvitedBy = recID, key, note
				return tx.PutInvitation(ctx, i)
			},
			lookup: func(ctx context.Context, r store.Reader, acct, key string) (string, error) {
				i, err := r.InvitationByEmail(ctx, acct, key)
				return i.ID, err
			},
			del: func(ctx context.Context, tx store.Tx, recID string) error { return tx.DeleteInvitation(ctx, recID) },
		},
		{
			name: "identity_provider_entity_id", kind: store.KindIdentityProvider, index: "entity_id", perAccount: true, rekey: true,
			key:   func(n int) string { return "https://idp.example.com/" + string(rune('a'+n)) },
			newID: func(e *env, acct string) string { return e.newIDIn(id.IdentityProvider, acct) },
			put: func(ctx context.Context, tx store.Tx, e *env, acct, recID, key, note string) error {
				p := e.newIdP(acct)
				p.ID, p.EntityID, p.Description = recID, key, note
				return tx.PutIdentityProvider(ctx, p)
			},
			lookup: listLookup(func(ctx context.Context, r store.Reader, acct string) (map[string]string, error) {
				ps, err := r.IdentityProviders(ctx, acct, all)
				m := map[string]string{}
				for _, x := range ps {
					m[x.EntityID] = x.ID
				}
				return m, err
			}),
			del: func(ctx context.Context, tx store.Tx, recID string) error {
				return tx.DeleteIdentityProvider(ctx, recID)
			},
		},
		credCase("authtoken_secret_hash", store.Authtoken),
		credCase("api_key_secret_hash", store.APIKey),
		credCase("ssh_fingerprint", store.SSHCredential),
	}
}

func testUniqueKeys(t *testing.T, ns NewStore) {
	for _, c := range uniqueCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testUniqueKey(t, ns, c)
		})
	}
	leaf(t, "secret_hash_shared_by_token_kinds", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		tok := e.putCred(a, e.owner(a), store.Authtoken)
		key := e.newCred(b, e.owner(b), store.APIKey)
		key.SecretHash = tok.SecretHash
		err := e.tryUpdate(func(tx store.Tx) error { return tx.PutCredential(e.ctx, key) })
		wantConflict(e.t, "API key with an authtoken's secret hash", err, store.KindCredential, "secret_hash")
	})
}

func testUniqueKey(t *testing.T, ns NewStore, c uniqueCase) {
	// setup returns an account (when the record kind has one) ready for records.
	setup := func(e *env) string {
		if !c.perAccount {
			return ""
		}
		acct := e.putAccount()
		e.owner(acct)
		return acct
	}
	put := func(e *env, acct, recID, key, note string) error {
		return e.tryUpdate(func(tx store.Tx) error { return c.put(e.ctx, tx, e, acct, recID, key, note) })
	}
	mustPut := func(e *env, acct, recID, key, note string) {
		e.t.Helper()
		if err := put(e, acct, recID, key, note); err != nil {
			e.t.Fatalf("Put %s %q: %v", c.kind, key, err)
		}
	}
	lookup := func(e *env, acct, key string) (string, error) {
		return read(e, func(r store.Reader) (string, error) { return c.lookup(e.ctx, r, acct, key) })
	}
	wantHolder := func(e *env, acct, key, want string) {
		e.t.Helper()
		got, err := lookup(e, acct, key)
		if err != nil || got != want {
			e.t.Errorf("lookup of key %q = %q, %v; want %q", key, got, err, want)
		}
	}
	k1, k2 := c.key(1), c.key(2)

	leaf(t, "duplicate_conflicts", ns, func(e *env) {
		acct := setup(e)
		id1, id2 := c.newID(e, acct), c.newID(e, acct)
		mustPut(e, acct, id1, k1, "first")
		head := e.head()
		err := put(e, acct, id2, k1, "second")
		wantConflict(e.t, "second record with the same key", err, c.kind, c.index)
		wantHolder(e, acct, k1, id1)
		if acct != "" {
			e.expectNoCommitSince(head, acct, "a conflicting write")
		}
	})

	if c.perAccount {
		leaf(t, "other_account", ns, func(e *env) {
			a, b := setup(e), setup(e)
			id1, id2 := c.newID(e, a), c.newID(e, b)
			mustPut(e, a, id1, k1, "first")
			err := put(e, b, id2, k1, "other account")
			if c.global {
				wantConflict(e.t, "same key in another account", err, c.kind, c.index)
				wantHolder(e, a, k1, id1)
				return
			}
			wantNoErr(e.t, "same key in another account", err)
			wantHolder(e, a, k1, id1)
			wantHolder(e, b, k1, id2)
		})
	}

	leaf(t, "replace_with_own_key", ns, func(e *env) {
		acct := setup(e)
		id1 := c.newID(e, acct)
		mustPut(e, acct, id1, k1, "first")
		err := put(e, acct, id1, k1, "updated")
		wantNoErr(e.t, "replacing a record with its own key unchanged", err)
		wantHolder(e, acct, k1, id1)
	})

	if c.rekey {
		leaf(t, "change_to_taken_key_conflicts", ns, func(e *env) {
			acct := setup(e)
			id1, id2 := c.newID(e, acct), c.newID(e, acct)
			mustPut(e, acct, id1, k1, "first")
			mustPut(e, acct, id2, k2, "second")
			err := put(e, acct, id2, k1, "renamed")
			wantConflict(e.t, "changing a record's key to a taken one", err, c.kind, c.index)
			wantHolder(e, acct, k1, id1)
			wantHolder(e, acct, k2, id2)
		})

		leaf(t, "changed_key_frees_old", ns, func(e *env) {
			acct := setup(e)
			id1, id3 := c.newID(e, acct), c.newID(e, acct)
			mustPut(e, acct, id1, k1, "first")
			mustPut(e, acct, id1, k2, "renamed")
			_, err := lookup(e, acct, k1)
			wantNotFound(e.t, "lookup of the old key", err)
			wantHolder(e, acct, k2, id1)
			wantNoErr(e.t, "another record taking the old key", put(e, acct, id3, k1, "third"))
			wantHolder(e, acct, k1, id3)
		})
	}

	if c.del != nil {
		leaf(t, "delete_frees_key", ns, func(e *env) {
			acct := setup(e)
			id1, id2 := c.newID(e, acct), c.newID(e, acct)
			mustPut(e, acct, id1, k1, "first")
			e.update(func(tx store.Tx) error { return c.del(e.ctx, tx, id1) })
			_, err := lookup(e, acct, k1)
			wantNotFound(e.t, "lookup after the holder was deleted", err)
			wantNoErr(e.t, "taking the key of a deleted record", put(e, acct, id2, k1, "second"))
			wantHolder(e, acct, k1, id2)
		})
	}
}
