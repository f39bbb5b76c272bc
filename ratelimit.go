package iamkit

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// RateLimit returns middleware that counts every request of an authenticated principal
// (behind BearerAuth, or WithPrincipal) against its account's API rate and, when the
// account's plan sets one, its credential's (identity.Plan.APIRate, whose default is ngrok's
// 120 requests per 60 s, and APICredentialRate). The counts live in the store's Limiter when
// its adapter offers one (store.LimiterOf: Redis, so that every process on it shares them),
// else in this IAM's process (store.MemoryLimiter); both are the same GCRA: a burst of the
// limit, then the limit per period. On a shared limiter that can take several events at
// once (store.BatchLimiter: Redis) a busy key's tokens are taken in leases of at most a
// twentieth of its limit, spent in this process within a second and their unspent rest
// given back: about one round trip per lease instead of one per request, at the cost of
// letting through, in any period, up to one lease more than the limit per process
// (ratelease.go says exactly); a limit of fewer than 40 per period is counted a request at
// a time.
//
// A request over a limit gets store.ErrLimitExceeded, code CodeRateLimited, with
// store.Error.RetryAfter, written by the ErrorFormat (429), and the headers Retry-After (whole
// seconds, rounded up), RateLimit-Remaining: 0 and RateLimit-Reset (the same seconds). Every
// request it lets through carries RateLimit-Limit and RateLimit-Policy ("120;w=60") of its
// account's rate. The account's plan is read from the store at most once per
// planCacheTTL per account.
func (i *IAM) RateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			i.WriteError(w, r, store.NewError(store.ErrUnauthenticated, CodeNoPrincipal, "the request was not authenticated"))
			return
		}
		if err := i.allowRequest(r.Context(), w.Header(), p); err != nil {
			i.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowRequest counts one request of p against its account's and credential's rates.
func (i *IAM) allowRequest(ctx context.Context, h http.Header, p Principal) error {
	e, err := i.plans.of(ctx, i.st, p.AccountID, i.clock.Now())
	if err != nil {
		return err
	}
	h["Ratelimit-Limit"] = e.limitHeader // canonical keys, values made once per plan read
	h["Ratelimit-Policy"] = e.policyHeader
	// The credential's own limit first: a request it refuses does not count against the
	// account, so one busy credential cannot spend its siblings' share.
	if cr := e.plan.APICredentialRate; cr != (store.Rate{}) && p.CredentialID != "" {
		if err := i.take(ctx, h, "api:credential:"+p.CredentialID, "credential", cr); err != nil {
			return err
		}
	}
	return i.take(ctx, h, e.accountKey, "account", e.plan.APIRateOrDefault())
}

// take counts one event under key against rate, and refuses it with the retry headers when
// it is over.
func (i *IAM) take(ctx context.Context, h http.Header, key, what string, rate store.Rate) error {
	ok, wait, err := i.limiter.Allow(ctx, key, rate)
	if err != nil || ok {
		return err
	}
	secs := strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)
	h.Set("Retry-After", secs)
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", secs)
	return &store.Error{
		Kind: store.ErrLimitExceeded, Code: CodeRateLimited, Field: what, Limit: rate.Limit, RetryAfter: wait,
		Msg: "too many API requests of this " + what + ": at most " + strconv.Itoa(rate.Limit) + " per " + rate.Period.String() + "; retry after " + secs + " s",
	}
}

// planCacheTTL is how long RateLimit trusts the plan it read for an account: a plan change
// takes effect on the API's rate within it.
const planCacheTTL = 10 * time.Second

// planCacheMax bounds the accounts planCache holds; when full it starts again empty.
const planCacheMax = 10_000

// planCache remembers accounts' plans for RateLimit. It is safe for concurrent use.
type planCache struct {
	catalog *identity.Catalog
	mu      sync.Mutex
	entries map[string]cachedPlan
}

type cachedPlan struct {
	plan identity.Plan
	read time.Time
	// What every request of the account uses, made once: its limiter key and the values of
	// its RateLimit-Limit and RateLimit-Policy headers (shared: never modified).
	accountKey                string
	limitHeader, policyHeader []string
}

func newPlanCache(c *identity.Catalog) *planCache {
	return &planCache{catalog: c, entries: map[string]cachedPlan{}}
}

// of returns the plan of account accountID, read from st unless read within planCacheTTL
// before now.
func (c *planCache) of(ctx context.Context, st store.Store, accountID string, now time.Time) (cachedPlan, error) {
	c.mu.Lock()
	e, ok := c.entries[accountID]
	c.mu.Unlock()
	if ok && now.Sub(e.read) < planCacheTTL && !now.Before(e.read) {
		return e, nil
	}
	var acct store.Account
	if err := st.View(ctx, func(r store.Reader) (err error) {
		acct, err = r.Account(ctx, accountID)
		return err
	}); err != nil {
		return cachedPlan{}, err
	}
	plan, err := c.catalog.PlanOf(acct)
	if err != nil {
		return cachedPlan{}, err
	}
	rate := plan.APIRateOrDefault()
	limit := strconv.Itoa(rate.Limit)
	e = cachedPlan{
		plan: plan, read: now, accountKey: "api:account:" + accountID,
		limitHeader:  []string{limit},
		policyHeader: []string{limit + ";w=" + strconv.FormatInt(int64(rate.Period/time.Second), 10)},
	}
	c.mu.Lock()
	if len(c.entries) >= planCacheMax {
		clear(c.entries)
	}
	c.entries[accountID] = e
	c.mu.Unlock()
	return e, nil
}
