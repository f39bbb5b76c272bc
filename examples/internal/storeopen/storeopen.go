package storeopen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// Open returns a fresh memstore when spec is empty, otherwise a Redis store: spec is a
// redis:// or rediss:// URL, a bare host:port, or a comma-separated list of Redis Cluster
// nodes. It pings Redis before returning. The returned func closes the store and its client.
func Open(ctx context.Context, spec string) (store.Store, func(), error) {
	if spec == "" {
		st, err := memstore.New()
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close() }, nil
	}
	// Maintenance notifications need Redis 8; with older servers go-redis's "auto" mode races
	// on concurrent dials. Without ContextTimeoutEnabled go-redis ignores context deadlines
	// and waits out its own read timeout. (See the redisstore documentation.)
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	var client redis.UniversalClient
	if strings.Contains(spec, ",") {
		var addrs []string
		for a := range strings.SplitSeq(spec, ",") {
			if a = strings.TrimPrefix(strings.TrimSpace(a), "redis://"); a != "" {
				addrs = append(addrs, a)
			}
		}
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaintNotificationsConfig: noMaint, ContextTimeoutEnabled: true})
	} else {
		if !strings.Contains(spec, "://") {
			spec = "redis://" + spec
		}
		opts, err := redis.ParseURL(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis: %w", err)
		}
		opts.MaintNotificationsConfig = noMaint
		opts.ContextTimeoutEnabled = true
		client = redis.NewClient(opts)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("-redis: %w", err)
	}
	st, err := redisstore.New(pingCtx, client)
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("-redis: %w", err)
	}
	return st, func() { st.Close(); client.Close() }, nil
}
