package iamkit

import (
	"context"
	"sync"
	"time"

	"github.com/iamkit/iamkit/store"
)

// The API rate limit on a shared limiter (Redis) takes tokens in leases, so that a busy
// account's requests cost a round trip once per lease instead of once each:
//
//   - A lease is taken with store.BatchLimiter.Take, which records its events in the shared
//     bucket before any is spent: no process spends a token the others do not see. A lease
//     is spendable for leaseTTL after it was taken; what it has left then goes back to the
//     bucket with the next Take (a refund), so unspent tokens are not lost.
//   - Its size adapts to the key's traffic: it starts at one (a round trip per request,
//     exactly the one-event GCRA), doubles each time a lease is spent within leaseTTL, and
//     falls to what the last lease spent when one expires unspent; it is never more than
//     leaseCap of the rate (a twentieth of its Limit, at most maxLease).
//
// Accuracy: every request let through was counted in the shared bucket at most leaseTTL
// before, so in any window of the rate's Period a process lets through at most its
// lease (leaseCap) more than the bucket allowed in that window; and a process holds at most
// one lease's tokens unspent per key, which its next Take gives back (or which come back by
// themselves, at the rate, if the key goes quiet). A rate of fewer than 40 events per
// Period is never leased (leaseCap is 1).
const (
	leaseTTL       = time.Second
	maxLease       = 100
	leaseMaxKeys   = 10_000 // keys rateLeases holds; when full it starts again empty
	leaseCapDivide = 20
)

// leaseCap is the most tokens of rate one lease takes.
func leaseCap(rate store.Rate) int { return max(1, min(rate.Limit/leaseCapDivide, maxLease)) }

// rateLeases counts events against rates in a shared BatchLimiter by leases (see above). It
// is safe for concurrent use.
type rateLeases struct {
	lim   store.BatchLimiter
	clock store.Clock

	mu     sync.Mutex
	leases map[string]*rateLease
}

// rateLease is one key's lease.
type rateLease struct {
	mu      sync.Mutex
	left    int       // tokens taken and not spent
	spent   int       // tokens of the current lease spent
	expires time.Time // when left stops being spendable
	size    int       // how many the next Take asks for
}

func newRateLeases(lim store.BatchLimiter, c store.Clock) *rateLeases {
	return &rateLeases{lim: lim, clock: c, leases: map[string]*rateLease{}}
}

func (r *rateLeases) lease(key string) *rateLease {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.leases[key]
	if !ok {
		if len(r.leases) >= leaseMaxKeys {
			clear(r.leases) // their unspent tokens come back to the bucket at the rate
		}
		l = &rateLease{size: 1}
		r.leases[key] = l
	}
	return l
}

// Allow is store.Limiter's Allow: one event under key against rate, from the key's lease
// when it has a token left, else from a new lease (one call of the limiter).
func (r *rateLeases) Allow(ctx context.Context, key string, rate store.Rate) (bool, time.Duration, error) {
	now := r.clock.Now()
	l := r.lease(key)
	l.mu.Lock()
	if l.left > 0 && now.Before(l.expires) {
		l.left--
		l.spent++
		l.mu.Unlock()
		return true, 0, nil
	}
	// Spent or expired: give back what is left and take the next lease, sized by how the
	// last one went.
	c := leaseCap(rate)
	switch {
	case l.left > 0: // expired unspent: the traffic is lower than the lease
		l.size = max(1, l.spent)
	case l.spent > 0 && now.Before(l.expires): // spent in time: the traffic may be higher
		l.size *= 2
	}
	l.size = min(l.size, c)
	unused, size := l.left, l.size
	l.left, l.spent = 0, 0
	l.mu.Unlock()
	taken, wait, err := r.lim.Take(ctx, key, rate, unused, size)
	if err != nil || taken == 0 {
		return false, wait, err
	}
	l.mu.Lock()
	l.left += taken - 1
	l.spent++
	l.expires = now.Add(leaseTTL)
	l.mu.Unlock()
	return true, 0, nil
}

// Reset is store.Limiter's Reset: it forgets key's lease and its shared bucket.
func (r *rateLeases) Reset(ctx context.Context, key string) error {
	r.mu.Lock()
	delete(r.leases, key)
	r.mu.Unlock()
	return r.lim.Reset(ctx, key)
}
