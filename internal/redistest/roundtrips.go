package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook that counts round trips to Redis: one per command sent alone,
// one per pipeline or MULTI/EXEC block (per node on a Cluster, when added to each node's
// client too). With Marked set, it counts only those made under a context that Mark
// returned, so that a test can count what one call costs while a change feed shares the
// client. It is safe for concurrent use.
type RoundTrips struct {
	Marked bool
	n      atomic.Int64
}

// marked is the context key Mark sets.
type marked struct{}

// Mark returns ctx marked for a RoundTrips with Marked set.
func Mark(ctx context.Context) context.Context { return context.WithValue(ctx, marked{}, true) }

// N returns how many round trips were counted.
func (r *RoundTrips) N() int64 { return r.n.Load() }

// Add counts n round trips made some other way (a PostgreSQL query, in a benchmark that
// compares stores).
func (r *RoundTrips) Add(n int64) { r.n.Add(n) }

// Reset forgets what was counted.
func (r *RoundTrips) Reset() { r.n.Store(0) }

func (r *RoundTrips) count(ctx context.Context) {
	if !r.Marked || ctx.Value(marked{}) != nil {
		r.n.Add(1)
	}
}

// DialHook implements redis.Hook.
func (r *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (r *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.count(ctx); return next(ctx, cmd) }
}

// ProcessPipelineHook implements redis.Hook.
func (r *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.count(ctx); return next(ctx, cmds) }
}

var _ redis.Hook = (*RoundTrips)(nil)
