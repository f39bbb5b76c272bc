package redisstore

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/iamkit/iamkit/store"
)

// Limiter implements store.LimiterBackend: a store.Limiter on the store's Redis, so that the
// limits hold across every process that opens the same Redis (sign-in throttling, API rate
// limits). It counts with github.com/go-redis/redis_rate, a well-kept GCRA in one Lua script
// per call that reads Redis's own clock, rather than a limiter of this package's: the same
// algorithm as store.MemoryLimiter, so a limit means the same on memstore and on Redis.
//
// Its keys are redis_rate's ("rate:" and the key), under the store's prefix: rate:<prefix>:
// limit:<key>. Each is one key, so they work on Redis Cluster too, and expire by themselves
// once their bucket is full again.
func (s *Store) Limiter() store.Limiter {
	return &limiter{rl: redis_rate.NewLimiter(s.client), prefix: s.ks.prefix + ":limit:", check: s.check}
}

var _ store.LimiterBackend = (*Store)(nil)

type limiter struct {
	rl     *redis_rate.Limiter
	prefix string
	check  func(context.Context) error // the store is open and ctx is live
}

// Allow implements store.Limiter: a burst of rate.Limit events, then rate.Limit per
// rate.Period.
func (l *limiter) Allow(ctx context.Context, key string, rate store.Rate) (bool, time.Duration, error) {
	if err := rate.Validate(); err != nil {
		return false, 0, err
	}
	if err := l.check(ctx); err != nil {
		return false, 0, err
	}
	res, err := l.rl.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: rate.Limit, Burst: rate.Limit, Period: rate.Period})
	if err != nil {
		return false, 0, wrap(err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// Reset implements store.Limiter.
func (l *limiter) Reset(ctx context.Context, key string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	return wrap(l.rl.Reset(ctx, l.prefix+key))
}
