package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
	"github.com/iamkit/iamkit/store/storetest"
)

// newClient connects to a standalone server for the duration of t, with the options set
// by configure applied last.
func newClient(t testing.TB, srv *redistest.Server, configure ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	o.PoolSize = 64
	o.MaintNotificationsConfig = noMaintNotifications()
	o.ContextTimeoutEnabled = true // as the package documentation recommends
	for _, f := range configure {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// factory makes stores on client for the conformance suite, each under its own prefix.
func factory(client redis.UniversalClient, base string) storetest.NewStore {
	return func(t *testing.T, o storetest.Options) store.Store {
		opts := []redisstore.Option{
			redisstore.WithPrefix(base + ":" + redistest.UniquePrefix()),
			redisstore.WithBlockWait(250 * time.Millisecond),
		}
		if o.Now != nil {
			opts = append(opts, redisstore.WithClock(o.Now))
		}
		if o.FeedRetention > 0 {
			opts = append(opts, redisstore.WithFeedRetention(o.FeedRetention))
		}
		s, err := redisstore.New(t.Context(), client, opts...)
		if err != nil {
			t.Fatalf("redisstore.New: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// noMaintNotifications turns off go-redis's maintenance-notification handshake, which Redis
// 7 does not know. With it on (go-redis v9.23's "auto"), the first failed handshakes of
// connections dialled concurrently by Conn or Tx values (each its own baseClient sharing one
// *Options) write the shared Options without a common lock: a data race inside go-redis that
// -race reports. See the package documentation.
func noMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

func TestConformance(t *testing.T) {
	srv := sharedServer(t)
	storetest.Run(t, factory(newClient(t, srv), srv.Prefix))
}

func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master cluster")
	}
	cl := sharedCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, PoolSize: 64, MaintNotificationsConfig: noMaintNotifications(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.ForEachShard(ctx, func(ctx context.Context, sh *redis.Client) error { return sh.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, factory(c, "c"))
}
