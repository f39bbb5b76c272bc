package storetest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/iamkit/iamkit/store"
)

// errBoom is what transaction functions return to force a rollback.
var errBoom = errors.New("storetest: boom")

func credIDs(cs []store.Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	slices.Sort(out)
	return out
}

func (e *env) credsOf(acct, owner string) []string {
	e.t.Helper()
	return credIDs(mustRead(e, func(r store.Reader) ([]store.Credential, error) {
		return r.CredentialsByOwner(e.ctx, acct, owner, store.Page{Limit: store.MaxPageLimit})
	}))
}

func (e *env) wantGone(what string, creds []store.Credential) {
	e.t.Helper()
	for _, c := range creds {
		_, err := read(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, c.ID) })
		wantNotFound(e.t, what+": Credential("+c.ID+")", err)
		_, err = read(e, func(r store.Reader) (store.Credential, error) {
			c, _, err := r.CredentialAuth(e.ctx, c.ID)
			return c, err
		})
		wantNotFound(e.t, what+": CredentialAuth("+c.ID+")", err)
		_, err = read(e, func(r store.Reader) (store.Credential, error) {
			if c.Fingerprint != "" {
				return r.CredentialByFingerprint(e.ctx, c.Fingerprint)
			}
			return r.CredentialBySecretHash(e.ctx, c.SecretHash)
		})
		wantNotFound(e.t, what+": lookup by unique key of "+c.ID, err)
		if ids := e.credsOf(c.AccountID, c.OwnerID); slices.Contains(ids, c.ID) {
			e.t.Errorf("%s: CredentialsByOwner still lists %s", what, c.ID)
		}
		listed, err := read(e, func(r store.Reader) ([]store.Credential, error) {
			return r.Credentials(e.ctx, c.AccountID, c.Kind, store.Page{Limit: store.MaxPageLimit})
		})
		wantNoErr(e.t, what+": Credentials", err)
		for _, l := range listed {
			if l.ID == c.ID {
				e.t.Errorf("%s: Credentials still lists %s", what, c.ID)
			}
		}
	}
}

func testCascades(t *testing.T, ns NewStore) {
	kinds := []store.CredentialKind{store.Authtoken, store.APIKey, store.SSHCredential, store.AccessToken}

	leaf(t, "delete_bot_user_tombstones_its_credentials", ns, func(e *env) {
		a := e.putAccount()
		bot, other := e.putBot(a, true), e.putBot(a, true)
		member := e.putMemberUser(a, store.MemberActive)
		var doomed, kept []store.Credential
		for i := range 25 {
			doomed = append(doomed, e.putCred(a, bot.ID, kinds[i%len(kinds)]))
		}
		for i := range 3 {
			kept = append(kept, e.putCred(a, other.ID, kinds[i%len(kinds)]))
			kept = append(kept, e.putCred(a, member.ID, kinds[i%len(kinds)]))
		}
		head := e.head()
		e.update(func(tx store.Tx) error { return tx.DeleteBotUser(e.ctx, bot.ID, suite()) })

		// One small commit: the bot user's delete and its tombstone, whatever it owns.
		want := []store.Change{
			{Kind: store.KindBotUser, Op: store.OpDelete, AccountID: a, ID: bot.ID},
			{Kind: store.KindTombstone, Op: store.OpPut, AccountID: a, ID: bot.ID},
		}
		got, head := e.commits(head, 1)
		diff(e.t, "changes of the DeleteBotUser commit", sortedChanges(want), sortedChanges(got[0].Changes))

		_, err := read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUser(e.ctx, bot.ID) })
		wantNotFound(e.t, "BotUser after delete", err)
		e.wantGone("bot's credential", doomed)
		e.wantKept("credential of another owner", kept)
		e.wantTombstones("after the delete", []string{store.JoinKey(a, bot.ID)})

		// Purging in batches deletes the credentials, one commit per batch, the last one with
		// the tombstone; nothing reappears on the way.
		e.purge(a, bot.ID, 10, len(doomed))
		got, _ = e.commits(head, 3)
		var purged []store.Change
		for _, c := range got {
			purged = append(purged, c.Changes...)
		}
		want = []store.Change{{Kind: store.KindTombstone, Op: store.OpDelete, AccountID: a, ID: bot.ID}}
		for _, c := range doomed {
			want = append(want, store.Change{Kind: store.KindCredential, Op: store.OpDelete, AccountID: a, ID: c.ID})
		}
		diff(e.t, "changes of the purge commits", sortedChanges(want), sortedChanges(purged))
		e.wantGone("bot's credential after the purge", doomed)
		e.wantKept("credential of another owner after the purge", kept)
		e.wantTombstones("after the purge", nil)

		// The purged credentials' unique keys are free.
		reuse := e.newCred(a, other.ID, store.Authtoken)
		reuse.SecretHash = doomed[0].SecretHash
		wantNoErr(e.t, "reusing a purged credential's secret hash",
			e.tryUpdate(func(tx store.Tx) error { return tx.PutCredential(e.ctx, reuse) }))
	})

	leaf(t, "delete_bot_user_without_credentials_leaves_no_tombstone", ns, func(e *env) {
		a := e.putAccount()
		bot := e.putBot(a, true)
		head := e.head()
		e.update(func(tx store.Tx) error { return tx.DeleteBotUser(e.ctx, bot.ID, suite()) })
		got, _ := e.commits(head, 1)
		diff(e.t, "changes of the DeleteBotUser commit",
			[]store.Change{{Kind: store.KindBotUser, Op: store.OpDelete, AccountID: a, ID: bot.ID}}, got[0].Changes)
		e.wantTombstones("", nil)
	})

	leaf(t, "delete_membership_tombstones_credentials_in_that_account_only", ns, func(e *env) {
		a, b := e.putAccount(), e.putAccount()
		u := e.putMemberUser(a, store.MemberActive)
		mb := e.putMember(b, u.ID, store.MemberActive)
		bot := e.putBot(a, true)
		colleague := e.putMemberUser(a, store.MemberActive)
		var doomed, kept []store.Credential
		for i := range 5 {
			doomed = append(doomed, e.putCred(a, u.ID, kinds[i%len(kinds)]))
		}
		for i := range 3 {
			kept = append(kept, e.putCred(b, u.ID, kinds[i%len(kinds)]))
			kept = append(kept, e.putCred(a, bot.ID, kinds[i%len(kinds)]))
			kept = append(kept, e.putCred(a, colleague.ID, kinds[i%len(kinds)]))
		}
		head := e.head()
		by := store.Principal{ID: colleague.ID, Subject: "colleague@example.com", Source: "api", CredentialID: kept[2].ID}
		e.update(func(tx store.Tx) error { return tx.DeleteMembership(e.ctx, a, u.ID, by) })

		_, err := read(e, func(r store.Reader) (store.Membership, error) { return r.Membership(e.ctx, a, u.ID) })
		wantNotFound(e.t, "Membership after delete", err)
		e.wantGone("removed member's credential", doomed)
		e.wantKept("credential that must survive", kept)
		gotB, err := read(e, func(r store.Reader) (store.Membership, error) { return r.Membership(e.ctx, b, u.ID) })
		wantNoErr(e.t, "the user's membership in the other account", err)
		diff(e.t, "the user's membership in the other account", mb, gotB)
		if got, err := read(e, func(r store.Reader) (store.User, error) { return r.User(e.ctx, u.ID) }); err != nil {
			e.t.Errorf("the user itself: %v", err)
		} else {
			diff(e.t, "the user itself", u, got)
		}
		want := []store.Change{
			{Kind: store.KindMembership, Op: store.OpDelete, AccountID: a, ID: u.ID},
			{Kind: store.KindTombstone, Op: store.OpPut, AccountID: a, ID: u.ID},
		}
		got, _ := e.commits(head, 1)
		diff(e.t, "changes of the DeleteMembership commit", sortedChanges(want), sortedChanges(got[0].Changes))
		ts, err := read(e, func(r store.Reader) ([]store.Tombstone, error) { return r.Tombstones(e.ctx, store.Page{Limit: 10}) })
		wantNoErr(e.t, "Tombstones", err)
		if len(ts) != 1 || ts[0].By != by {
			e.t.Errorf("Tombstones = %+v, want one attributed to %+v", ts, by)
		}

		// The user cannot come back into the account before the purge, and can after it.
		again := store.Membership{AccountID: a, UserID: u.ID, Roles: []string{"admin"}, Status: store.MemberActive, CreatedAt: e.now(), UpdatedAt: e.now()}
		err = e.tryUpdate(func(tx store.Tx) error { return tx.PutMembership(e.ctx, again) })
		if !errors.Is(err, store.ErrConflict) || store.CodeOf(err) != store.CodePurgePending {
			e.t.Errorf("re-adding the member before the purge: %v, want ErrConflict with code %q", err, store.CodePurgePending)
		}
		e.purge(a, u.ID, store.MaxPageLimit, len(doomed))
		wantNoErr(e.t, "re-adding the member after the purge",
			e.tryUpdate(func(tx store.Tx) error { return tx.PutMembership(e.ctx, again) }))
		e.wantGone("the earlier membership's credential", doomed)
	})

	leaf(t, "interrupted_purge_resumes", ns, func(e *env) {
		a := e.putAccount()
		bot := e.putBot(a, true)
		var doomed []store.Credential
		for i := range 12 {
			doomed = append(doomed, e.putCred(a, bot.ID, kinds[i%len(kinds)]))
		}
		e.update(func(tx store.Tx) error { return tx.DeleteBotUser(e.ctx, bot.ID, suite()) })
		// One batch, then the purger "crashes": a batch is its own transaction, so what is left
		// stays gone and a new purger finds the tombstone and finishes.
		var first []store.Credential
		e.update(func(tx store.Tx) error {
			var err error
			first, _, err = tx.PurgeCredentials(e.ctx, a, bot.ID, 5)
			return err
		})
		if len(first) != 5 {
			e.t.Fatalf("first batch purged %d credentials, want 5", len(first))
		}
		e.wantGone("credential of an interrupted purge", doomed)
		e.wantTombstones("after an interrupted purge", []string{store.JoinKey(a, bot.ID)})
		e.purge(a, bot.ID, 5, len(doomed)-5)
		e.wantTombstones("after the resumed purge", nil)
	})

	leaf(t, "purge_without_tombstone_is_done", ns, func(e *env) {
		a := e.putAccount()
		bot := e.putBot(a, true)
		kept := []store.Credential{e.putCred(a, bot.ID, store.Authtoken)}
		e.update(func(tx store.Tx) error {
			cs, done, err := tx.PurgeCredentials(e.ctx, a, bot.ID, 10)
			if err == nil && (len(cs) != 0 || !done) {
				e.t.Errorf("PurgeCredentials of a live owner = %d credentials, done %v; want none, done", len(cs), done)
			}
			return err
		})
		e.wantKept("credential of a live owner", kept)
	})
}

// suite is the principal the suite's deletions are attributed to.
func suite() store.Principal { return store.Principal{Subject: "storetest", Source: "sdk"} }

// purge runs PurgeCredentials in batches of limit until done, and checks that it purged want
// credentials in all.
func (e *env) purge(accountID, ownerID string, limit, want int) {
	e.t.Helper()
	n := 0
	for done := false; !done; {
		e.update(func(tx store.Tx) error {
			cs, d, err := tx.PurgeCredentials(e.ctx, accountID, ownerID, limit)
			n, done = n+len(cs), d
			return err
		})
	}
	if n != want {
		e.t.Errorf("purged %d credentials, want %d", n, want)
	}
}

// wantKept checks that each credential reads back unchanged.
func (e *env) wantKept(what string, cs []store.Credential) {
	e.t.Helper()
	for _, c := range cs {
		got, err := read(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, c.ID) })
		wantNoErr(e.t, what, err)
		diff(e.t, what, c, got)
	}
}

// wantTombstones checks the keys of the tombstones left.
func (e *env) wantTombstones(what string, keys []string) {
	e.t.Helper()
	ts, err := read(e, func(r store.Reader) ([]store.Tombstone, error) { return r.Tombstones(e.ctx, store.Page{Limit: 100}) })
	wantNoErr(e.t, "Tombstones "+what, err)
	var got []string
	for _, t := range ts {
		got = append(got, store.JoinKey(t.AccountID, t.OwnerID))
	}
	diff(e.t, "tombstones "+what, keys, got)
}

func testTransactions(t *testing.T, ns NewStore) {
	leaf(t, "error_leaves_nothing", ns, func(e *env) {
		a := e.putAccount()
		owner := e.owner(a)
		head := e.head()
		bot := e.newBot(a)
		role := e.newRole(a)
		inv := e.newInvitation(a)
		idp := e.newIdP(a)
		cred := e.newCred(a, bot.ID, store.Authtoken)
		ssh := e.newCred(a, owner, store.SSHCredential)
		ev := e.newEvent(a)
		err := e.tryUpdate(func(tx store.Tx) error {
			for _, put := range []func() error{
				func() error { return tx.PutBotUser(e.ctx, bot) },
				func() error { return tx.PutRole(e.ctx, role) },
				func() error { return tx.PutInvitation(e.ctx, inv) },
				func() error { return tx.PutIdentityProvider(e.ctx, idp) },
				func() error { return tx.PutCredential(e.ctx, cred) },
				func() error { return tx.PutCredential(e.ctx, ssh) },
				func() error { return tx.AppendEvent(e.ctx, ev) },
			} {
				if err := put(); err != nil {
					return err
				}
			}
			return errBoom
		})
		wantIs(e.t, "Update", err, errBoom)
		e.wantRolledBack(a, bot, role, inv, cred, ssh)
		e.expectNoCommitSince(head, a, "a failed Update")
		// The unique keys it would have taken are free.
		e.update(func(tx store.Tx) error {
			for _, put := range []func() error{
				func() error { return tx.PutBotUser(e.ctx, bot) },
				func() error { return tx.PutRole(e.ctx, role) },
				func() error { return tx.PutInvitation(e.ctx, inv) },
				func() error { return tx.PutIdentityProvider(e.ctx, idp) },
				func() error { return tx.PutCredential(e.ctx, cred) },
				func() error { return tx.PutCredential(e.ctx, ssh) },
			} {
				if err := put(); err != nil {
					return err
				}
			}
			return nil
		})
	})

	leaf(t, "error_leaves_no_user", ns, func(e *env) {
		u := e.newUser()
		err := e.tryUpdate(func(tx store.Tx) error {
			if err := tx.PutUser(e.ctx, u); err != nil {
				return err
			}
			return errBoom
		})
		wantIs(e.t, "Update", err, errBoom)
		_, err = read(e, func(r store.Reader) (store.User, error) { return r.User(e.ctx, u.ID) })
		wantNotFound(e.t, "User after rollback", err)
		_, err = read(e, func(r store.Reader) (store.User, error) { return r.UserByEmail(e.ctx, u.Email) })
		wantNotFound(e.t, "UserByEmail after rollback", err)
		u2 := e.newUser()
		u2.Email = u.Email
		wantNoErr(e.t, "taking the email after rollback", e.tryUpdate(func(tx store.Tx) error { return tx.PutUser(e.ctx, u2) }))
	})

	leaf(t, "conflict_leaves_nothing", ns, func(e *env) {
		a := e.putAccount()
		taken := e.putBot(a, true)
		head := e.head()
		fresh := e.newBot(a)
		clash := e.newBot(a)
		clash.Name = taken.Name
		var putErr error
		err := e.tryUpdate(func(tx store.Tx) error {
			if err := tx.PutBotUser(e.ctx, fresh); err != nil {
				return err
			}
			putErr = tx.PutBotUser(e.ctx, clash)
			return putErr
		})
		wantConflict(e.t, "Put of a taken name", putErr, store.KindBotUser, "name")
		wantIs(e.t, "Update", err, store.ErrConflict)
		_, err = read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUser(e.ctx, fresh.ID) })
		wantNotFound(e.t, "bot user written before the conflict", err)
		_, err = read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUserByName(e.ctx, a, fresh.Name) })
		wantNotFound(e.t, "name of the bot user written before the conflict", err)
		got, err := read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUserByName(e.ctx, a, taken.Name) })
		wantNoErr(e.t, "the holder of the name", err)
		diff(e.t, "the holder of the name", taken, got)
		e.expectNoCommitSince(head, a, "an Update that failed on a conflict")
	})

	leaf(t, "error_undoes_deletes", ns, func(e *env) {
		a := e.putAccount()
		bot := e.putBot(a, true)
		cred := e.putCred(a, bot.ID, store.APIKey)
		err := e.tryUpdate(func(tx store.Tx) error {
			if err := tx.DeleteBotUser(e.ctx, bot.ID, suite()); err != nil {
				return err
			}
			return errBoom
		})
		wantIs(e.t, "Update", err, errBoom)
		gotBot, err := read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUser(e.ctx, bot.ID) })
		wantNoErr(e.t, "bot user after a rolled-back delete", err)
		diff(e.t, "bot user after a rolled-back delete", bot, gotBot)
		gotCred, err := read(e, func(r store.Reader) (store.Credential, error) { return r.Credential(e.ctx, cred.ID) })
		wantNoErr(e.t, "credential after a rolled-back cascade", err)
		diff(e.t, "credential after a rolled-back cascade", cred, gotCred)
	})

	leaf(t, "reads_see_own_writes", ns, func(e *env) {
		a := e.putAccount()
		bot := e.newBot(a)
		cred := e.newCred(a, bot.ID, store.Authtoken)
		ev := e.newEvent(a)
		check := func(what string, ok bool, err error) error {
			if err != nil {
				return errors.New(what + ": " + err.Error())
			}
			if !ok {
				return errors.New(what + ": the transaction does not see its own write")
			}
			return nil
		}
		e.update(func(tx store.Tx) error {
			ctx := e.ctx
			if err := tx.PutBotUser(ctx, bot); err != nil {
				return err
			}
			b, err := tx.BotUser(ctx, bot.ID)
			if err := check("BotUser", b.Name == bot.Name, err); err != nil {
				return err
			}
			b, err = tx.BotUserByName(ctx, a, bot.Name)
			if err := check("BotUserByName", b.ID == bot.ID, err); err != nil {
				return err
			}
			bs, err := tx.BotUsers(ctx, a, store.Page{Limit: 10})
			if err := check("BotUsers", len(bs) == 1, err); err != nil {
				return err
			}
			if err := tx.PutCredential(ctx, cred); err != nil {
				return err
			}
			c, err := tx.CredentialBySecretHash(ctx, cred.SecretHash)
			if err := check("CredentialBySecretHash", c.ID == cred.ID, err); err != nil {
				return err
			}
			cs, err := tx.CredentialsByOwner(ctx, a, bot.ID, store.Page{Limit: 10})
			if err := check("CredentialsByOwner", len(cs) == 1, err); err != nil {
				return err
			}
			st, err := tx.OwnerState(ctx, a, bot.ID)
			if err := check("OwnerState active", st == store.OwnerActive, err); err != nil {
				return err
			}
			b.Active = false
			if err := tx.PutBotUser(ctx, b); err != nil {
				return err
			}
			_, o, err := tx.CredentialAuth(ctx, cred.ID)
			if err := check("CredentialAuth inactive", o.State == store.OwnerInactive, err); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
			evs, err := tx.Events(ctx, a, store.Page{Limit: 10})
			if err := check("Events", len(evs) == 1 && evs[0].ID == ev.ID, err); err != nil {
				return err
			}
			if err := tx.DeleteBotUser(ctx, bot.ID, suite()); err != nil {
				return err
			}
			if _, err := tx.BotUser(ctx, bot.ID); !errors.Is(err, store.ErrNotFound) {
				return errors.New("BotUser after delete in the same transaction: got " + errString(err) + ", want ErrNotFound")
			}
			if _, err := tx.Credential(ctx, cred.ID); !errors.Is(err, store.ErrNotFound) {
				return errors.New("Credential after its owner's delete in the same transaction: got " + errString(err) + ", want ErrNotFound")
			}
			st, err = tx.OwnerState(ctx, a, bot.ID)
			return check("OwnerState missing after delete", st == store.OwnerMissing, err)
		})
	})

	leaf(t, "view_returns_fn_error", ns, func(e *env) {
		err := e.s.View(e.ctx, func(store.Reader) error { return errBoom })
		wantIs(e.t, "View", err, errBoom)
	})
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// wantRolledBack checks that none of the records of a failed Update exist.
func (e *env) wantRolledBack(a string, bot store.BotUser, role store.Role, inv store.Invitation, creds ...store.Credential) {
	e.t.Helper()
	_, err := read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUser(e.ctx, bot.ID) })
	wantNotFound(e.t, "BotUser after rollback", err)
	_, err = read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUserByName(e.ctx, a, bot.Name) })
	wantNotFound(e.t, "BotUserByName after rollback", err)
	_, err = read(e, func(r store.Reader) (store.Role, error) { return r.Role(e.ctx, role.ID) })
	wantNotFound(e.t, "Role after rollback", err)
	_, err = read(e, func(r store.Reader) (store.Invitation, error) { return r.InvitationByEmail(e.ctx, a, inv.Email) })
	wantNotFound(e.t, "InvitationByEmail after rollback", err)
	e.wantGone("after rollback", creds)
	for _, c := range creds {
		if c.SecretHash != "" {
			_, err = read(e, func(r store.Reader) (store.Credential, error) { return r.CredentialBySecretHash(e.ctx, c.SecretHash) })
			wantNotFound(e.t, "CredentialBySecretHash after rollback", err)
		}
		if c.Fingerprint != "" {
			_, err = read(e, func(r store.Reader) (store.Credential, error) { return r.CredentialByFingerprint(e.ctx, c.Fingerprint) })
			wantNotFound(e.t, "CredentialByFingerprint after rollback", err)
		}
	}
	idps := mustRead(e, func(r store.Reader) ([]store.IdentityProvider, error) {
		return r.IdentityProviders(e.ctx, a, store.Page{Limit: store.MaxPageLimit})
	})
	diff(e.t, "IdentityProviders after rollback", []store.IdentityProvider(nil), idps)
	evs := mustRead(e, func(r store.Reader) ([]store.Event, error) {
		return r.Events(e.ctx, a, store.Page{Limit: store.MaxPageLimit})
	})
	diff(e.t, "Events after rollback", []store.Event(nil), evs)
}

func testContext(t *testing.T, ns NewStore) {
	cancelled := func(e *env) context.Context {
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		return ctx
	}
	leaf(t, "view_cancelled", ns, func(e *env) {
		err := e.s.View(cancelled(e), func(store.Reader) error { return nil })
		wantIs(e.t, "View with a cancelled context", err, context.Canceled)
	})
	leaf(t, "update_cancelled_writes_nothing", ns, func(e *env) {
		a := e.putAccount()
		head := e.head()
		bot := e.newBot(a)
		ctx := cancelled(e)
		err := e.s.Update(ctx, func(tx store.Tx) error { return tx.PutBotUser(ctx, bot) })
		wantIs(e.t, "Update with a cancelled context", err, context.Canceled)
		_, err = read(e, func(r store.Reader) (store.BotUser, error) { return r.BotUser(e.ctx, bot.ID) })
		wantNotFound(e.t, "BotUser written under a cancelled context", err)
		e.expectNoCommitSince(head, a, "an Update with a cancelled context")
	})
}

// retryAborted runs an Update again while it fails with code CodeAborted, as a caller would.
func retryAborted(ctx context.Context, s store.Store, fn func(store.Tx) error) error {
	for range 1000 {
		err := s.Update(ctx, fn)
		if store.CodeOf(err) != store.CodeAborted {
			return err
		}
	}
	return errors.New("storetest: Update aborted 1000 times in a row")
}

func testConcurrency(t *testing.T, ns NewStore) {
	leaf(t, "no_lost_update", ns, func(e *env) {
		a := e.putAccount()
		role := e.newRole(a)
		role.Description = "0"
		e.update(func(tx store.Tx) error { return tx.PutRole(e.ctx, role) })
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = retryAborted(e.ctx, e.s, func(tx store.Tx) error {
					r, err := tx.Role(e.ctx, role.ID)
					if err != nil {
						return err
					}
					v, err := strconv.Atoi(r.Description)
					if err != nil {
						return err
					}
					r.Description = strconv.Itoa(v + 1)
					return tx.PutRole(e.ctx, r)
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			wantNoErr(e.t, "increment "+strconv.Itoa(i), err)
		}
		got := mustRead(e, func(r store.Reader) (store.Role, error) { return r.Role(e.ctx, role.ID) })
		if got.Description != strconv.Itoa(n) {
			e.t.Errorf("after %d concurrent increments the counter is %s, want %d (lost updates)", n, got.Description, n)
		}
	})

	race := func(name string, kind store.Kind, index string, prepare func(e *env) []func(tx store.Tx) error) {
		leaf(t, name, ns, func(e *env) {
			puts := prepare(e)
			errs := make([]error, len(puts))
			var wg sync.WaitGroup
			for i, put := range puts {
				wg.Go(func() { errs[i] = retryAborted(e.ctx, e.s, put) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
					continue
				}
				wantConflict(e.t, "losing writer", err, kind, index)
			}
			if won != 1 {
				e.t.Errorf("%d of %d concurrent writers of the same unique key succeeded, want exactly 1", won, len(puts))
			}
		})
	}
	const racers = 20
	race("unique_bot_name_race", store.KindBotUser, "name", func(e *env) []func(tx store.Tx) error {
		a := e.putAccount()
		var puts []func(tx store.Tx) error
		for range racers {
			b := e.newBot(a)
			b.Name = "contended"
			puts = append(puts, func(tx store.Tx) error { return tx.PutBotUser(e.ctx, b) })
		}
		return puts
	})
	race("unique_email_race", store.KindUser, "email", func(e *env) []func(tx store.Tx) error {
		var puts []func(tx store.Tx) error
		for range racers {
			u := e.newUser()
			u.Email = "contended@example.com"
			puts = append(puts, func(tx store.Tx) error { return tx.PutUser(e.ctx, u) })
		}
		return puts
	})
	race("unique_secret_hash_race", store.KindCredential, "secret_hash", func(e *env) []func(tx store.Tx) error {
		var puts []func(tx store.Tx) error
		for i := range racers {
			a := e.putAccount() // across accounts: the key is global
			c := e.newCred(a, e.owner(a), []store.CredentialKind{store.Authtoken, store.APIKey}[i%2])
			c.SecretHash = hashOf("contended")
			puts = append(puts, func(tx store.Tx) error { return tx.PutCredential(e.ctx, c) })
		}
		return puts
	})
}
