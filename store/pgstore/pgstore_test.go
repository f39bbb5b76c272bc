package pgstore

import (
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/storetest"
)

// server is the PostgreSQL the tests of this binary share, each in databases of its own;
// launchErr says why there is none.
var (
	server    *pgtest.Server
	launchErr error
)

func TestMain(m *testing.M) {
	server, launchErr = pgtest.Launch()
	code := m.Run()
	if server != nil {
		server.Close()
	}
	os.Exit(code)
}

// shared returns the shared server, or skips or fails t when there is none.
func shared(t *testing.T) *pgtest.Server {
	t.Helper()
	pgtest.Require(t, launchErr)
	return server
}

func TestConformance(t *testing.T) {
	srv := shared(t)
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		s, err := New(t.Context(), srv.Pool(t), WithClock(o.Now), WithFeedRetention(o.FeedRetention))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// open opens a Store on the database at url with a pool of its own, as another process
// would; both are closed when t ends.
func open(t *testing.T, url string, opts ...Option) (*Store, store.Store) {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b, err := NewBackend(t.Context(), pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, store.New(b)
}

// ids makes record IDs.
func ids() *id.Generator { return id.NewGenerator(clock.System{}, rand.Reader) }

func mustID(t *testing.T, g *id.Generator, p id.Prefix, accountID string) string {
	t.Helper()
	var v string
	var err error
	if accountID == "" {
		v, err = g.New(p)
	} else {
		v, err = g.NewIn(p, accountID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// putAccount stores a new account and returns its ID.
func putAccount(t *testing.T, st store.Store, g *id.Generator) string {
	t.Helper()
	a := store.Account{ID: mustID(t, g, id.Account, ""), Name: "Acme", Plan: "pro", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.PutAccount(t.Context(), a) }); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// newBot returns a bot user of accountID, not stored, named name or after its ID.
func newBot(t *testing.T, g *id.Generator, accountID, name string) store.BotUser {
	t.Helper()
	b := store.BotUser{ID: mustID(t, g, id.BotUser, accountID), AccountID: accountID, Name: name, Active: true}
	if b.Name == "" {
		b.Name = "bot-" + id.Body(b.ID)
	}
	return b
}
