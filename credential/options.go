package credential

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Option configures a Service, a Verifier, a Purger or a LeakResponder. Each option's doc
// says which it applies to; the others ignore it. Pass the same WithHasher to the Service,
// the Verifier and the LeakResponder.
type Option func(*config)

type config struct {
	hasher   *Hasher
	clock    store.Clock
	clockSet bool // WithClock was given: read it on every call, exactly
	rand     io.Reader
	logger   *slog.Logger
	maxStale time.Duration
	negTTL   time.Duration
	negMax   int
	useEvery time.Duration
	batch    int
	poll     time.Duration
	rest     float64
	follower *store.Follower
	authz    *rbac.Authorizer
	gate     AgentGate
	notify   LeakNotifier
	replay   time.Duration

	onRevoked func(context.Context, time.Duration)
}

// permissions returns the permission registry that compiles access tokens' scopes: the
// Authorizer's (WithAuthorizer), else the built-ins alone.
func (c config) permissions() (*rbac.Permissions, error) {
	if c.authz != nil {
		return c.authz.Permissions(), nil
	}
	return rbac.NewPermissions()
}

func newConfig(opts []Option) config {
	c := config{
		clock:    clock.System{},
		maxStale: 10 * time.Second,
		negTTL:   5 * time.Second,
		negMax:   100_000,
		useEvery: time.Minute,
		batch:    DefaultPurgeBatch,
		poll:     DefaultPurgePoll,
		rest:     DefaultPurgeRest,
		replay:   DefaultReplayWindow,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// check refuses a configuration an option left unusable, naming the option.
func (c config) check() error {
	switch {
	case c.clock == nil:
		return store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.maxStale <= 0:
		return store.Invalid("max_staleness", store.CodeOutOfRange, 0, "must be positive")
	case c.negTTL < 0 || c.negMax < 0:
		return store.Invalid("negative_cache", store.CodeOutOfRange, 0, "must not be negative")
	case c.batch < 1 || c.batch > store.MaxPageLimit:
		return store.Invalid("purge_batch", store.CodeOutOfRange, store.MaxPageLimit, "must be between 1 and %d", store.MaxPageLimit)
	case c.poll <= 0:
		return store.Invalid("purge_poll", store.CodeOutOfRange, 0, "must be positive")
	case !(c.rest >= 0 && c.rest <= MaxPurgeRest): // NaN too
		return store.Invalid("purge_rest", store.CodeOutOfRange, MaxPurgeRest, "must be between 0 and %d", MaxPurgeRest)
	}
	return nil
}

// WithRevocationObserver has the Verifier call observe with the time from a revocation's
// commit (store.Commit.Committed, by the store's clock) to the first rejection of the revoked
// token that the Verifier had cached: how long a revoked token kept working. It is called
// once per revocation, from the rejected request's goroutine with its context, and must
// return quickly. Only
// revocations of tokens in the cache when the feed delivered them are measured (a token the
// Verifier never saw is refused by a store read), and only on stores that report commit
// times.
func WithRevocationObserver(observe func(context.Context, time.Duration)) Option {
	return func(c *config) { c.onRevoked = observe }
}

// WithHasher sets how token secrets are hashed (Service, Verifier and LeakResponder; default
// plain SHA-256).
// Every Service and Verifier of a deployment must use the same configuration.
func WithHasher(h *Hasher) Option { return func(c *config) { c.hasher = h } }

// WithClock sets the clock (Service: creation times and expiries; Verifier: expiry and
// staleness; Purger and LeakResponder: event times). Default:
// the system clock, which a running Verifier reads once a millisecond rather than on every
// call (reading it costs about as much as hashing the token); an injected clock is read on
// every call.
func WithClock(clk store.Clock) Option {
	return func(c *config) { c.clock, c.clockSet = clk, true }
}

// WithRandom sets the source of randomness for IDs and secrets (Service, Purger,
// LeakResponder). The default is
// crypto/rand.Reader; anything else must be as unpredictable.
func WithRandom(r io.Reader) Option { return func(c *config) { c.rand = r } }

// WithLogger logs store and feed errors to l (Service, Verifier, Purger and LeakResponder;
// default: no logging).
// Nothing secret is ever logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxStaleness sets how long the Verifier trusts its cache after the change feed was last
// known to be in sync (default 10s). Past it, every call reads the store.
func WithMaxStaleness(d time.Duration) Option { return func(c *config) { c.maxStale = d } }

// WithNegativeCache sets how long the Verifier remembers an unknown credential ID, and how many
// it remembers (default 5s, 100,000). It keeps floods of well-formed, made-up tokens off the
// store.
func WithNegativeCache(ttl time.Duration, max int) Option {
	return func(c *config) { c.negTTL, c.negMax = ttl, max }
}

// WithLastUsedInterval sets how often the Verifier records a credential's use in the store at
// most, and how often it flushes recorded uses (default 1 minute).
func WithLastUsedInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.useEvery = d
		}
	}
}

// Defaults of the Purger.
const (
	// DefaultPurgeBatch is how many credentials one purge transaction deletes at most.
	DefaultPurgeBatch = 500
	// DefaultPurgePoll is how often a running Purger looks for tombstones when the change
	// feed has not woken it.
	DefaultPurgePoll = time.Minute
	// DefaultPurgeRest is how long the Purger rests after each batch, in multiples of the
	// time the batch took (WithPurgeRest): a quarter as long, which keeps it in its
	// transactions four fifths of the time. On Redis and two cores, purging 50,000
	// credentials took 4.4-5.1 s without rests and 6.7-7.8 s with these, another client's GET
	// p99 2.3-2.4 ms and 2.1-2.3 ms; longer rests (0.5, 1) lengthened the purge to 8.6-11.7 s
	// without a GET p99 measurably lower (credential/BENCHMARKS.md).
	DefaultPurgeRest = 0.25
	// MaxPurgeRest is the most WithPurgeRest takes.
	MaxPurgeRest = 100
)

// WithPurgeBatch sets how many credentials one purge transaction deletes at most (Purger;
// default DefaultPurgeBatch, at most store.MaxPageLimit).
func WithPurgeBatch(n int) Option { return func(c *config) { c.batch = n } }

// WithPurgePoll sets how often a running Purger looks for tombstones when the change feed
// has not woken it (Purger; default DefaultPurgePoll).
func WithPurgePoll(d time.Duration) Option { return func(c *config) { c.poll = d } }

// WithPurgeRest sets how long the Purger rests after each batch, as a multiple of the time
// the batch's transaction took (Purger; default DefaultPurgeRest, between 0 and
// MaxPurgeRest). Purging is background work that shares the store with every request: a
// batch is at most PurgeBatchBudget long, and the rest after it leaves the store (and, on a
// small machine, the CPU it shares) to other clients, so that their latency does not rise
// for the whole of a large purge. 0 runs the batches back to back: the fastest purge, the
// most load while it runs.
func WithPurgeRest(f float64) Option { return func(c *config) { c.rest = f } }

// WithLeakNotifier sets the hook that tells owners their credential was revoked because it
// leaked (LeakResponder; default: none, the revocation is only logged and recorded).
func WithLeakNotifier(n LeakNotifier) Option { return func(c *config) { c.notify = n } }

// WithReplayWindow sets how long a LeakResponder remembers a report's signed body, refusing
// it if it comes again (default DefaultReplayWindow).
func WithReplayWindow(d time.Duration) Option { return func(c *config) { c.replay = d } }

// WithAuthorizer gives a Verifier the deployment's Authorizer (the one the Service uses):
// its permission registry compiles access tokens' scopes (Result.Scope), and VerifyAgent asks
// it whether an access token's owner may still start agent sessions. Without it the
// Verifier compiles scopes with the built-in permissions alone (a scope naming an embedder's
// permission allows nothing) and VerifyAgent refuses every access token. (Verifier.)
func WithAuthorizer(a *rbac.Authorizer) Option { return func(c *config) { c.authz = a } }

// AgentGate is what VerifyAgent asks, once a credential has passed, whether its owner may
// start an agent session from addr: nil lets the agent in, an error matching
// store.ErrDenied refuses it (ReasonIPRestricted), any other error fails closed. The facade
// passes the account-wide IP restrictions of type agent (iprestrict.Guard). It must be safe
// for concurrent use.
type AgentGate interface {
	AllowAgent(ctx context.Context, p identity.Principal, addr netip.Addr) error
}

// WithAgentGate makes VerifyAgent ask g about every agent it accepts. (Verifier.)
func WithAgentGate(g AgentGate) Option { return func(c *config) { c.gate = g } }

// WithFollower makes a Verifier's cache, or a Purger's wake-ups, follow the change feed
// through f, shared with other caches (the Authorizer's): f must not be running yet, and
// whoever owns it runs it. Without it each has a follower of its own, which its Run runs.
// (Verifier and Purger.)
func WithFollower(f *store.Follower) Option { return func(c *config) { c.follower = f } }
