package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

func testLookups(t *testing.T, ns NewStore) {
	leaf(t, "user_by_email", ns, func(e *env) {
		u1, u2 := e.putUser(), e.putUser()
		got, err := read(e, func(r store.Reader) (store.User, error) { return r.UserByEmail(e.ctx, u2.Email) })
		wantNoErr(e.t, "UserByEmail", err)
		diff(e.t, "UserByEmail", u2, got)
		got, err = read(e, func(r store.Reader) (store.User, error) { return r.UserByEmail(e.ctx, u1.Email) })
		wantNoErr(e.t, "UserByEmail", err)
		diff(e.t, "UserByEmail", u1, got)
		_, err = read(e, func(r store.Reader) (store.User, error) { return r.UserByEmail(e.ctx, "nobody@example.com") })
		wantNotFound(e.t, "UserByEmail of an unknown email", err)
	})

	leaf(t, "bot_user_by_name", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		bot := e.putBot(a, true)
		e.putBot(a, true)
		got, err := read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUserByName(e.ctx, a, bot.Name) })
		wantNoErr(e.t, "BotUserByName", err)
		diff(e.t, "BotUserByName", bot, got)
		_, err = read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUserByName(e.ctx, b, bot.Name) })
		wantNotFound(e.t, "BotUserByName in another account", err)
		twin := e.newBot(b)
		twin.Name = bot.Name
		e.update(func(tx store.Tx) error { return tx.PutBotUser(e.ctx, twin) })
		got, err = read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUserByName(e.ctx, b, bot.Name) })
		wantNoErr(e.t, "BotUserByName", err)
		diff(e.t, "BotUserByName of the same name in another account", twin, got)
	})

	leaf(t, "invitation_by_email", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		inv := e.newInvitation(a)
		other := e.newInvitation(a)
		e.update(func(tx store.Tx) error {
			if err := tx.PutInvitation(e.ctx, inv); err != nil {
				return err
			}
			return tx.PutInvitation(e.ctx, other)
		})
		got, err := read(e, func(r store.Reader) (store.Invitation, error) { return r.InvitationByEmail(e.ctx, a, inv.Email) })
		wantNoErr(e.t, "InvitationByEmail", err)
		diff(e.t, "InvitationByEmail", inv, got)
		_, err = read(e, func(r store.Reader) (store.Invitation, error) { return r.InvitationByEmail(e.ctx, b, inv.Email) })
		wantNotFound(e.t, "InvitationByEmail in another account", err)
	})

	leaf(t, "credential_by_secret_hash", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		tok := e.putCred(a, e.owner(a), store.Authtoken)
		key := e.putCred(b, e.owner(b), store.APIKey)
		for _, want := range []store.Credential{tok, key} {
			got, err := read(e, func(r store.Reader) (store.Credential, error) {
				return r.CredentialBySecretHash(e.ctx, want.SecretHash)
			})
			wantNoErr(e.t, "CredentialBySecretHash", err)
			diff(e.t, "CredentialBySecretHash", want, got)
		}
		_, err := read(e, func(r store.Reader) (store.Credential, error) {
			return r.CredentialBySecretHash(e.ctx, hashOf("unknown"))
		})
		wantNotFound(e.t, "CredentialBySecretHash of an unknown hash", err)
	})

	leaf(t, "credential_by_fingerprint", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		k1 := e.putCred(a, e.owner(a), store.SSHCredential)
		k2 := e.putCred(b, e.owner(b), store.SSHCredential)
		for _, want := range []store.Credential{k1, k2} {
			got, err := read(e, func(r store.Reader) (store.Credential, error) {
				return r.CredentialByFingerprint(e.ctx, want.Fingerprint)
			})
			wantNoErr(e.t, "CredentialByFingerprint", err)
			diff(e.t, "CredentialByFingerprint", want, got)
		}
		_, err := read(e, func(r store.Reader) (store.Credential, error) {
			return r.CredentialByFingerprint(e.ctx, fingerprintOf("unknown"))
		})
		wantNotFound(e.t, "CredentialByFingerprint of an unknown fingerprint", err)
	})

	leaf(t, "memberships_by_user", ns, func(e *env) {
		u, other := e.putUser(), e.putUser()
		lonely := e.putUser()
		var want []store.Membership
		for i := range 3 {
			acct := e.putAccount()
			status := store.MemberActive
			if i == 1 {
				status = store.MemberDisabled
			}
			want = append(want, e.putMember(acct, u.ID, status))
			e.putMember(acct, other.ID, store.MemberActive)
		}
		got := mustRead(e, func(r store.Reader) ([]store.Membership, error) { return r.MembershipsByUser(e.ctx, u.ID) })
		byAccount := func(a, b store.Membership) int { return strings.Compare(a.AccountID, b.AccountID) }
		slices.SortFunc(want, byAccount)
		slices.SortFunc(got, byAccount)
		diff(e.t, "MembershipsByUser (sorted by account)", want, got)
		none, err := read(e, func(r store.Reader) ([]store.Membership, error) { return r.MembershipsByUser(e.ctx, lonely.ID) })
		wantNoErr(e.t, "MembershipsByUser of a user with none", err)
		diff(e.t, "MembershipsByUser of a user with none", []store.Membership(nil), none)
	})

	leaf(t, "count_memberships", ns, func(e *env) {
		a, b, empty := e.putAccount(), e.putAccount(), e.putAccount()
		var active []store.Membership
		for range 3 {
			active = append(active, e.putMember(a, e.putUser().ID, store.MemberActive))
		}
		for range 2 {
			e.putMember(a, e.putUser().ID, store.MemberDisabled)
		}
		e.putMember(b, e.putUser().ID, store.MemberActive)
		count := func(acct, status string) int {
			e.t.Helper()
			return mustRead(e, func(r store.Reader) (int, error) { return r.CountMemberships(e.ctx, acct, status) })
		}
		check := func(what string, acct string, wantActive, wantDisabled int) {
			e.t.Helper()
			if got := count(acct, store.MemberActive); got != wantActive {
				e.t.Errorf("%s: CountMemberships(active) = %d, want %d", what, got, wantActive)
			}
			if got := count(acct, store.MemberDisabled); got != wantDisabled {
				e.t.Errorf("%s: CountMemberships(disabled) = %d, want %d", what, got, wantDisabled)
			}
		}
		check("account a", a, 3, 2)
		check("account b", b, 1, 0)
		check("empty account", empty, 0, 0)

		m := active[0].Clone()
		m.Status = store.MemberDisabled
		e.update(func(tx store.Tx) error { return tx.PutMembership(e.ctx, m) })
		check("after disabling a member", a, 2, 3)
		e.update(func(tx store.Tx) error { return tx.DeleteMembership(e.ctx, a, active[1].UserID, suite()) })
		check("after removing a member", a, 1, 3)
	})
}

func testOwners(t *testing.T, ns NewStore) {
	t.Run("owner_must_be_in_account", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name  string
			owner func(e *env, a, b string) string
		}{
			{"bot_of_another_account", func(e *env, a, b string) string { return e.putBot(b, true).ID }},
			{"member_of_another_account_only", func(e *env, a, b string) string {
				return e.putMemberUser(b, store.MemberActive).ID
			}},
			{"user_without_membership", func(e *env, a, b string) string { return e.putUser().ID }},
			{"unknown_bot", func(e *env, a, b string) string { return e.newBot(a).ID }},
			{"removed_member", func(e *env, a, b string) string {
				u := e.putMemberUser(a, store.MemberActive)
				e.update(func(tx store.Tx) error { return tx.DeleteMembership(e.ctx, a, u.ID, suite()) })
				return u.ID
			}},
		}
		for _, c := range cases {
			leaf(t, c.name, ns, func(e *env) {
				a, b := e.putAccount(), e.putAccount()
				owner := c.owner(e, a, b)
				cred := e.newCred(a, owner, store.Authtoken)
				err := e.tryUpdate(func(tx store.Tx) error { return tx.PutCredential(e.ctx, cred) })
				wantInvalid(e.t, "PutCredential with an owner outside the account", err, "")
				_, err = read(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, cred.ID) })
				wantNotFound(e.t, "Credential after the refused write", err)
			})
		}
	})

	t.Run("owner_accepted", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name  string
			owner func(e *env, a string) string
		}{
			{"active_bot", func(e *env, a string) string { return e.putBot(a, true).ID }},
			{"inactive_bot", func(e *env, a string) string { return e.putBot(a, false).ID }},
			{"active_member", func(e *env, a string) string { return e.putMemberUser(a, store.MemberActive).ID }},
			{"disabled_member", func(e *env, a string) string { return e.putMemberUser(a, store.MemberDisabled).ID }},
		}
		for _, c := range cases {
			leaf(t, c.name, ns, func(e *env) {
				a := e.putAccount()
				cred := e.newCred(a, c.owner(e, a), store.APIKey)
				e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, cred) })
				got := mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, cred.ID) })
				diff(e.t, "credential", cred, got)
			})
		}
		leaf(t, "bot_created_in_same_tx", ns, func(e *env) {
			a := e.putAccount()
			bot := e.newBot(a)
			cred := e.newCred(a, bot.ID, store.Authtoken)
			e.update(func(tx store.Tx) error {
				if err := tx.PutBotUser(e.ctx, bot); err != nil {
					return err
				}
				return tx.PutCredential(e.ctx, cred)
			})
			got := mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, cred.ID) })
			diff(e.t, "credential", cred, got)
		})
	})

	t.Run("immutable", func(t *testing.T) {
		t.Parallel()
		type setup struct {
			a, b      string
			bot, user string // owners valid in a; user is a member of b too
		}
		prepare := func(e *env) setup {
			s := setup{a: e.putAccount(), b: e.putAccount()}
			s.bot = e.putBot(s.a, true).ID
			s.user = e.putMemberUser(s.a, store.MemberActive).ID
			e.putMember(s.b, s.user, store.MemberActive)
			return s
		}
		cases := []struct {
			name   string
			kind   store.CredentialKind
			field  string
			change func(e *env, s setup, c *store.Credential)
		}{
			{"owner_id", store.Authtoken, "owner_id", func(e *env, s setup, c *store.Credential) { c.OwnerID = s.bot }},
			{"account_id", store.Authtoken, "account_id", func(e *env, s setup, c *store.Credential) { c.AccountID = s.b }},
			{"kind", store.Authtoken, "kind", func(e *env, s setup, c *store.Credential) { c.Kind = store.APIKey }},
			{"secret_hash", store.APIKey, "secret_hash", func(e *env, s setup, c *store.Credential) { c.SecretHash = hashOf("new") }},
			{"fingerprint", store.SSHCredential, "public_key", func(e *env, s setup, c *store.Credential) {
				c.Fingerprint = fingerprintOf("new")
			}},
			{"rotated_from", store.AccessToken, "rotated_from", func(e *env, s setup, c *store.Credential) {
				c.RotatedFrom = e.newIDIn(id.AccessToken, s.a)
			}},
		}
		for _, c := range cases {
			leaf(t, "credential_"+c.name, ns, func(e *env) {
				s := prepare(e)
				cred := e.putCred(s.a, s.user, c.kind)
				next := cred.Clone()
				c.change(e, s, &next)
				err := e.tryUpdate(func(tx store.Tx) error { return tx.PutCredential(e.ctx, next) })
				wantImmutable(e.t, "changing "+c.field, err, store.KindCredential, c.field)
				got := mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, cred.ID) })
				diff(e.t, "credential after the refused change", cred, got)
			})
		}
		leaf(t, "credential_mutable_fields", ns, func(e *env) {
			s := prepare(e)
			cred := e.putCred(s.a, s.bot, store.Authtoken)
			next := cred.Clone()
			next.Description = "rotated"
			next.Metadata = `{"team":"infra"}`
			next.ACL = []string{"bind:only.example.com"}
			next.ExpiresAt = next.ExpiresAt.Add(24 * 60 * 60 * 1e9)
			e.update(func(tx store.Tx) error { return tx.PutCredential(e.ctx, next) })
			got := mustRead(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, cred.ID) })
			diff(e.t, "credential after updating description, metadata, ACL and expiry", next, got)
		})
		leaf(t, "bot_user_account_id", ns, func(e *env) {
			s := prepare(e)
			bot := e.putBot(s.a, true)
			moved := bot.Clone()
			moved.AccountID = s.b
			err := e.tryUpdate(func(tx store.Tx) error { return tx.PutBotUser(e.ctx, moved) })
			wantImmutable(e.t, "moving a bot user to another account", err, store.KindBotUser, "account_id")
			got := mustRead(e, func(r store.Reader) (store.BotUser, error) { return r.BotUser(e.ctx, bot.ID) })
			diff(e.t, "bot user after the refused move", bot, got)
		})
	})

	t.Run("owner_state", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name  string
			owner func(e *env, a, b string) string
			want  store.OwnerState
		}{
			{"active_bot", func(e *env, a, b string) string { return e.putBot(a, true).ID }, store.OwnerActive},
			{"inactive_bot", func(e *env, a, b string) string { return e.putBot(a, false).ID }, store.OwnerInactive},
			{"active_member", func(e *env, a, b string) string {
				return e.putMemberUser(a, store.MemberActive).ID
			}, store.OwnerActive},
			{"disabled_member", func(e *env, a, b string) string {
				return e.putMemberUser(a, store.MemberDisabled).ID
			}, store.OwnerInactive},
			{"missing_bot", func(e *env, a, b string) string { return e.newBot(a).ID }, store.OwnerMissing},
			{"missing_user", func(e *env, a, b string) string { return e.newUser().ID }, store.OwnerMissing},
			{"user_without_membership", func(e *env, a, b string) string { return e.putUser().ID }, store.OwnerMissing},
			{"bot_of_another_account", func(e *env, a, b string) string { return e.putBot(b, true).ID }, store.OwnerMissing},
			{"member_of_another_account", func(e *env, a, b string) string {
				return e.putMemberUser(b, store.MemberActive).ID
			}, store.OwnerMissing},
		}
		for _, c := range cases {
			leaf(t, c.name, ns, func(e *env) {
				a, b := e.putAccount(), e.putAccount()
				owner := c.owner(e, a, b)
				got, err := read(e, func(r store.Reader) (store.OwnerState, error) { return r.OwnerState(e.ctx, a, owner) })
				wantNoErr(e.t, "OwnerState", err)
				if got != c.want {
					e.t.Errorf("OwnerState = %v, want %v", got, c.want)
				}
			})
		}
	})

	t.Run("standing", func(t *testing.T) {
		t.Parallel()
		// present reports which of the account, bot user and membership Standing found.
		type present struct{ account, bot, member bool }
		cases := []struct {
			name      string
			principal func(e *env, a, b string) string
			account   func(e *env, a string) string
			want      present
		}{
			{"bot", func(e *env, a, b string) string { return e.putBot(a, true).ID }, nil, present{true, true, false}},
			{"member", func(e *env, a, b string) string { return e.putMemberUser(a, store.MemberActive).ID }, nil, present{true, false, true}},
			{"user_without_membership", func(e *env, a, b string) string { return e.putUser().ID }, nil, present{true, false, false}},
			{"member_of_another_account", func(e *env, a, b string) string {
				return e.putMemberUser(b, store.MemberActive).ID
			}, nil, present{true, false, false}},
			{"missing_account", func(e *env, a, b string) string { return e.newBot(a).ID },
				func(e *env, a string) string { return e.newAccount().ID }, present{false, false, false}},
		}
		for _, c := range cases {
			leaf(t, c.name, ns, func(e *env) {
				a, b := e.putAccount(), e.putAccount()
				principal := c.principal(e, a, b)
				acct := a
				if c.account != nil {
					acct = c.account(e, a)
				}
				st := mustRead(e, func(r store.Reader) (store.Standing, error) { return r.Standing(e.ctx, acct, principal) })
				got := present{st.Account != nil, st.BotUser != nil, st.Membership != nil}
				if got != c.want {
					e.t.Errorf("Standing found %+v, want %+v", got, c.want)
				}
				if st.Account != nil && st.Account.ID != acct || st.BotUser != nil && st.BotUser.ID != principal ||
					st.Membership != nil && (st.Membership.AccountID != acct || st.Membership.UserID != principal) {
					e.t.Errorf("Standing(%s, %s) read other records: %+v", acct, principal, st)
				}
			})
		}
	})

	t.Run("credential_auth", func(t *testing.T) {
		t.Parallel()
		type auth struct {
			c store.Credential
			s store.OwnerState
		}
		credAuth := func(e *env, credID string) (auth, error) {
			return read(e, func(r store.Reader) (auth, error) {
				c, o, err := r.CredentialAuth(e.ctx, credID)
				return auth{c, o.State}, err
			})
		}
		check := func(e *env, what string, cred store.Credential, want store.OwnerState) {
			e.t.Helper()
			got, err := credAuth(e, cred.ID)
			wantNoErr(e.t, what, err)
			diff(e.t, what+": credential", cred, got.c)
			if got.s != want {
				e.t.Errorf("%s: owner state %v, want %v", what, got.s, want)
			}
		}
		leaf(t, "bot_owner_follows_active", ns, func(e *env) {
			a := e.putAccount()
			bot := e.putBot(a, true)
			cred := e.putCred(a, bot.ID, store.Authtoken)
			check(e, "active bot", cred, store.OwnerActive)
			bot.Active = false
			e.update(func(tx store.Tx) error { return tx.PutBotUser(e.ctx, bot) })
			check(e, "deactivated bot", cred, store.OwnerInactive)
			bot.Active = true
			e.update(func(tx store.Tx) error { return tx.PutBotUser(e.ctx, bot) })
			check(e, "reactivated bot", cred, store.OwnerActive)
		})
		leaf(t, "member_owner_follows_status", ns, func(e *env) {
			a := e.putAccount()
			u := e.putUser()
			m := e.putMember(a, u.ID, store.MemberActive)
			cred := e.putCred(a, u.ID, store.SSHCredential)
			check(e, "active member", cred, store.OwnerActive)
			m.Status = store.MemberDisabled
			e.update(func(tx store.Tx) error { return tx.PutMembership(e.ctx, m) })
			check(e, "disabled member", cred, store.OwnerInactive)
		})
		leaf(t, "missing_credential", ns, func(e *env) {
			a := e.putAccount()
			cred := e.newCred(a, e.owner(a), store.APIKey)
			_, err := credAuth(e, cred.ID)
			wantNotFound(e.t, "CredentialAuth of a credential never stored", err)
		})
	})
}
