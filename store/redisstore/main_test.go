package redisstore_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/iamkit/iamkit/internal/redistest"
)

// quiet drops go-redis's internal log lines (failed dials while the fault tests have Redis
// down, connections closed by hooks), which would otherwise interleave with benchmark output.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// The tests of this binary share one standalone server and one cluster, started on first
// use and stopped when the binary's tests are done; each test and subtest keeps its keys
// under a prefix of its own. The fault tests start private servers, since they kill them.
var shared struct {
	once, clusterOnce sync.Once
	srv               *redistest.Server
	err               error
	cluster           *redistest.Cluster
	clusterErr        error
}

func sharedServer(t testing.TB) *redistest.Server {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = redistest.Launch() })
	redistest.Require(t, shared.err)
	return shared.srv
}

func sharedCluster(t testing.TB) *redistest.Cluster {
	t.Helper()
	shared.clusterOnce.Do(func() { shared.cluster, shared.clusterErr = redistest.LaunchCluster(3) })
	redistest.Require(t, shared.clusterErr)
	return shared.cluster
}

func TestMain(m *testing.M) {
	if os.Getenv("IAMKIT_REDIS_LOG") == "" {
		redis.SetLogger(quiet{})
	}
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	if shared.cluster != nil {
		shared.cluster.Close()
	}
	os.Exit(code)
}
