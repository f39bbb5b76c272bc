package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Records of local sign-in and dashboard sessions: a user's secrets (global, keyed by user)
// and sessions (per account, listed by user and by identity provider).

func (e *env) newUserSecrets(userID string) store.UserSecrets {
	return store.UserSecrets{
		UserID:            userID,
		PasswordHash:      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		PasswordSetAt:     e.now(),
		TOTPSecret:        "c2VhbGVkIHRvdHAgc2VjcmV0",
		TOTPConfirmed:     true,
		TOTPConfirmedAt:   e.now(),
		RecoveryCodes:     []string{hashOf("code 1 " + userID), hashOf("code 2 " + userID)},
		SessionsNotBefore: e.now().Add(-time.Hour),
	}
}

// putUserSecrets stores secrets for a new user and returns them.
func (e *env) putUserSecrets() store.UserSecrets {
	e.t.Helper()
	u := e.newUserSecrets(e.putUser().ID)
	e.update(func(tx store.Tx) error { return tx.PutUserSecrets(e.ctx, u) })
	return u
}

func (e *env) newSession(accountID, userID, idpID string) store.Session {
	e.t.Helper()
	x := e.newIDIn(id.Session, accountID)
	s := store.Session{
		ID:         x,
		AccountID:  accountID,
		UserID:     userID,
		SecretHash: hashOf("session " + x),
		Method:     "password",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
		IP:         "192.0.2.7",
		CreatedAt:  e.now(),
		LastSeenAt: e.now(),
		ExpiresAt:  e.now().Add(12 * time.Hour),
	}
	if idpID != "" {
		s.Method, s.IdPID, s.IP = "sso", idpID, "2001:db8::7"
	} else {
		s.SecondFactor = "totp"
	}
	return s
}

func (e *env) putSession(accountID, userID, idpID string) store.Session {
	e.t.Helper()
	s := e.newSession(accountID, userID, idpID)
	e.update(func(tx store.Tx) error { return tx.PutSession(e.ctx, s) })
	return s
}

func testSignIn(t *testing.T, ns NewStore) {
	runCRUD(t, ns, crudCase[store.UserSecrets]{
		name: "user_secrets",
		make: func(e *env) store.UserSecrets { return e.newUserSecrets(e.putUser().ID) },
		change: func(u store.UserSecrets) store.UserSecrets {
			u = u.Clone()
			u.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdA$bmV3aGFzaA"
			u.PasswordSetAt = u.PasswordSetAt.Add(time.Second)
			u.RecoveryCodes = u.RecoveryCodes[1:]
			u.SessionsNotBefore = u.PasswordSetAt
			return u
		},
		put: func(ctx context.Context, tx store.Tx, u store.UserSecrets) error { return tx.PutUserSecrets(ctx, u) },
		get: func(ctx context.Context, r store.Reader, u store.UserSecrets) (store.UserSecrets, error) {
			return r.UserSecrets(ctx, u.UserID)
		},
		clone:  store.UserSecrets.Clone,
		mutate: func(u store.UserSecrets) { u.RecoveryCodes[0] = hashOf("mutated") },
	})
	runCRUD(t, ns, crudCase[store.Session]{
		name: "session",
		make: func(e *env) store.Session {
			acct := e.putAccount()
			return e.newSession(acct, e.putMemberUser(acct, store.MemberActive).ID, "")
		},
		change: func(s store.Session) store.Session {
			s.LastSeenAt = s.LastSeenAt.Add(time.Minute)
			s.UserAgent = "curl/8.14"
			s.IP = "198.51.100.9"
			s.SecondFactor = "recovery_code"
			s.ExpiresAt = s.ExpiresAt.Add(time.Hour)
			return s
		},
		put: func(ctx context.Context, tx store.Tx, s store.Session) error { return tx.PutSession(ctx, s) },
		get: func(ctx context.Context, r store.Reader, s store.Session) (store.Session, error) {
			return r.Session(ctx, s.ID)
		},
		del: func(ctx context.Context, tx store.Tx, s store.Session) error { return tx.DeleteSession(ctx, s.ID) },
		list: func(ctx context.Context, r store.Reader, s store.Session) ([]store.Session, error) {
			return r.SessionsByUser(ctx, s.AccountID, s.UserID, store.Page{Limit: store.MaxPageLimit})
		},
	})

	t.Run("session_listings", func(t *testing.T) {
		t.Parallel()
		testSessionListings(t, ns)
	})
	t.Run("session_rules", func(t *testing.T) {
		t.Parallel()
		testSessionRules(t, ns)
	})
	t.Run("session_auth", func(t *testing.T) {
		t.Parallel()
		testSessionAuth(t, ns)
	})
}

func testSessionListings(t *testing.T, ns NewStore) {
	page := func(before string, limit int) store.Page { return store.Page{BeforeID: before, Limit: limit} }

	leaf(t, "by_user", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		alice := e.putMemberUser(acct, store.MemberActive)
		bob := e.putMemberUser(acct, store.MemberActive)
		e.putMember(other, alice.ID, store.MemberActive)
		idp := e.newIdP(acct)
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, idp) })

		a1 := e.putSession(acct, alice.ID, "")
		e.putSession(acct, bob.ID, "")
		a2 := e.putSession(acct, alice.ID, idp.ID)
		e.putSession(other, alice.ID, "")
		a3 := e.putSession(acct, alice.ID, "")

		byUser := func(p store.Page) []store.Session {
			return mustRead(e, func(r store.Reader) ([]store.Session, error) {
				return r.SessionsByUser(e.ctx, acct, alice.ID, p)
			})
		}
		diff(e.t, "alice's sessions in the account, newest first", []store.Session{a3, a2, a1}, byUser(page("", 10)))
		diff(e.t, "first page of 2", []store.Session{a3, a2}, byUser(page("", 2)))
		diff(e.t, "page after a2", []store.Session{a1}, byUser(page(a2.ID, 2)))
		none := mustRead(e, func(r store.Reader) ([]store.Session, error) {
			return r.SessionsByUser(e.ctx, acct, e.putUser().ID, page("", 10))
		})
		diff(e.t, "sessions of a user without any", []store.Session{}, none)

		e.update(func(tx store.Tx) error { return tx.DeleteSession(e.ctx, a2.ID) })
		diff(e.t, "after deleting a2", []store.Session{a3, a1}, byUser(page("", 10)))
	})

	leaf(t, "by_idp", ns, func(e *env) {
		acct, other := e.putAccount(), e.putAccount()
		okta, entra, foreign := e.newIdP(acct), e.newIdP(acct), e.newIdP(other)
		e.update(func(tx store.Tx) error {
			if err := tx.PutIdentityProvider(e.ctx, okta); err != nil {
				return err
			}
			return tx.PutIdentityProvider(e.ctx, entra)
		})
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, foreign) })
		alice := e.putMemberUser(acct, store.MemberActive)
		bob := e.putMemberUser(acct, store.MemberActive)
		e.putMember(other, alice.ID, store.MemberActive)

		o1 := e.putSession(acct, alice.ID, okta.ID)
		e.putSession(acct, bob.ID, entra.ID)
		e.putSession(acct, alice.ID, "") // a password session is in no IdP's listing
		o2 := e.putSession(acct, bob.ID, okta.ID)
		e.putSession(other, alice.ID, foreign.ID)

		byIdP := func(idpID string, p store.Page) []store.Session {
			return mustRead(e, func(r store.Reader) ([]store.Session, error) {
				return r.SessionsByIdP(e.ctx, acct, idpID, p)
			})
		}
		diff(e.t, "okta's sessions, newest first", []store.Session{o2, o1}, byIdP(okta.ID, page("", 10)))
		diff(e.t, "okta's sessions after o2", []store.Session{o1}, byIdP(okta.ID, page(o2.ID, 10)))
		diff(e.t, "sessions of no IdP", []store.Session{}, byIdP("", page("", 10)))
		diff(e.t, "another account's IdP, listed in this account", []store.Session{}, byIdP(foreign.ID, page("", 10)))
	})
}

func testSessionRules(t *testing.T, ns NewStore) {
	leaf(t, "new_session_needs_a_member", ns, func(e *env) {
		acct := e.putAccount()
		stranger := e.putUser()
		head := e.head()
		err := e.tryUpdate(func(tx store.Tx) error { return tx.PutSession(e.ctx, e.newSession(acct, stranger.ID, "")) })
		wantInvalid(e.t, "a session of a user who is no member", err, "session.user_id")
		e.expectNoCommitSince(head, acct, "a refused session")

		disabled := e.putMemberUser(acct, store.MemberDisabled)
		s := e.putSession(acct, disabled.ID, "") // the store keeps records; who may sign in is the domain's
		got := mustRead(e, func(r store.Reader) (store.Session, error) { return r.Session(e.ctx, s.ID) })
		diff(e.t, "a disabled member's session", s, got)
	})

	leaf(t, "fields_fixed_at_creation", ns, func(e *env) {
		acct := e.putAccount()
		alice := e.putMemberUser(acct, store.MemberActive)
		bob := e.putMemberUser(acct, store.MemberActive)
		s := e.putSession(acct, alice.ID, "")
		for _, c := range []struct {
			field  string
			change func(*store.Session)
		}{
			{"user_id", func(x *store.Session) { x.UserID = bob.ID }},
			{"secret_hash", func(x *store.Session) { x.SecretHash = hashOf("another secret") }},
			{"method", func(x *store.Session) { x.Method = "oauth" }},
			{"idp_id", func(x *store.Session) { x.IdPID = "idp_other" }},
			{"created_at", func(x *store.Session) { x.CreatedAt = x.CreatedAt.Add(-time.Second) }},
		} {
			x := s
			c.change(&x)
			err := e.tryUpdate(func(tx store.Tx) error { return tx.PutSession(e.ctx, x) })
			wantImmutable(e.t, "changing a session's "+c.field, err, store.KindSession, c.field)
		}
		got := mustRead(e, func(r store.Reader) (store.Session, error) { return r.Session(e.ctx, s.ID) })
		diff(e.t, "session after refused changes", s, got)
	})

	leaf(t, "account_require_second_factor", ns, func(e *env) {
		a := e.newAccount()
		a.RequireSecondFactor = true
		e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
		got := mustRead(e, func(r store.Reader) (store.Account, error) { return r.Account(e.ctx, a.ID) })
		diff(e.t, "account requiring a second factor", a, got)
		a.RequireSecondFactor = false
		e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
		got = mustRead(e, func(r store.Reader) (store.Account, error) { return r.Account(e.ctx, a.ID) })
		diff(e.t, "account no longer requiring one", a, got)
	})

	leaf(t, "user_secrets_without_password", ns, func(e *env) {
		u := store.UserSecrets{UserID: e.putUser().ID, TOTPSecret: "c2VhbGVk", SessionsNotBefore: e.now()}
		e.update(func(tx store.Tx) error { return tx.PutUserSecrets(e.ctx, u) })
		got := mustRead(e, func(r store.Reader) (store.UserSecrets, error) { return r.UserSecrets(e.ctx, u.UserID) })
		diff(e.t, "secrets of a user with an unconfirmed TOTP secret only", u, got)
		_, err := read(e, func(r store.Reader) (store.UserSecrets, error) { return r.UserSecrets(e.ctx, e.putUser().ID) })
		wantNotFound(e.t, "secrets of a user without any", err)
	})
}

func testSessionAuth(t *testing.T, ns NewStore) {
	auth := func(e *env, sessionID string) (store.SessionAuth, error) {
		return read(e, func(r store.Reader) (store.SessionAuth, error) { return r.SessionAuth(e.ctx, sessionID) })
	}

	leaf(t, "complete", ns, func(e *env) {
		a := e.newAccount()
		e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
		idp := e.newIdP(a.ID)
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, idp) })
		sec := e.putUserSecrets()
		m := e.putMember(a.ID, sec.UserID, store.MemberActive)
		s := e.putSession(a.ID, sec.UserID, idp.ID)
		got, err := auth(e, s.ID)
		wantNoErr(e.t, "SessionAuth", err)
		diff(e.t, "SessionAuth", store.SessionAuth{Session: s, Account: a, Membership: &m, Secrets: &sec, IdentityProvider: &idp}, got)
	})

	leaf(t, "missing_parts", ns, func(e *env) {
		a := e.newAccount()
		e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
		idp := e.newIdP(a.ID)
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, idp) })
		u := e.putMemberUser(a.ID, store.MemberActive)
		s := e.putSession(a.ID, u.ID, idp.ID)
		e.update(func(tx store.Tx) error { return tx.DeleteIdentityProvider(e.ctx, idp.ID) })
		e.update(func(tx store.Tx) error { return tx.DeleteMembership(e.ctx, a.ID, u.ID, suite()) })
		got, err := auth(e, s.ID)
		wantNoErr(e.t, "SessionAuth", err)
		diff(e.t, "SessionAuth of a session whose user left and whose IdP is gone", store.SessionAuth{Session: s, Account: a}, got)

		_, err = auth(e, e.newIDIn(id.Session, a.ID))
		wantNotFound(e.t, "SessionAuth of no session", err)
	})

	leaf(t, "idp_of_another_account", ns, func(e *env) {
		a, other := e.newAccount(), e.putAccount()
		e.update(func(tx store.Tx) error { return tx.PutAccount(e.ctx, a) })
		foreign := e.newIdP(other)
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, foreign) })
		u := e.putMemberUser(a.ID, store.MemberActive)
		s := e.putSession(a.ID, u.ID, foreign.ID)
		got, err := auth(e, s.ID)
		wantNoErr(e.t, "SessionAuth", err)
		if got.IdentityProvider != nil {
			e.t.Errorf("SessionAuth returned another account's identity provider %s", got.IdentityProvider.ID)
		}
	})
}
