package pgstore

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamkit/iamkit/store"
)

// CodeSchemaTooNew is the code of the ErrInvalid error New returns for a database whose
// iamkit schema is newer than this code: a newer release migrated it, and this one cannot
// know what its tables mean now. Error.Limit is the newest version this code knows.
const CodeSchemaTooNew = "schema_too_new"

// migrationFiles are the schema migrations, NNNN_name.sql, applied in version order.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Versions start at 1 and
// increase; a number may be missing while work that holds it lands elsewhere (branches
// developed in parallel each take their own number). The database records every version it
// has applied (iamkit.schema_version), not only the newest, so a hole filled later is still
// applied: see pending.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, name, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("pgstore: migration %s is not named NNNN_name.sql", base)
		}
		body, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("pgstore: two migrations have version %d", out[i].version)
		}
	}
	return out, nil
}

// pending returns the migrations of ms that applied (the versions a database records) lacks,
// in version order, or an error (CodeSchemaTooNew) when applied holds a version ms does not:
// a database migrated by newer code.
func pending(ms []migration, applied []int) ([]migration, error) {
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	has := make(map[int]bool, len(applied))
	for _, v := range applied {
		if !known[v] {
			return nil, store.Invalid("schema_version", CodeSchemaTooNew, latest,
				"the database's iamkit schema has version %d, which this code (newest %d) does not know: run a release that knows it", v, latest)
		}
		has[v] = true
	}
	var out []migration
	for _, m := range ms {
		if !has[m.version] {
			out = append(out, m)
		}
	}
	return out, nil
}

// migrateLock is the key of the advisory lock that serialises schema changes: processes
// opening one database at the same time migrate it one after the other.
const migrateLock = 0x69616d6b6974 // "iamkit"

// feedSetup is what the database says about its feed once set up.
type feedSetup struct {
	epoch  string
	shards int
}

// migrate brings the database's iamkit schema to the newest version this code has and sets
// up the feed (epoch and shards, on first use), in one transaction under an advisory lock:
// a crash leaves the schema as it was, and concurrent openers wait for each other. It
// refuses a database whose schema is newer than this code.
func migrate(ctx context.Context, pool *pgxpool.Pool, shards int) (feedSetup, error) {
	ms, err := migrations()
	if err != nil {
		return feedSetup{}, err
	}
	var setup feedSetup
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
			return err
		}
		if err := createVersionTable(ctx, tx); err != nil {
			return err
		}
		applied, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		todo, err := pending(ms, applied)
		if err != nil {
			return err
		}
		for _, m := range todo {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("pgstore: migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO iamkit.schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
		}
		setup, err = setUpFeed(ctx, tx, shards)
		return err
	})
	return setup, err
}

// appliedVersions returns the versions the database records.
func appliedVersions(ctx context.Context, tx pgx.Tx) ([]int, error) {
	rows, err := tx.Query(ctx, `SELECT version FROM iamkit.schema_version ORDER BY version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// createVersionTable creates the schema iamkit and its schema_version table, unless they
// exist: a role that may not create anything can open a database that is up to date.
func createVersionTable(ctx context.Context, tx pgx.Tx) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('iamkit.schema_version') IS NOT NULL`).Scan(&exists); err != nil || exists {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS iamkit`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `CREATE TABLE iamkit.schema_version (
		version     integer PRIMARY KEY,
		name        text NOT NULL,
		applied_at  timestamptz NOT NULL DEFAULT now())`)
	return err
}

// setUpFeed gives a new database its feed epoch and shard heads, and returns those the
// database has.
func setUpFeed(ctx context.Context, tx pgx.Tx, shards int) (feedSetup, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return feedSetup{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO iamkit.feed_meta (epoch, shards) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		hex.EncodeToString(b[:]), shards); err != nil {
		return feedSetup{}, err
	}
	var s feedSetup
	if err := tx.QueryRow(ctx, `SELECT epoch, shards FROM iamkit.feed_meta`).Scan(&s.epoch, &s.shards); err != nil {
		return feedSetup{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO iamkit.feed_heads (shard, rev)
		SELECT g, 0 FROM generate_series(0, $1::integer - 1) AS g ON CONFLICT DO NOTHING`, s.shards); err != nil {
		return feedSetup{}, err
	}
	return s, nil
}
