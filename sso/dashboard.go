package sso

import (
	"net/http"
	"runtime"
	"time"

	"github.com/iamkit/iamkit/store"
)

// Dashboard is local sign-in and server-side sessions for the embedder's dashboard: email and
// password with Argon2id, throttling, an optional TOTP second factor with recovery codes, an
// account setting that requires one, password resets, and sessions that members list and
// end, that administrators end, and that end at once when the account's rules stop allowing
// them. SAML logins (Handler) can end in the same sessions (CookieLogin).
//
// It is built on a Service, whose login policy decides who may use a password: everyone with
// enforcement off, members who predate Settings.Since in mixed mode, nobody when enforced.
// Users who only sign in through an identity provider have no password, and bot users never
// sign in.
//
// A Dashboard is safe for concurrent use. Besides the store it keeps only what must stay in
// process: the limiter's counts when no shared one is configured (see WithLimiter), and a
// bound on concurrent password hashes.
type Dashboard struct {
	svc      *Service
	hash     *hasher
	seal     *sealer // nil without WithSecretKey: no TOTP
	limiter  store.Limiter
	throttle Throttle
	idle     time.Duration
	absolute time.Duration
	resetTTL time.Duration
	chalTTL  time.Duration
	issuer   string
	cookie   string
	cop      *http.CrossOriginProtection
}

// Session lifetimes of a Dashboard.
const (
	// DefaultIdleTimeout ends a session unused for this long, unless WithSessionLifetimes
	// says otherwise.
	DefaultIdleTimeout = time.Hour
	// DefaultAbsoluteTimeout ends a session this long after it began, however used, unless
	// WithSessionLifetimes says otherwise.
	DefaultAbsoluteTimeout = 12 * time.Hour
	// MaxAbsoluteTimeout is the longest absolute lifetime WithSessionLifetimes accepts.
	MaxAbsoluteTimeout = 30 * 24 * time.Hour
	// DefaultResetTTL is how long a password reset token stays usable, unless WithResetTTL
	// says otherwise.
	DefaultResetTTL = time.Hour
	// MaxResetTTL is the longest WithResetTTL accepts.
	MaxResetTTL = 24 * time.Hour
	// ChallengeTTL is how long a sign-in waits for its second factor.
	ChallengeTTL = 5 * time.Minute
	// MaxChallengeAttempts is how many codes one sign-in challenge takes before it is used up.
	MaxChallengeAttempts = 5
	// MaxSessionsPerMember is the most sessions a member has in one account: a new one ends
	// the oldest beyond it.
	MaxSessionsPerMember = 20
	// lastSeenEvery is how often a session's LastSeenAt is written, at most.
	lastSeenEvery = time.Minute
)

// Throttle is how many sign-in attempts a Dashboard allows, as tiers of rates: each tier is a
// store.Rate (a burst, then an average per period), and an attempt must pass every tier. Two
// tiers make a lockout that grows: a few quick tries, then one a minute, then a daily cap.
type Throttle struct {
	// PerUser counts password attempts per email address, whether or not a user has it (so
	// that throttling tells nobody which emails exist); a successful sign-in resets it.
	PerUser []store.Rate
	// PerSource counts sign-in attempts and reset requests per source address (an IPv6
	// address by its /64); it is never reset. Attempts without an address are not counted.
	PerSource []store.Rate
	// SecondFactor counts second-factor codes per user; a successful one resets it.
	SecondFactor []store.Rate
	// Reset counts password reset requests per email address.
	Reset []store.Rate
}

// DefaultThrottle returns the default tiers: per user 5 attempts then one a minute, and 20
// a day; per source 50 then 10 a minute, and 1000 a day; second factors 5 then one a
// minute, and 30 a day; resets 3 an hour. OWASP's Authentication Cheat Sheet asks for
// lockout or throttling after a handful of failures and warns that lockouts become denial
// of service: these are short delays first, a daily bound after.
func DefaultThrottle() Throttle {
	return Throttle{
		PerUser:      []store.Rate{{Limit: 5, Period: 5 * time.Minute}, {Limit: 20, Period: 24 * time.Hour}},
		PerSource:    []store.Rate{{Limit: 50, Period: 5 * time.Minute}, {Limit: 1000, Period: 24 * time.Hour}},
		SecondFactor: []store.Rate{{Limit: 5, Period: 5 * time.Minute}, {Limit: 30, Period: 24 * time.Hour}},
		Reset:        []store.Rate{{Limit: 3, Period: time.Hour}},
	}
}

func (t Throttle) validate() error {
	for name, rates := range map[string][]store.Rate{
		"throttle.per_user": t.PerUser, "throttle.per_source": t.PerSource,
		"throttle.second_factor": t.SecondFactor, "throttle.reset": t.Reset,
	} {
		for _, r := range rates {
			if err := r.Validate(); err != nil {
				return configErr(name, "every rate needs a positive limit and period", err)
			}
		}
	}
	return nil
}

// DashboardOption configures a Dashboard.
type DashboardOption func(*dashboardConfig)

type dashboardConfig struct {
	secretKey   []byte
	params      PasswordParams
	pepper      []byte
	minLen      int
	concurrency int
	limiter     store.Limiter
	throttle    Throttle
	idle        time.Duration
	absolute    time.Duration
	resetTTL    time.Duration
	issuer      string
	cookie      string
	origins     []string
}

// WithSecretKey sets the AES-256 key (SecretKeyLen bytes, from the embedder's secret store)
// that seals TOTP secrets in the store. Without it TOTP is refused (CodeTOTPUnavailable), and
// so is requiring a second factor. Changing it makes every enrolled TOTP unusable.
func WithSecretKey(key []byte) DashboardOption {
	return func(c *dashboardConfig) { c.secretKey = append([]byte(nil), key...) }
}

// WithPasswordParams sets Argon2id's parameters for new hashes (default
// DefaultPasswordParams). Stored hashes with other parameters still verify, and are
// replaced at the user's next sign-in.
func WithPasswordParams(p PasswordParams) DashboardOption {
	return func(c *dashboardConfig) { c.params = p }
}

// WithPepper keys every new password hash with a server-side pepper (at least MinPepperLen
// bytes, kept outside the store), so that a copy of the store alone cannot test guesses.
// Hashes made without one still verify and are replaced at the next sign-in; hashes made
// under another pepper no longer verify (their users reset their password).
func WithPepper(pepper []byte) DashboardOption {
	return func(c *dashboardConfig) { c.pepper = append([]byte{}, pepper...) }
}

// WithMinPasswordLength sets the shortest new password accepted, in characters (default
// DefaultMinPasswordLen; 8 to 64).
func WithMinPasswordLength(n int) DashboardOption {
	return func(c *dashboardConfig) { c.minLen = n }
}

// WithHashConcurrency bounds how many password hashes run at once (default GOMAXPROCS):
// each takes PasswordParams.Memory, so this bounds the memory sign-ins take.
func WithHashConcurrency(n int) DashboardOption {
	return func(c *dashboardConfig) { c.concurrency = n }
}

// WithLimiter sets where attempts are counted. The default is the store's own limiter when
// its adapter offers one (store.LimiterOf), so that every process shares the counts, and
// otherwise an in-process store.MemoryLimiter (each process counts alone).
func WithLimiter(l store.Limiter) DashboardOption {
	return func(c *dashboardConfig) { c.limiter = l }
}

// WithThrottle sets the rates attempts are held to (default DefaultThrottle).
func WithThrottle(t Throttle) DashboardOption {
	return func(c *dashboardConfig) { c.throttle = t }
}

// WithSessionLifetimes sets how long a session lives unused (idle) and at most (absolute);
// defaults DefaultIdleTimeout and DefaultAbsoluteTimeout. idle must be at least a minute
// (last use is recorded once a minute) and at most absolute, which is at most
// MaxAbsoluteTimeout.
func WithSessionLifetimes(idle, absolute time.Duration) DashboardOption {
	return func(c *dashboardConfig) { c.idle, c.absolute = idle, absolute }
}

// WithResetTTL sets how long a password reset token stays usable (default DefaultResetTTL,
// at most MaxResetTTL).
func WithResetTTL(d time.Duration) DashboardOption {
	return func(c *dashboardConfig) { c.resetTTL = d }
}

// WithTOTPIssuer sets the name authenticator apps show for the dashboard's TOTP entries
// (default "iamkit").
func WithTOTPIssuer(name string) DashboardOption {
	return func(c *dashboardConfig) { c.issuer = name }
}

// WithDashboardCookie sets the name of the session cookie (default DefaultSessionCookie). It
// must start with "__Host-".
func WithDashboardCookie(name string) DashboardOption {
	return func(c *dashboardConfig) { c.cookie = name }
}

// WithTrustedOrigins lets state-changing requests come from these origins too (such as
// "https://admin.example.com"), besides the dashboard's own: see
// http.CrossOriginProtection.AddTrustedOrigin.
func WithTrustedOrigins(origins ...string) DashboardOption {
	return func(c *dashboardConfig) { c.origins = append(c.origins, origins...) }
}

// NewDashboard returns the local sign-in and sessions of svc's accounts. A nil service is an
// error matching store.ErrInvalid naming it; an unusable option has code CodeConfigInvalid,
// or names its field (secret_key, pepper, password_params.*).
func NewDashboard(svc *Service, opts ...DashboardOption) (*Dashboard, error) {
	if svc == nil {
		return nil, required("service")
	}
	c := dashboardConfig{
		params: DefaultPasswordParams(), minLen: DefaultMinPasswordLen, concurrency: runtime.GOMAXPROCS(0),
		throttle: DefaultThrottle(), idle: DefaultIdleTimeout, absolute: DefaultAbsoluteTimeout,
		resetTTL: DefaultResetTTL, issuer: "iamkit", cookie: DefaultSessionCookie,
	}
	for _, o := range opts {
		o(&c)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	d := &Dashboard{
		svc: svc, throttle: c.throttle, idle: c.idle, absolute: c.absolute, resetTTL: c.resetTTL,
		chalTTL: ChallengeTTL, issuer: c.issuer, cookie: c.cookie, cop: http.NewCrossOriginProtection(),
	}
	var err error
	if d.hash, err = newHasher(c.params, c.pepper, c.concurrency, c.minLen, svc.rand); err != nil {
		return nil, err
	}
	if c.secretKey != nil {
		if d.seal, err = newSealer(c.secretKey, svc.rand); err != nil {
			return nil, err
		}
	}
	for _, o := range c.origins {
		if err := d.cop.AddTrustedOrigin(o); err != nil {
			return nil, configErr("trusted_origins", "must be scheme://host[:port]", err)
		}
	}
	d.limiter = c.limiter
	if d.limiter == nil {
		if l, ok := store.LimiterOf(svc.st); ok {
			d.limiter = l
		} else if d.limiter, err = store.NewMemoryLimiter(0, svc.clock); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (c *dashboardConfig) check() error {
	switch {
	case c.minLen < 8 || c.minLen > 64:
		return configErr("min_password_length", "must be 8 to 64", nil)
	case c.concurrency < 1:
		return configErr("hash_concurrency", "must be positive", nil)
	case c.idle < lastSeenEvery || c.idle > c.absolute || c.absolute > MaxAbsoluteTimeout:
		return configErr("session_lifetimes", "idle must be at least a minute and at most absolute, absolute at most 30 days", nil)
	case c.resetTTL <= 0 || c.resetTTL > MaxResetTTL:
		return configErr("reset_ttl", "must be positive and at most 24h", nil)
	case c.issuer == "" || len(c.issuer) > store.MaxNameLen:
		return configErr("totp_issuer", "must be 1 to 255 bytes", nil)
	}
	if err := checkSessionCookieName(c.cookie); err != nil {
		return configErr("dashboard_cookie", `must be a cookie name starting with "__Host-", at most 64 bytes`, nil)
	}
	return c.throttle.validate()
}
