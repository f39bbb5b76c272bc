package credential

import (
	"io"
	"log/slog"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
)

// Option configures a Service or a Verifier. Each option's doc says which it applies to; the
// other ignores it. Pass the same WithHasher to both.
type Option func(*config)

type config struct {
	hasher   *Hasher
	clock    clock.Clock
	clockSet bool // WithClock was given: read it on every call, exactly
	rand     io.Reader
	logger   *slog.Logger
	maxStale time.Duration
	negTTL   time.Duration
	negMax   int
	useEvery time.Duration
}

func newConfig(opts []Option) config {
	c := config{
		clock:    clock.System{},
		maxStale: 10 * time.Second,
		negTTL:   5 * time.Second,
		negMax:   100_000,
		useEvery: time.Minute,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithHasher sets how token secrets are hashed (Service and Verifier; default plain SHA-256).
// Every Service and Verifier of a deployment must use the same configuration.
func WithHasher(h *Hasher) Option { return func(c *config) { c.hasher = h } }

// WithClock sets the clock (Service: creation times; Verifier: expiry and staleness). Default:
// the system clock, which a running Verifier reads once a millisecond rather than on every
// call (reading it costs about as much as hashing the token); an injected clock is read on
// every call.
func WithClock(clk clock.Clock) Option {
	return func(c *config) { c.clock, c.clockSet = clk, true }
}

// WithRandom sets the source of randomness for IDs and secrets (Service). The default is
// crypto/rand.Reader; anything else must be as unpredictable.
func WithRandom(r io.Reader) Option { return func(c *config) { c.rand = r } }

// WithLogger logs store and feed errors to l (Service and Verifier; default: no logging).
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
