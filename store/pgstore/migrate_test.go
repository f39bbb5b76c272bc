package pgstore

import (
	"context"
	"errors"
	neturl "net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamkit/iamkit/store"
)

// schemaVersions returns the versions the database records, in order.
func schemaVersions(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT version FROM iamkit.schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantVersions(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	got := schemaVersions(t, pool)
	if len(got) != len(ms) {
		t.Fatalf("schema versions %v, want those of %d migrations", got, len(ms))
	}
	for i, v := range got {
		if v != ms[i].version {
			t.Fatalf("schema versions %v, want those of the migrations", got)
		}
	}
}

// TestPending: a database gets the migrations it has not recorded, holes filled later
// included, in version order; one recording a version the code does not know is refused.
func TestPending(t *testing.T) {
	ms := []migration{{version: 1}, {version: 2}, {version: 3}, {version: 5}, {version: 6}}
	versions := func(ms []migration) []int {
		var out []int
		for _, m := range ms {
			out = append(out, m.version)
		}
		return out
	}
	for _, c := range []struct {
		name    string
		applied []int
		want    []int
	}{
		{"new", nil, []int{1, 2, 3, 5, 6}},
		{"up_to_date", []int{1, 2, 3, 5, 6}, nil},
		{"behind", []int{1, 2, 3}, []int{5, 6}},
		{"hole_filled_later", []int{1, 2, 3, 6}, []int{5}},
	} {
		got, err := pending(ms, c.applied)
		if err != nil || !slices.Equal(versions(got), c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, versions(got), err, c.want)
		}
	}
	if _, err := pending(ms, []int{1, 2, 3, 4}); store.CodeOf(err) != CodeSchemaTooNew {
		t.Errorf("a database with version 4, which the code lacks: %v, want %s", err, CodeSchemaTooNew)
	}
}

// TestMigrations covers opening: a new database gets every migration, recorded once; opening
// it again changes nothing (the feed keeps its epoch); many processes opening one new
// database at once all succeed; a schema newer than the code, or another number of shards,
// is refused.
func TestMigrations(t *testing.T) {
	srv := shared(t)
	t.Run("new_then_reopened", func(t *testing.T) {
		t.Parallel()
		url := srv.Database(t)
		first, _ := open(t, url)
		wantVersions(t, first.pool)
		again, _ := open(t, url)
		wantVersions(t, again.pool)
		if first.epoch != again.epoch || first.shards != again.shards || again.shards != defaultShards {
			t.Fatalf("reopened: epoch %s shards %d, first %s %d", again.epoch, again.shards, first.epoch, first.shards)
		}
	})
	t.Run("concurrent_opens", func(t *testing.T) {
		t.Parallel()
		url := srv.Database(t)
		const n = 6
		pools := make([]*pgxpool.Pool, n)
		for i := range pools {
			p, err := pgxpool.New(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			pools[i] = p
		}
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = NewBackend(t.Context(), pools[i]) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			defer stores[i].Close()
			if stores[i].epoch != stores[0].epoch {
				t.Fatalf("open %d sees epoch %s, open 0 %s", i, stores[i].epoch, stores[0].epoch)
			}
		}
		wantVersions(t, pools[0])
	})
	t.Run("newer_schema_refused", func(t *testing.T) {
		t.Parallel()
		url := srv.Database(t)
		b, _ := open(t, url)
		if _, err := b.pool.Exec(t.Context(), `INSERT INTO iamkit.schema_version (version, name) VALUES (9999, 'from_the_future')`); err != nil {
			t.Fatal(err)
		}
		_, err := NewBackend(t.Context(), b.pool)
		var se *store.Error
		if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != CodeSchemaTooNew || !errors.As(err, &se) || se.Field != "schema_version" {
			t.Fatalf("opening a database of schema 9999: %v, want ErrInvalid with code %s on schema_version", err, CodeSchemaTooNew)
		}
		if ms, _ := migrations(); se.Limit != ms[len(ms)-1].version {
			t.Errorf("Error.Limit = %d, want the newest version this code knows, %d", se.Limit, ms[len(ms)-1].version)
		}
	})
	t.Run("other_shard_count_refused", func(t *testing.T) {
		t.Parallel()
		url := srv.Database(t)
		b, _ := open(t, url, WithShards(4))
		if _, err := NewBackend(t.Context(), b.pool, WithShards(8)); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("opening a 4-shard feed with WithShards(8): %v, want ErrInvalid", err)
		}
		adopted, _ := open(t, url)
		if adopted.shards != 4 {
			t.Fatalf("opened without WithShards: %d shards, want the database's 4", adopted.shards)
		}
	})
	t.Run("least_privilege_role", func(t *testing.T) {
		// Once the schema is up to date, a role that may only read and write its tables
		// opens the database: no migration, no CREATE.
		t.Parallel()
		url := srv.Database(t)
		admin, _ := open(t, url)
		role := "iamkit_rw_" + strconv.FormatInt(time.Now().UnixNano(), 36)
		for _, sql := range []string{
			"CREATE ROLE " + role + " LOGIN",
			"GRANT USAGE ON SCHEMA iamkit TO " + role,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA iamkit TO " + role,
		} {
			if _, err := admin.pool.Exec(t.Context(), sql); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			ctx := context.WithoutCancel(t.Context())
			_, _ = admin.pool.Exec(ctx, "DROP OWNED BY "+role)
			_, _ = admin.pool.Exec(ctx, "DROP ROLE "+role)
		})
		u, err := neturl.Parse(url)
		if err != nil {
			t.Fatal(err)
		}
		u.User = neturl.User(role)
		b, st := open(t, u.String())
		if b.epoch != admin.epoch {
			t.Fatalf("the role sees epoch %s, the owner %s", b.epoch, admin.epoch)
		}
		putAccount(t, st, ids())
	})
	t.Run("bad_options", func(t *testing.T) {
		t.Parallel()
		pool := srv.Pool(t)
		for name, opt := range map[string]Option{
			"clock": WithClock(nil), "feed_retention": WithFeedRetention(0), "shards": WithShards(maxShards + 1),
			"max_attempts": WithMaxAttempts(0), "poll_interval": WithPollInterval(0),
		} {
			_, err := NewBackend(t.Context(), pool, opt)
			var se *store.Error
			if !errors.As(err, &se) || !errors.Is(err, store.ErrInvalid) || se.Field != name {
				t.Errorf("option %s: %v, want ErrInvalid naming it", name, err)
			}
		}
		if _, err := NewBackend(t.Context(), nil); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("a nil pool: %v, want ErrInvalid", err)
		}
	})
}
