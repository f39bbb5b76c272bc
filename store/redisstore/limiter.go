package redisstore

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

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
	return &limiter{rl: redis_rate.NewLimiter(s.client), client: s.client, prefix: s.ks.prefix + ":limit:", check: s.check}
}

var (
	_ store.LimiterBackend = (*Store)(nil)
	_ store.BatchLimiter   = (*limiter)(nil)
)

type limiter struct {
	rl     *redis_rate.Limiter
	client redis.UniversalClient
	prefix string
	check  func(context.Context) error // the store is open and ctx is live
}

// redisRatePrefix is what redis_rate puts before its keys: Take uses the same key as Allow.
const redisRatePrefix = "rate:"

// takeScript is redis_rate's GCRA (the same key, the same theoretical arrival time in
// seconds since 2017 on Redis's clock) with a refund first and a batch after: it moves the
// arrival time back by the unused events (never before now: a full bucket stays full),
// then records as many whole events as fit, up to the cost. It returns the events recorded
// and, when none, the seconds until one would fit.
var takeScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local unused = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local interval = period / rate
local burst_offset = interval * burst
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + (t[2] / 1000000)
local tat = tonumber(redis.call("GET", key) or now) or now
tat = math.max(tat - unused * interval, now)
local avail = math.floor((now - tat + burst_offset) / interval + 1e-9)
local taken = math.min(avail, cost)
if taken < 1 then
  taken = 0
else
  tat = tat + taken * interval
end
local reset_after = tat - now
if reset_after > 0 then
  redis.call("SET", key, tat, "EX", math.ceil(reset_after))
else
  redis.call("DEL", key)
end
if taken > 0 then
  return {taken, "-1"}
end
return {0, tostring(tat - burst_offset + interval - now)}
`)

// Take implements store.BatchLimiter, on the buckets Allow uses: one script call.
func (l *limiter) Take(ctx context.Context, key string, rate store.Rate, unused, n int) (int, time.Duration, error) {
	if err := store.CheckTake(rate, unused, n); err != nil {
		return 0, 0, err
	}
	if err := l.check(ctx); err != nil {
		return 0, 0, err
	}
	v, err := takeScript.Run(ctx, l.client, []string{redisRatePrefix + l.prefix + key},
		rate.Limit, rate.Limit, rate.Period.Seconds(), unused, n).Slice()
	if err != nil {
		return 0, 0, wrap(err)
	}
	taken, _ := v[0].(int64)
	if taken > 0 {
		return int(taken), 0, nil
	}
	s, _ := v[1].(string)
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) {
		return 0, 0, store.NewError(store.ErrUnavailable, store.CodeInternal, "redisstore: the rate limit script answered %q", s)
	}
	return 0, max(time.Duration(secs*float64(time.Second)), time.Millisecond), nil
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
