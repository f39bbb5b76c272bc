package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// TestSchemaRefuses checks that the database itself refuses what the contract forbids, for
// whoever writes to it: statements that bypass the store fail on the schema's constraints.
func TestSchemaRefuses(t *testing.T) {
	b, st := open(t, shared(t).Database(t))
	g := ids()
	ctx := t.Context()
	acct := putAccount(t, st, g)
	other := putAccount(t, st, g)
	bot := newBot(t, g, acct, "deploy")
	user := store.User{ID: mustID(t, g, id.User, ""), Email: "a@example.com"}
	cred := store.Credential{ID: mustID(t, g, id.Authtoken, acct), AccountID: acct, Kind: store.Authtoken, OwnerID: bot.ID, SecretHash: "h1"}
	ssh := store.Credential{ID: mustID(t, g, id.SSHCredential, acct), AccountID: acct, Kind: store.SSHCredential, OwnerID: bot.ID,
		PublicKey: "ssh-ed25519 AAAA", Fingerprint: "SHA256:f1"}
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, put := range []func() error{
			func() error { return tx.PutBotUser(ctx, bot) },
			func() error { return tx.PutCredential(ctx, cred) },
			func() error { return tx.PutCredential(ctx, ssh) },
		} {
			if err := put(); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutUser(ctx, user) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Account(ctx, acct)
		if err != nil {
			return err
		}
		a.Key = "tenant-1"
		return tx.PutAccount(ctx, a)
	}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, sql, code, constraint string
		args                        []any
	}{
		{"user email", `INSERT INTO iamkit.users (id, email, name) VALUES ('usr_x', $1, '')`, pgUniqueViolation, "users_email_key", []any{user.Email}},
		{"account key", `INSERT INTO iamkit.accounts (id, name, key, plan, seats) VALUES ('ac_x', '', 'tenant-1', '', 0)`, pgUniqueViolation, "accounts_key_key", nil},
		{"bot name in its account", `INSERT INTO iamkit.bot_users (id, account_id, name, active, roles) VALUES ('bot_x', $1, 'deploy', true, '{}')`, pgUniqueViolation, "bot_users_name_key", []any{acct}},
		{"secret hash", `INSERT INTO iamkit.credentials (id, account_id, kind, owner_id, description, metadata, acl, secret_hash)
			VALUES ('cr_x', $1, 'api_key', 'bot_x', '', '', '{}', 'h1')`, pgUniqueViolation, "credentials_secret_hash_key", []any{other}},
		{"fingerprint", `INSERT INTO iamkit.credentials (id, account_id, kind, owner_id, description, metadata, acl, public_key, fingerprint)
			VALUES ('sshcr_x', $1, 'ssh_key', 'bot_x', '', '', '{}', 'k', 'SHA256:f1')`, pgUniqueViolation, "credentials_fingerprint_key", []any{other}},
		{"record of no account", `INSERT INTO iamkit.roles (id, account_id, name, description, permissions) VALUES ('role_x', 'ac_missing', 'r', '', '{}')`,
			pgForeignKeyViolation, "roles_account_id_fkey", nil},
		{"membership of no user", `INSERT INTO iamkit.memberships (account_id, user_id, roles, status) VALUES ($1, 'usr_missing', '{}', 'active')`,
			pgForeignKeyViolation, "memberships_user_id_fkey", []any{acct}},
		{"membership status", `INSERT INTO iamkit.memberships (account_id, user_id, roles, status) VALUES ($1, $2, '{}', 'pending')`,
			pgCheckViolation, "memberships_status_check", []any{acct, user.ID}},
		{"credential kind", `INSERT INTO iamkit.credentials (id, account_id, kind, owner_id, description, metadata, acl, secret_hash)
			VALUES ('pw_x', $1, 'password', 'bot_x', '', '', '{}', 'h2')`, pgCheckViolation, "credentials_kind_check", []any{acct}},
		{"deleting an account with records", `DELETE FROM iamkit.accounts WHERE id = $1`, pgForeignKeyViolation, "bot_users_account_id_fkey", []any{acct}},
		{"secrets of no user", `INSERT INTO iamkit.user_secrets (user_id) VALUES ('usr_missing')`,
			pgForeignKeyViolation, "user_secrets_user_id_fkey", nil},
		{"a password hash that is no PHC string", `INSERT INTO iamkit.user_secrets (user_id, password_hash) VALUES ($1, 'hunter2')`,
			pgCheckViolation, "user_secrets_password_hash_check", []any{user.ID}},
		{"a confirmed TOTP without a secret", `INSERT INTO iamkit.user_secrets (user_id, totp_confirmed) VALUES ($1, true)`,
			pgCheckViolation, "user_secrets_totp_secret_check", []any{user.ID}},
		{"a session of no user", `INSERT INTO iamkit.sessions (id, account_id, user_id, secret_hash, method, created_at, expires_at)
			VALUES ('ses_x', $1, 'usr_missing', repeat('a', 64), 'password', now(), now() + interval '1 hour')`,
			pgForeignKeyViolation, "sessions_user_id_fkey", []any{acct}},
		{"a session's secret hash", `INSERT INTO iamkit.sessions (id, account_id, user_id, secret_hash, method, created_at, expires_at)
			VALUES ('ses_x', $1, $2, 'plain secret', 'password', now(), now() + interval '1 hour')`,
			pgCheckViolation, "sessions_secret_hash_check", []any{acct, user.ID}},
		{"a session's method", `INSERT INTO iamkit.sessions (id, account_id, user_id, secret_hash, method, created_at, expires_at)
			VALUES ('ses_x', $1, $2, repeat('a', 64), 'Pass Word', now(), now() + interval '1 hour')`,
			pgCheckViolation, "sessions_method_check", []any{acct, user.ID}},
		{"a session's address is a network", `INSERT INTO iamkit.sessions (id, account_id, user_id, secret_hash, method, ip, created_at, expires_at)
			VALUES ('ses_x', $1, $2, repeat('a', 64), 'password', '10.0.0.0/8', now(), now() + interval '1 hour')`,
			pgCheckViolation, "sessions_ip_check", []any{acct, user.ID}},
		{"a session that ends before it begins", `INSERT INTO iamkit.sessions (id, account_id, user_id, secret_hash, method, created_at, expires_at)
			VALUES ('ses_x', $1, $2, repeat('a', 64), 'password', now(), now())`,
			pgCheckViolation, "sessions_expires_at_check", []any{acct, user.ID}},
	} {
		_, err := b.pool.Exec(ctx, c.sql, c.args...)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != c.code || pe.ConstraintName != c.constraint {
			t.Errorf("%s: %v, want SQLSTATE %s on %s", c.name, err, c.code, c.constraint)
		}
	}

	// Empty keys are not keys: tokens have no fingerprint, SSH keys no secret hash, accounts
	// need no key.
	for _, sql := range []string{
		`INSERT INTO iamkit.accounts (id, name, plan, seats) VALUES ('ac_y', '', '', 0), ('ac_z', '', '', 0)`,
		`INSERT INTO iamkit.credentials (id, account_id, kind, owner_id, description, metadata, acl, secret_hash)
			VALUES ('cr_y', 'ac_y', 'authtoken', 'bot_y', '', '', '{}', 'h3'), ('cr_z', 'ac_y', 'authtoken', 'bot_y', '', '', '{}', 'h4')`,
	} {
		if _, err := b.pool.Exec(ctx, sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}

// TestUpdateSpanningAccounts checks that an Update writing the records of two accounts is
// refused and commits nothing: the account is the unit of atomicity and of the feed's
// shards.
func TestUpdateSpanningAccounts(t *testing.T) {
	_, st := open(t, shared(t).Database(t))
	g := ids()
	ctx := t.Context()
	a, c := putAccount(t, st, g), putAccount(t, st, g)
	ba, bc := newBot(t, g, a, ""), newBot(t, g, c, "")
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutBotUser(ctx, bc) }); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func(tx store.Tx) error{
		"two puts": func(tx store.Tx) error {
			if err := tx.PutBotUser(ctx, ba); err != nil {
				return err
			}
			other := newBot(t, g, c, "")
			return tx.PutBotUser(ctx, other)
		},
		"a put and a delete, the error ignored": func(tx store.Tx) error {
			if err := tx.PutBotUser(ctx, ba); err != nil {
				return err
			}
			_ = tx.DeleteBotUser(ctx, bc.ID, store.Principal{Source: "sdk"})
			return nil
		},
	} {
		err := st.Update(ctx, fn)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
		err = st.View(ctx, func(r store.Reader) error {
			if _, err := r.BotUser(ctx, ba.ID); !errors.Is(err, store.ErrNotFound) {
				return errors.New("the first account's bot user was committed")
			}
			_, err := r.BotUser(ctx, bc.ID)
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDeletedCredentialTakesItsLastUse checks what the suite cannot see: deleting a
// credential deletes its last-used row, and a use recorded for a deleted one writes none.
func TestDeletedCredentialTakesItsLastUse(t *testing.T) {
	b, st := open(t, shared(t).Database(t))
	g := ids()
	ctx := t.Context()
	acct := putAccount(t, st, g)
	bot := newBot(t, g, acct, "")
	cred := store.Credential{ID: mustID(t, g, id.APIKey, acct), AccountID: acct, Kind: store.APIKey, OwnerID: bot.ID, SecretHash: "h"}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutBotUser(ctx, bot); err != nil {
			return err
		}
		return tx.PutCredential(ctx, cred)
	}); err != nil {
		t.Fatal(err)
	}
	rows := func() int {
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM iamkit.last_used`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	use := []store.Use{{CredentialID: cred.ID, At: time.Now()}, {CredentialID: "ak_never_stored", At: time.Now()}}
	if err := st.RecordUse(ctx, use); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 1 {
		t.Fatalf("%d last-used rows, want 1 (the stored credential's)", n)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteBotUser(ctx, bot.ID, store.Principal{Source: "sdk"}); err != nil {
			return err
		}
		_, _, err := tx.PurgeCredentials(ctx, bot.AccountID, bot.ID, store.MaxPageLimit)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 0 {
		t.Fatalf("%d last-used rows after the credential was purged, want 0", n)
	}
	if err := st.RecordUse(ctx, use); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 0 {
		t.Fatalf("%d last-used rows after recording a deleted credential's use, want 0", n)
	}
}

// TestSweepExpiredSingleUse checks that expired single-use keys are deleted, not only
// refused.
func TestSweepExpiredSingleUse(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b, _ := open(t, shared(t).Database(t), WithClock(clock))
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if err := b.PutSingleUse(ctx, k, nil, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * sweepEvery)
	mu.Unlock()
	if err := b.PutSingleUse(ctx, "d", nil, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows, err := b.pool.Query(ctx, `SELECT key FROM iamkit.single_use`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if len(keys) != 1 || keys[0] != "d" {
		t.Fatalf("keys left after the sweep = %q, want [d]", keys)
	}
}

// TestOneConnectionIsEnough checks that no read holds one connection while it waits for
// another: with a pool of one connection, a View and an Update that read credentials (and so
// their last-used times) complete. Otherwise N concurrent transactions deadlock a pool of N.
func TestOneConnectionIsEnough(t *testing.T) {
	url := shared(t).Database(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st, err := New(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := ids()
	acct := putAccount(t, st, g)
	bot := newBot(t, g, acct, "")
	cred := store.Credential{ID: mustID(t, g, id.APIKey, acct), AccountID: acct, Kind: store.APIKey, OwnerID: bot.ID, SecretHash: "h"}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutBotUser(ctx, bot); err != nil {
			return err
		}
		return tx.PutCredential(ctx, cred)
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordUse(ctx, []store.Use{{CredentialID: cred.ID, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(r store.Reader) error {
		_, err := r.Credential(ctx, cred.ID)
		return err
	})
	if err != nil {
		t.Fatalf("View reading a credential: %v", err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		cs, err := tx.CredentialsByOwner(ctx, acct, bot.ID, store.Page{Limit: 10})
		if err != nil {
			return err
		}
		if len(cs) != 1 || cs[0].LastUsedAt.IsZero() {
			return errors.New("the credential or its last use is missing")
		}
		cs[0].Description = "read with its last use"
		return tx.PutCredential(ctx, cs[0])
	})
	if err != nil {
		t.Fatalf("Update reading credentials: %v", err)
	}
}

// TestListingsInByteOrder checks that listings come in descending byte order of their keys,
// as the contract says, though the test server's collation (ICU en-US) sorts "usr_a" after
// "usr_B", and that a page bound compares the same way.
func TestListingsInByteOrder(t *testing.T) {
	_, st := open(t, shared(t).Database(t))
	ctx := t.Context()
	acct := putAccount(t, st, ids())
	users := []string{"usr_0", "usr_B", "usr_a", "usr_bA", "usr_b_"} // ascending bytes
	for i, u := range users {
		if err := st.Update(ctx, func(tx store.Tx) error {
			return tx.PutUser(ctx, store.User{ID: u, Email: u + "@example.com"})
		}); err != nil {
			t.Fatal(err)
		}
		m := store.Membership{AccountID: acct, UserID: users[i], Status: store.MemberActive}
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutMembership(ctx, m) }); err != nil {
			t.Fatal(err)
		}
	}
	list := func(before string) []string {
		var out []string
		err := st.View(ctx, func(r store.Reader) error {
			ms, err := r.Memberships(ctx, acct, store.Page{BeforeID: before, Limit: 10})
			for _, m := range ms {
				out = append(out, m.UserID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := list(""), []string{"usr_b_", "usr_bA", "usr_a", "usr_B", "usr_0"}; !slices.Equal(got, want) {
		t.Errorf("Memberships = %q, want %q", got, want)
	}
	if got, want := list("usr_a"), []string{"usr_B", "usr_0"}; !slices.Equal(got, want) {
		t.Errorf("Memberships before usr_a = %q, want %q", got, want)
	}
}

// TestValuesPostgreSQLCannotHold checks strings with a NUL byte or invalid UTF-8, which text
// columns refuse: a write is ErrInvalid naming the field, a lookup finds nothing.
func TestValuesPostgreSQLCannotHold(t *testing.T) {
	_, st := open(t, shared(t).Database(t))
	g := ids()
	ctx := t.Context()
	acct := putAccount(t, st, g)
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		bot := newBot(t, g, acct, bad)
		err := st.Update(ctx, func(tx store.Tx) error { return tx.PutBotUser(ctx, bot) })
		var se *store.Error
		if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Field != "bot_user.name" {
			t.Errorf("PutBotUser(name %q) = %v, want ErrInvalid on bot_user.name", bad, err)
		}
		err = st.View(ctx, func(r store.Reader) error {
			if _, err := r.BotUserByName(ctx, acct, bad); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("BotUserByName: %v, want ErrNotFound", err)
			}
			if _, err := r.BotUser(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("BotUser: %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%q: %v", bad, err)
		}
		if err := st.PutSingleUse(ctx, bad, nil, time.Now().Add(time.Hour)); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutSingleUse(%q) = %v, want ErrInvalid", bad, err)
		}
		if _, err := st.TakeSingleUse(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TakeSingleUse(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

// TestRecordOfNoAccount checks how a write the foreign keys refuse comes back through the
// store: ErrInvalid naming the field, and the transaction still usable after it.
func TestRecordOfNoAccount(t *testing.T) {
	_, st := open(t, shared(t).Database(t))
	g := ids()
	ctx := t.Context()
	acct := putAccount(t, st, g)
	orphan := newBot(t, g, mustID(t, g, id.Account, ""), "")
	kept := newBot(t, g, acct, "")
	var putErr error
	err := st.Update(ctx, func(tx store.Tx) error {
		putErr = tx.PutBotUser(ctx, orphan)
		return tx.PutBotUser(ctx, kept)
	})
	var se *store.Error
	if !errors.Is(putErr, store.ErrInvalid) || !errors.As(putErr, &se) || se.Field != "bot_user.account_id" {
		t.Errorf("PutBotUser in an account never stored: %v, want ErrInvalid on bot_user.account_id", putErr)
	}
	if err != nil {
		t.Fatalf("the Update that went on after the refused write: %v", err)
	}
	err = st.View(ctx, func(r store.Reader) error {
		_, err := r.BotUser(ctx, kept.ID)
		return err
	})
	if err != nil {
		t.Fatalf("the bot user written after the refused write: %v", err)
	}
}
