package redisstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// quiet drops go-redis's internal log lines (failed dials while the fault tests have Redis
// down, connections closed by hooks), which would otherwise interleave with benchmark output.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	if os.Getenv("IAMKIT_REDIS_LOG") == "" {
		redis.SetLogger(quiet{})
	}
	os.Exit(m.Run())
}
