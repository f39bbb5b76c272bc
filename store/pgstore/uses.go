package pgstore

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iamkit/iamkit/store"
)

// recordUseSQL records a batch of uses in one statement, outside any transaction of the
// store's and outside the feed: the latest use per credential (its time and address, ” for
// unknown), kept only if later than the stored one, for credentials that exist (the join
// drops the others).
const recordUseSQL = `
INSERT INTO iamkit.last_used (credential_id, at, ip)
SELECT DISTINCT ON (u.id) u.id, u.at, NULLIF(u.ip, '')::inet
FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
JOIN iamkit.credentials c ON c.id = u.id
ORDER BY u.id, u.at DESC
ON CONFLICT (credential_id) DO UPDATE SET at = EXCLUDED.at, ip = EXCLUDED.ip WHERE last_used.at < EXCLUDED.at`

// recordUseAttempts bounds the reruns of a RecordUse whose credential was deleted between
// the join and the insert (a foreign-key violation: the rerun's join drops it), or that
// deadlocked with a transaction deleting credentials.
const recordUseAttempts = 3

// RecordUse implements store.Backend.
func (s *Store) RecordUse(ctx context.Context, uses []store.Use) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	ids := make([]string, 0, len(uses))
	ats := make([]time.Time, 0, len(uses))
	ips := make([]string, 0, len(uses))
	for _, u := range uses {
		if storable(u.CredentialID) && !u.At.IsZero() {
			ids = append(ids, u.CredentialID)
			ats = append(ats, u.At)
			ips = append(ips, addrText(u.IP))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var err error
	for range recordUseAttempts {
		if _, err = s.pool.Exec(ctx, recordUseSQL, ids, ats, ips); !isForeignKeyViolation(err) && !retryable(err) {
			break
		}
	}
	return s.fail(ctx, err, "record uses")
}

func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgForeignKeyViolation
}

// addrText is an address as recordUseSQL takes it: ” when unknown, and without a zone,
// which inet cannot hold.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.WithZone("").String()
}

// LastUsed implements store.Backend.
func (s *Store) LastUsed(ctx context.Context, ids []string) ([]store.Use, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return s.lastUsed(ctx, s.pool, ids)
}

// LastUsed implements store.LastUsedReader: the read runs on the transaction's connection.
func (o *ops) LastUsed(ctx context.Context, ids []string) ([]store.Use, error) {
	return o.s.lastUsed(ctx, o.tx, ids)
}

// querier is what lastUsed reads through: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// lastUsed reads the last uses of ids through q.
func (s *Store) lastUsed(ctx context.Context, q querier, ids []string) ([]store.Use, error) {
	out := make([]store.Use, len(ids))
	rows, err := q.Query(ctx, `SELECT credential_id, at, coalesce(host(ip), '') FROM iamkit.last_used
		WHERE credential_id = ANY($1::text[])`, storableOnly(ids))
	if err != nil {
		return nil, s.fail(ctx, err, "read last uses")
	}
	found := map[string]store.Use{}
	var (
		id, ip string
		t      time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &t, &ip}, func() error {
		u := store.Use{CredentialID: id, At: t.UTC()}
		if ip != "" {
			var err error
			if u.IP, err = netip.ParseAddr(ip); err != nil {
				return err
			}
		}
		found[id] = u
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, err, "read last uses")
	}
	for i, id := range ids {
		out[i] = found[id]
		out[i].CredentialID = id
	}
	return out, nil
}

func storableOnly(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if storable(id) {
			out = append(out, id)
		}
	}
	return out
}

// sweepEvery is how often PutSingleUse deletes expired single-use keys.
const sweepEvery = time.Minute

// PutSingleUse implements store.Backend: the key is inserted, or replaces one that expired by
// the store's clock; a live one is a conflict.
func (s *Store) PutSingleUse(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if !storable(key) {
		return store.Invalid("key", store.CodeInvalidValue, 0, "PostgreSQL cannot store a NUL byte or invalid UTF-8")
	}
	if value == nil {
		value = []byte{}
	}
	now := s.now()
	tag, err := s.pool.Exec(ctx, `INSERT INTO iamkit.single_use (key, value, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
		WHERE single_use.expires_at <= $4`, key, value, expiresAt, now)
	if err != nil {
		return s.fail(ctx, err, "put a single-use key")
	}
	if tag.RowsAffected() == 0 {
		return store.NewError(store.ErrConflict, store.CodeAlreadyExists, "the single-use key is already stored")
	}
	if s.sweepDue(now) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM iamkit.single_use WHERE expires_at <= $1`, now); err != nil {
			return s.fail(ctx, err, "sweep single-use keys")
		}
	}
	return nil
}

// sweepDue reports whether it is time to sweep expired single-use keys, and if so sets the
// next time.
func (s *Store) sweepDue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.sweepAt) {
		return false
	}
	s.sweepAt = now.Add(sweepEvery)
	return true
}

// TakeSingleUse implements store.Backend: one DELETE ... RETURNING, so only one caller gets
// the key.
func (s *Store) TakeSingleUse(ctx context.Context, key string) ([]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if !storable(key) {
		return nil, store.ErrNotFound
	}
	var value []byte
	var expires time.Time
	err := s.pool.QueryRow(ctx, `DELETE FROM iamkit.single_use WHERE key = $1 RETURNING value, expires_at`, key).Scan(&value, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.fail(ctx, err, "take a single-use key")
	}
	if !s.now().Before(expires) {
		return nil, store.ErrNotFound
	}
	return value, nil
}
