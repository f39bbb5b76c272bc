package storeopen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/pgstore"
	"github.com/iamkit/iamkit/store/redisstore"
)

// Kind is the kind of store a spec names.
type Kind int

// The kinds of store.
const (
	Memory       Kind = iota // the embedded memstore
	Redis                    // one Redis server, by URL
	RedisCluster             // a Redis Cluster, by node addresses
	Postgres                 // PostgreSQL, by URL
)

// String returns the kind's name, as a server prints it.
func (k Kind) String() string {
	switch k {
	case Redis:
		return "redis"
	case RedisCluster:
		return "redis cluster"
	case Postgres:
		return "postgres"
	}
	return "memory"
}

// Spec is a parsed store spec.
type Spec struct {
	Kind Kind
	// URL is the redis://, rediss:// or postgres:// URL of a Redis or Postgres spec.
	URL string
	// Addrs are the host:port addresses of a RedisCluster spec's nodes.
	Addrs []string
}

// ErrSpec is matched by the errors of Parse (and Open, for a spec that does not parse).
var ErrSpec = errors.New("storeopen: not a store spec")

// Parse tells which store spec names (see the package documentation). It checks the form
// only; Open finds out whether the store is there.
func Parse(spec string) (Spec, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || spec == "memory":
		return Spec{Kind: Memory}, nil
	case strings.Contains(spec, ","):
		return parseCluster(spec)
	case !strings.Contains(spec, "://"):
		return parseURL("redis://" + spec)
	}
	return parseURL(spec)
}

// parseCluster parses a comma-separated list of Redis Cluster node addresses, each possibly
// written as a redis:// URL of its address alone.
func parseCluster(spec string) (Spec, error) {
	var addrs []string
	for a := range strings.SplitSeq(spec, ",") {
		a = strings.TrimPrefix(strings.TrimSpace(a), "redis://")
		if a == "" {
			continue
		}
		if strings.ContainsAny(a, "/@?# ") {
			return Spec{}, fmt.Errorf("%w: a Redis Cluster node is host:port", ErrSpec)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return Spec{}, fmt.Errorf("%w: a Redis Cluster list names no node", ErrSpec)
	}
	return Spec{Kind: RedisCluster, Addrs: addrs}, nil
}

// parseURL parses the URL of a Redis server or a PostgreSQL database.
func parseURL(spec string) (Spec, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: not a URL", ErrSpec) // url's error repeats the URL
	}
	spec = u.Scheme + spec[strings.Index(spec, ":"):] // the scheme in lower case, as clients want it
	if !strings.HasPrefix(spec, u.Scheme+"://") {     // "postgres:://" parses, with an opaque part
		return Spec{}, fmt.Errorf("%w: not a URL of the form scheme://", ErrSpec)
	}
	if u.Host == "" && u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Spec{}, fmt.Errorf("%w: no host", ErrSpec)
	}
	switch u.Scheme {
	case "redis", "rediss":
		return Spec{Kind: Redis, URL: spec}, nil
	case "postgres", "postgresql":
		return Spec{Kind: Postgres, URL: spec}, nil
	}
	return Spec{}, fmt.Errorf("%w: the scheme must be redis, rediss, postgres or postgresql", ErrSpec)
}

// Open opens the store spec names (see Parse). It pings Redis or PostgreSQL before returning,
// within 5 seconds and ctx. The returned func closes the store and its client.
func Open(ctx context.Context, spec string) (store.Store, func(), error) {
	s, err := Parse(spec)
	if err != nil {
		return nil, nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch s.Kind {
	case Redis, RedisCluster:
		return openRedis(pingCtx, s)
	case Postgres:
		return openPostgres(pingCtx, s.URL)
	}
	st, err := memstore.New()
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

// openRedis opens a Redis store with redisstore's defaults.
func openRedis(ctx context.Context, s Spec) (store.Store, func(), error) {
	// Maintenance notifications need Redis 8; with older servers go-redis's "auto" mode races
	// on concurrent dials. Without ContextTimeoutEnabled go-redis ignores context deadlines
	// and waits out its own read timeout. (See the redisstore documentation.)
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	var client redis.UniversalClient
	if s.Kind == RedisCluster {
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: s.Addrs, MaintNotificationsConfig: noMaint, ContextTimeoutEnabled: true})
	} else {
		opts, err := redis.ParseURL(s.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: not a Redis URL", ErrSpec) // go-redis's error may repeat it
		}
		opts.MaintNotificationsConfig = noMaint
		opts.ContextTimeoutEnabled = true
		client = redis.NewClient(opts)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	st, err := redisstore.New(ctx, client)
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	return st, func() { st.Close(); client.Close() }, nil
}

// openPostgres opens a PostgreSQL store, which sets up its schema on first use.
func openPostgres(ctx context.Context, connString string) (store.Store, func(), error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: not a PostgreSQL connection string", ErrSpec) // pgx's error quotes it
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	st, err := pgstore.New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	return st, func() { st.Close(); pool.Close() }, nil
}

// Flags are a server's -store flag and its alias -redis.
type Flags struct {
	store, redis string
}

// AddFlags registers -store and -redis on fs; about says what the store is for (e.g. "to
// share state with the API server").
func AddFlags(fs *flag.FlagSet, about string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.store, "store", "", "the store "+about+": empty or memory (in this process), "+
		"redis://host:port/db or rediss://..., host:port[,host:port...] for Redis Cluster, "+
		"or postgres://user@host/db")
	fs.StringVar(&f.redis, "redis", "", "an alias of -store, kept for Redis URLs and Cluster lists")
	return f
}

// Spec returns the spec the flags give, once the flag set is parsed: -store, or -redis. Both
// at once is an error unless they are equal.
func (f *Flags) Spec() (string, error) {
	if f.store != "" && f.redis != "" && f.store != f.redis {
		return "", fmt.Errorf("%w: -store and -redis name different stores; give one", ErrSpec)
	}
	if f.store != "" {
		return f.store, nil
	}
	return f.redis, nil
}

// InMemory reports whether spec names the embedded memstore, which no other process shares.
func InMemory(spec string) bool {
	s, err := Parse(spec)
	return err == nil && s.Kind == Memory
}
