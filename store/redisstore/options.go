package redisstore

import (
	"time"
)

// Defaults of the options.
const (
	DefaultPrefix        = "iamkit"
	DefaultShards        = 16
	DefaultFeedRetention = 10000
	DefaultMaxRetries    = 20
	// MaxShards is the largest number of shard buckets WithShards accepts.
	MaxShards = 1024
)

// Option configures a Store. Options are applied in order by New and NewBackend.
type Option func(*options)

type options struct {
	prefix     string
	now        func() time.Time
	retention  int64
	maxRetries int
	shards     int
	blockWait  time.Duration
}

func defaultOptions() options {
	return options{
		prefix:     DefaultPrefix,
		now:        time.Now,
		retention:  DefaultFeedRetention,
		maxRetries: DefaultMaxRetries,
		shards:     DefaultShards,
		blockWait:  time.Second,
	}
}

// WithPrefix puts every key under prefix (default "iamkit"), so that several stores, or
// other data, can share one Redis. The prefix must not contain '{' or '}'. It is part of
// the data's layout: keep it for the data's lifetime.
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithClock sets the clock the store reads when it decides whether a single-use key has
// expired (default time.Now). Redis expiries (PX) are then only garbage collection, set a
// little later than the logical expiry.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithFeedRetention sets how many commits each feed stream keeps at least (default 10000).
// Trimming is approximate (XADD MAXLEN ~ n) from 1000 up: a stream may hold somewhat more. A
// subscriber that falls further behind than what is kept gets Batch.Gap.
func WithFeedRetention(n int) Option {
	return func(o *options) { o.retention = int64(n) }
}

// WithMaxRetries sets how many times Update re-runs its function after a conflicting
// concurrent write before it gives up with an error matching store.ErrUnavailable, code
// store.CodeAborted (default 20).
func WithMaxRetries(n int) Option {
	return func(o *options) { o.maxRetries = n }
}

// WithShards sets the number of shard buckets, each with its own feed stream and hash slot
// (default 16, at most MaxShards). Every primary key maps to a bucket by its shard tag. More
// buckets spread a Redis Cluster's load over more slots; fewer make Changes cheaper, since it
// reads every stream. Like the prefix it is part of the data's layout, which the store
// records in Redis: a store opened with another shard count on the same prefix is refused.
func WithShards(n int) Option {
	return func(o *options) { o.shards = n }
}

// WithBlockWait bounds each blocking read of the change feed (default one second). Changes
// loops over such reads until its context is done, each also bounded by three quarters of
// the time its context has left, so that a caller polling with shorter deadlines still gets
// what a read finds. A shorter wait notices Close sooner at the cost of more idle round
// trips.
func WithBlockWait(d time.Duration) Option {
	return func(o *options) { o.blockWait = d }
}
