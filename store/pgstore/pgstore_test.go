package pgstore_test

import (
	"os"
	"testing"

	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/pgstore"
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
		s, err := pgstore.New(t.Context(), srv.Pool(t), pgstore.WithClock(o.Now), pgstore.WithFeedRetention(o.FeedRetention))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
