package eventstream

import (
	"crypto/rand"
	"crypto/x509"
	"io"
	"log/slog"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
)

// Defaults of delivery.
const (
	DefaultMaxAttempts = 8                // tries of one event before it is dead-lettered
	DefaultBaseDelay   = time.Second      // the wait after the first failed try
	DefaultMaxDelay    = 5 * time.Minute  // the longest wait between two tries
	DefaultTimeout     = 10 * time.Second // one try, from dialing to the response's headers
	DefaultPoll        = time.Second      // the longest wait on a quiet change feed
	DefaultLease       = 30 * time.Second // how long a worker holds a destination without renewing
)

// Option configures New and NewWorker. The facade (iamkit.WithAuditStreaming) passes the same
// options to both.
type Option func(*config)

type config struct {
	clock     store.Clock
	rand      io.Reader
	log       *slog.Logger
	loopback  bool
	roots     *x509.CertPool
	timeout   time.Duration
	attempts  int
	baseDelay time.Duration
	maxDelay  time.Duration
	poll      time.Duration
	lease     time.Duration
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		clock: clock.System{}, rand: rand.Reader, timeout: DefaultTimeout,
		attempts: DefaultMaxAttempts, baseDelay: DefaultBaseDelay, maxDelay: DefaultMaxDelay, poll: DefaultPoll,
		lease: DefaultLease,
	}
	for _, o := range opts {
		o(c)
	}
	switch {
	case c.clock == nil:
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.rand == nil:
		return nil, store.Invalid("random", store.CodeRequired, 0, "must not be nil")
	case c.attempts < 1:
		return nil, store.Invalid("retry.attempts", store.CodeOutOfRange, 1, "at least 1")
	case c.baseDelay <= 0 || c.maxDelay < c.baseDelay:
		return nil, store.Invalid("retry.delay", store.CodeOutOfRange, 0, "the base delay must be positive and at most the maximum")
	case c.timeout <= 0 || c.poll <= 0 || c.lease <= 0:
		return nil, store.Invalid("timeout", store.CodeOutOfRange, 0, "must be positive")
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// WithClock sets the clock of records and signatures (default: the system clock).
func WithClock(c store.Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness of IDs and signing secrets (default: crypto/rand.Reader).
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithLogger logs delivery failures (destination and event IDs, the HTTP status; never a
// URL or secret) to l (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.log = l } }

// WithLoopback allows destinations on loopback addresses (127.0.0.0/8, ::1, localhost),
// over http as well as https: for tests and local receivers. Without it a destination must
// be https and the worker dials public addresses only.
func WithLoopback() Option { return func(o *config) { o.loopback = true } }

// WithRootCAs sets the certificate authorities receivers' certificates are checked against
// (default: the system's).
func WithRootCAs(p *x509.CertPool) Option { return func(o *config) { o.roots = p } }

// WithTimeout bounds one try (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(o *config) { o.timeout = d } }

// WithRetry sets how many tries an event gets before it is dead-lettered, the wait after the
// first failed try and the longest wait (defaults DefaultMaxAttempts, DefaultBaseDelay,
// DefaultMaxDelay). The wait doubles after each try, and each is drawn between half and all
// of it (jitter), so receivers that failed together are not retried together.
func WithRetry(attempts int, base, maxDelay time.Duration) Option {
	return func(o *config) { o.attempts, o.baseDelay, o.maxDelay = attempts, base, maxDelay }
}

// WithPollInterval bounds one wait of the worker on a quiet change feed (default
// DefaultPoll).
func WithPollInterval(d time.Duration) Option { return func(o *config) { o.poll = d } }

// WithLease sets how long a worker holds a destination without renewing it (default
// DefaultLease): when several workers run on one store, one delivers each destination, and
// another takes it over this long after the first stops renewing.
func WithLease(d time.Duration) Option { return func(o *config) { o.lease = d } }
