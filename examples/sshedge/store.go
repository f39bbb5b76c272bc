package main

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

// openStore opens the store the edge verifies against: a fresh memstore when redisURL is
// empty, otherwise Redis with redisstore's defaults (key prefix, shard count), which is what
// lets the edge read what an API server using the same defaults writes. redisURL is a
// redis:// or rediss:// URL, a bare host:port, or a comma-separated list of Redis Cluster
// nodes. The returned func closes the store and its client.
func openStore(ctx context.Context, redisURL string) (store.Store, func(), error) {
	if redisURL == "" {
		st := memstore.New()
		return st, func() { st.Close() }, nil
	}
	// Maintenance notifications need Redis 8; with older servers go-redis's "auto" mode has a
	// (harmless) data race on concurrent dials (see the redisstore documentation).
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	var rdb redis.UniversalClient
	switch {
	case strings.Contains(redisURL, "://"):
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis: %w", err)
		}
		opts.MaintNotificationsConfig = noMaint
		rdb = redis.NewClient(opts)
	case strings.Contains(redisURL, ","):
		rdb = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: strings.Split(redisURL, ","), MaintNotificationsConfig: noMaint})
	default:
		rdb = redis.NewClient(&redis.Options{Addr: redisURL, MaintNotificationsConfig: noMaint})
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	st, err := redisstore.New(rdb)
	if err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redisstore: %w", err)
	}
	return st, func() {
		st.Close()
		rdb.Close()
	}, nil
}
