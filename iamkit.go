package iamkit

import (
	"context"
	"crypto"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"go.opentelemetry.io/otel/metric"
)

// IAM is every iamkit service over one store, wired together, with one lifecycle: New builds
// it, Start (or Run) starts its background work (one change-feed follower feeding every cache,
// the Verifier's clock and last-used writes, the Purger, the audit Pruner), Sync gives read-your-writes, and
// Close stops it in order. It is safe for concurrent use.
type IAM struct {
	st       store.Store
	follower *store.Follower
	dir      *identity.Directory
	authz    *rbac.Authorizer
	bots     *botuser.Service
	creds    *credential.Service
	verifier *credential.Verifier
	ipsvc    *iprestrict.Service
	guard    *iprestrict.Guard // account-wide IP restrictions, applied by the HTTP layer and VerifyAgent
	purger   *credential.Purger
	pruner   *rbac.Pruner              // nil when retention is off
	sso      *sso.Service              // nil without WithSSO
	sessions *sso.Sessions             // nil without WithSSO
	dash     *sso.Dashboard            // nil without WithDashboard
	leaks    *credential.LeakResponder // nil without WithGitHubSecretScanning
	streams  *eventstream.Service      // nil without WithAuditStreaming
	streamer *eventstream.Worker       // nil without WithAuditStreaming
	log      *slog.Logger
	clock    store.Clock
	metrics  *instruments // nil without WithMeterProvider
	errs     ErrorFormat
	addrOf   func(*http.Request) netip.Addr
	limiter  store.Limiter // the store's (store.LimiterOf), else in process: RateLimit's
	plans    *planCache    // RateLimit's

	mu     sync.Mutex
	state  state
	cancel context.CancelFunc
	done   chan struct{} // closed when the background work has stopped
	err    error         // why it stopped, when it stopped on its own
}

type state uint8

const (
	idle state = iota
	running
	closed
)

// Option configures New.
type Option func(*config)

type config struct {
	logger      *slog.Logger
	clock       store.Clock
	random      io.Reader
	hasher      *credential.Hasher
	permissions *rbac.Permissions
	maxStale    time.Duration
	poll        time.Duration
	revoke      time.Duration // WithRevocationBound
	invitations time.Duration
	ssoBase     string
	ssoKey      crypto.Signer
	ssoOpts     []sso.Option
	dash        []sso.DashboardOption
	dashOn      bool
	errs        ErrorFormat
	scanKeys    []credential.GitHubKey
	scanNotify  credential.LeakNotifier
	addrOf      func(*http.Request) netip.Addr
	retention   *rbac.Retention // nil: rbac.DefaultRetention
	meters      metric.MeterProvider
	streams     []eventstream.Option
	streamsOn   bool
}

// WithLogger logs the services' diagnostics to l (default: none). Nothing secret is logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock every service reads (default: the system clock).
func WithClock(clk store.Clock) Option { return func(c *config) { c.clock = clk } }

// WithRandom sets the source of randomness for IDs and secrets (default: crypto/rand.Reader).
// Anything else must be as unpredictable.
func WithRandom(r io.Reader) Option { return func(c *config) { c.random = r } }

// WithHasher sets how token secrets are hashed for the store (default: plain SHA-256); use
// credential.NewHasher(credential.WithPepper(p)) to key it with a server-side pepper.
func WithHasher(h *credential.Hasher) Option { return func(c *config) { c.hasher = h } }

// WithPermissions registers the embedder's own permissions (see rbac.NewPermissions), which
// built-in and custom roles can then grant.
func WithPermissions(p *rbac.Permissions) Option { return func(c *config) { c.permissions = p } }

// WithMaxStaleness bounds how long the caches (the Verifier's and the Authorizer's) trust
// what they hold without the change feed confirmed in sync; past it they read the store, and
// fail closed when it does not answer. Default: the services' own defaults.
func WithMaxStaleness(d time.Duration) Option { return func(c *config) { c.maxStale = d } }

// WithPollInterval sets how often a quiet change feed is confirmed in sync (default 1s).
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.poll = d } }

// WithRevocationBound makes removing an owner final for every Verifier of the deployment
// the moment the call returns: deleting a bot user or removing a member returns only d after
// its commit (botuser.WithRevocationWait, identity.WithRevocationWait), and the caches trust
// what they hold only while the change feed was confirmed in sync at most d ago, by an exact
// clock (WithMaxStaleness d unless already shorter), with the feed confirmed every d/2
// (WithPollInterval, unless already shorter). A Verifier whose feed has not delivered a removal
// within d is then past its staleness and reads the store, which refuses the removed owner's
// credentials; one that is in sync has applied the removal. Every IAM of a deployment must
// use the same d (a shorter one elsewhere is fine). Default: off (removals return at commit;
// Verifiers refuse once the feed delivers them, within milliseconds). d is between
// MinRevocationBound and identity.MaxRevocationWait.
//
// The cost: removals take d longer; a quiet feed is read every d/2 by each IAM; a Verifier
// whose feed falls more than d behind (a busy store, a paused process) reads the store for
// every credential until it catches up; and the hit path reads the exact clock (tens of
// nanoseconds) instead of a coarse one, since a clock that lags could stretch the bound.
// The guarantee assumes that no wall clock is stepped by more than the slack between the
// instances' readings.
func WithRevocationBound(d time.Duration) Option { return func(c *config) { c.revoke = d } }

// MinRevocationBound is the shortest WithRevocationBound: the feed is confirmed every half of
// it, and a confirmation costs a round trip to the store and a wake-up of its follower.
const MinRevocationBound = 15 * time.Millisecond

// WithInvitationTTL sets how long new invitations stay valid.
func WithInvitationTTL(d time.Duration) Option { return func(c *config) { c.invitations = d } }

// WithSSO enables dashboard single sign-on: the SAML service provider under baseURL (its
// https origin, where the sso.Handler is mounted) and dashboard sessions signed with key (an
// Ed25519 or ECDSA P-256 private key, kept by the embedder).
func WithSSO(baseURL string, key crypto.Signer) Option {
	return func(c *config) { c.ssoBase, c.ssoKey = baseURL, key }
}

// WithSSOOptions passes options to the sso.Service that WithSSO builds: sso.WithResolver for
// domain verification, sso.WithLoginTTL, sso.WithValidatorOptions. The facade's clock, random
// source and logger are set after them.
func WithSSOOptions(opts ...sso.Option) Option {
	return func(c *config) { c.ssoOpts = append(c.ssoOpts, opts...) }
}

// WithDashboard enables local sign-in (passwords, a second factor, resets) and server-side
// dashboard sessions, sso.Dashboard, with opts (WithSecretKey for TOTP, say). It needs
// WithSSO, whose base URL is the dashboard's; the sessions are the Dashboard's, besides the
// JWT sessions of Sessions.
func WithDashboard(opts ...sso.DashboardOption) Option {
	return func(c *config) { c.dash, c.dashOn = append(c.dash, opts...), true }
}

// WithAuditRetention sets which audit events every account keeps (default
// rbac.DefaultRetention: 90 days and 100,000 events per account); the zero Retention keeps
// everything. A running IAM prunes the rest in the background (rbac.Pruner): every account
// when it starts and hourly, and an account as soon as it has 1% more events than its bound.
func WithAuditRetention(r rbac.Retention) Option { return func(c *config) { c.retention = &r } }

// WithAuditStreaming enables audit streaming (package rbac/eventstream): EventStreams
// manages an account's event destinations and subscriptions, and a running IAM delivers
// their events to webhooks in the background, each destination from its own durable
// position on the change feed, apart from the follower that feeds the caches. opts
// configure delivery (eventstream.WithRetry, WithTimeout, WithLoopback for tests, ...); the
// IAM's clock, randomness and logger come first. Several IAMs with it may share a store:
// each destination is delivered by one of them at a time (eventstream.WithLease).
func WithAuditStreaming(opts ...eventstream.Option) Option {
	return func(c *config) { c.streams, c.streamsOn = append(c.streams, opts...), true }
}

// WithErrorFormat sets how the HTTP layer writes errors (default: JSONErrors).
func WithErrorFormat(f ErrorFormat) Option { return func(c *config) { c.errs = f } }

// WithGitHubSecretScanning enables the leak responder (credential.LeakResponder): reports
// signed with one of keys (credential.ParseGitHubKeys of GitHub's key document) revoke the
// credentials they name, and notify, if not nil, tells their owners. GitHubSecretScanning
// serves it over HTTP.
func WithGitHubSecretScanning(keys []credential.GitHubKey, notify credential.LeakNotifier) Option {
	return func(c *config) { c.scanKeys, c.scanNotify = keys, notify }
}

// WithClientAddr sets how the HTTP layer learns a request's client address, which
// credentials' address allow-lists are checked against and their last use records (default:
// the host of http.Request.RemoteAddr). Behind a proxy, return the address the proxy
// vouches for; return the zero Addr when unknown, which a credential with an allow-list
// refuses.
func WithClientAddr(f func(*http.Request) netip.Addr) Option { return func(c *config) { c.addrOf = f } }

// New returns the services of iamkit over st for accounts on the plans of plans. It does not
// start anything: call Start (or Run), and Close when done. The caller keeps st and closes it
// after Close.
func New(st store.Store, plans *identity.Catalog, opts ...Option) (*IAM, error) {
	if st == nil {
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	}
	if plans == nil {
		return nil, store.Invalid("plans", store.CodeRequired, 0, "required")
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	if err := c.boundRevocation(); err != nil {
		return nil, err
	}
	i := &IAM{st: st, log: c.logger, clock: c.clock, errs: c.errs, addrOf: c.addrOf}
	if i.clock == nil {
		i.clock = systemClock{}
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if i.errs == nil {
		i.errs = JSONErrors
	}
	if i.addrOf == nil {
		i.addrOf = RemoteAddr
	}
	i.plans = newPlanCache(plans)
	var err error
	if l, ok := store.LimiterOf(st); ok {
		i.limiter = l
		if bl, ok := l.(store.BatchLimiter); ok { // shared: lease its tokens (ratelease.go)
			i.limiter = newRateLeases(bl, i.clock)
		}
	} else if i.limiter, err = store.NewMemoryLimiter(0, c.clock); err != nil {
		return nil, err
	}
	if i.metrics, err = newInstruments(c.meters); err != nil {
		return nil, err
	}
	fopts := []store.FollowerOption{store.WithFollowerLogger(i.log)}
	if i.metrics != nil {
		fopts = append(fopts, store.WithLagObserver(i.metrics.observeLag))
	}
	if c.clock != nil {
		fopts = append(fopts, store.WithFollowerClock(c.clock))
	}
	if c.poll > 0 {
		fopts = append(fopts, store.WithPollInterval(c.poll))
	}
	if i.follower, err = store.NewFollower(st, fopts...); err != nil {
		return nil, err
	}
	if i.authz, err = rbac.New(st, plans, c.rbacOptions(i)...); err != nil {
		return nil, err
	}
	if i.dir, err = identity.New(st, i.authz, c.identityOptions(i)...); err != nil {
		return nil, err
	}
	if i.bots, err = botuser.New(st, i.authz, c.botuserOptions(i)...); err != nil {
		return nil, err
	}
	if i.creds, err = credential.NewService(st, i.authz, c.credentialOptions(i)...); err != nil {
		return nil, err
	}
	if i.ipsvc, err = iprestrict.New(st, i.authz, serviceOptions(&c, i.log, iprestrict.WithLogger, iprestrict.WithClock, iprestrict.WithRandom)...); err != nil {
		return nil, err
	}
	if i.guard, err = iprestrict.NewGuard(st, i.follower, c.guardOptions(i)...); err != nil {
		return nil, err
	}
	vopts := append(c.credentialOptions(i), credential.WithFollower(i.follower), credential.WithAuthorizer(i.authz),
		credential.WithAgentGate(i.guard))
	if i.metrics != nil {
		vopts = append(vopts, credential.WithRevocationObserver(i.metrics.observeRevocation))
	}
	if i.verifier, err = credential.NewVerifier(st, vopts...); err != nil {
		return nil, err
	}
	if c.scanKeys != nil {
		if i.leaks, err = credential.NewLeakResponder(st, c.scanKeys, append(c.credentialOptions(i), credential.WithLeakNotifier(c.scanNotify))...); err != nil {
			return nil, err
		}
	}
	if i.purger, err = credential.NewPurger(st, append(c.credentialOptions(i), credential.WithFollower(i.follower))...); err != nil {
		return nil, err
	}
	keep := rbac.DefaultRetention()
	if c.retention != nil {
		keep = *c.retention
	}
	if !keep.Off() {
		if i.pruner, err = rbac.NewPruner(st, keep, c.prunerOptions(i)...); err != nil {
			return nil, err
		}
	}
	if c.ssoBase != "" || c.ssoKey != nil {
		if i.sso, err = sso.New(st, i.authz, c.ssoBase, c.ssoOptions(i)...); err != nil {
			return nil, err
		}
		if i.sessions, err = sso.NewSessions(i.sso, c.ssoKey); err != nil {
			return nil, err
		}
	}
	if c.dashOn {
		if i.sso == nil {
			return nil, store.Invalid("dashboard", store.CodeRequired, 0, "WithDashboard needs WithSSO (the dashboard's base URL)")
		}
		if i.dash, err = sso.NewDashboard(i.sso, c.dash...); err != nil {
			return nil, err
		}
	}
	if c.streamsOn {
		if err := i.newStreams(&c); err != nil {
			return nil, err
		}
	}
	if c.meters != nil {
		if err := i.registerObservers(c.meters); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// newStreams builds the audit streaming service and its worker.
func (i *IAM) newStreams(c *config) error {
	opts := serviceOptions(c, i.log, eventstream.WithLogger, eventstream.WithClock, eventstream.WithRandom)
	if c.poll > 0 {
		opts = append(opts, eventstream.WithPollInterval(c.poll))
	}
	opts = append(opts, c.streams...)
	var err error
	if i.streams, err = eventstream.New(i.st, i.authz, opts...); err != nil {
		return err
	}
	i.streamer, err = eventstream.NewWorker(i.st, opts...)
	return err
}

// serviceOptions are the options every service takes, in its own package's option type:
// the facade's logger and, when set, its clock and source of randomness (a nil withRandom
// for a service that takes none).
func serviceOptions[O any](c *config, log *slog.Logger, withLogger func(*slog.Logger) O, withClock func(store.Clock) O, withRandom func(io.Reader) O) []O {
	o := []O{withLogger(log)}
	if c.clock != nil {
		o = append(o, withClock(c.clock))
	}
	if c.random != nil && withRandom != nil {
		o = append(o, withRandom(c.random))
	}
	return o
}

// boundRevocation applies WithRevocationBound to the staleness and poll settings.
func (c *config) boundRevocation() error {
	d := c.revoke
	if d == 0 {
		return nil
	}
	if d < MinRevocationBound || d > identity.MaxRevocationWait {
		return store.Invalid("revocation_bound", store.CodeOutOfRange, 0, "must be between %s and %s", MinRevocationBound, identity.MaxRevocationWait)
	}
	if c.maxStale <= 0 || c.maxStale > d {
		c.maxStale = d
	}
	if c.poll <= 0 || c.poll > d/2 {
		c.poll = d / 2
	}
	return nil
}

func (c *config) rbacOptions(i *IAM) []rbac.Option {
	o := append(serviceOptions(c, i.log, rbac.WithLogger, rbac.WithClock, rbac.WithRandom), rbac.WithFollower(i.follower))
	if c.permissions != nil {
		o = append(o, rbac.WithPermissions(c.permissions))
	}
	if c.maxStale > 0 {
		o = append(o, rbac.WithMaxStaleness(c.maxStale))
	}
	return o
}

func (c *config) prunerOptions(i *IAM) []rbac.Option {
	return append(serviceOptions(c, i.log, rbac.WithLogger, rbac.WithClock, nil), rbac.WithFollower(i.follower))
}

func (c *config) identityOptions(i *IAM) []identity.Option {
	o := serviceOptions(c, i.log, identity.WithLogger, identity.WithClock, identity.WithRandom)
	if c.invitations > 0 {
		o = append(o, identity.WithInvitationTTL(c.invitations))
	}
	if c.revoke > 0 {
		o = append(o, identity.WithRevocationWait(c.revoke))
	}
	return o
}

func (c *config) botuserOptions(i *IAM) []botuser.Option {
	o := serviceOptions(c, i.log, botuser.WithLogger, botuser.WithClock, botuser.WithRandom)
	if c.revoke > 0 {
		o = append(o, botuser.WithRevocationWait(c.revoke))
	}
	return o
}

func (c *config) credentialOptions(i *IAM) []credential.Option {
	o := serviceOptions(c, i.log, credential.WithLogger, credential.WithClock, credential.WithRandom)
	if c.hasher != nil {
		o = append(o, credential.WithHasher(c.hasher))
	}
	if c.maxStale > 0 {
		o = append(o, credential.WithMaxStaleness(c.maxStale))
	}
	if c.revoke > 0 && c.clock == nil { // an exact clock for the staleness bound
		o = append(o, credential.WithClock(systemClock{}))
	}
	return o
}

func (c *config) guardOptions(i *IAM) []iprestrict.GuardOption {
	o := serviceOptions(c, i.log, iprestrict.WithGuardLogger, iprestrict.WithGuardClock, iprestrict.WithGuardRandom)
	if c.maxStale > 0 {
		o = append(o, iprestrict.WithGuardMaxStaleness(c.maxStale))
	}
	return o
}

func (c *config) ssoOptions(i *IAM) []sso.Option {
	return append(slices.Clone(c.ssoOpts), serviceOptions(c, i.log, sso.WithLogger, sso.WithClock, sso.WithRandom)...)
}

// Store returns the store the services run on.
func (i *IAM) Store() store.Store { return i.st }

// Directory returns the accounts, users, members and invitations service.
func (i *IAM) Directory() *identity.Directory { return i.dir }

// Authorizer returns the permission checker, custom roles and the audit log reader.
func (i *IAM) Authorizer() *rbac.Authorizer { return i.authz }

// BotUsers returns the bot (service) users service.
func (i *IAM) BotUsers() *botuser.Service { return i.bots }

// Credentials returns the credentials service: authtokens, API keys, SSH keys.
func (i *IAM) Credentials() *credential.Service { return i.creds }

// Verifier returns the credential Verifier, for the hot path.
func (i *IAM) Verifier() *credential.Verifier { return i.verifier }

// IPRestrictions returns the account-wide IP restrictions service: IP policies, their rules
// and restrictions by type.
func (i *IAM) IPRestrictions() *iprestrict.Service { return i.ipsvc }

// IPGuard returns the check of the account-wide IP restrictions, which the HTTP layer
// (BearerAuth: type api; SessionAuth: type dashboard) and the Verifier's VerifyAgent (type
// agent) apply; an embedder's own way in (a dashboard sign-in form) calls its Check.
func (i *IAM) IPGuard() *iprestrict.Guard { return i.guard }

// LeakResponder returns the leak responder, or nil without WithGitHubSecretScanning.
func (i *IAM) LeakResponder() *credential.LeakResponder { return i.leaks }

// SSO returns the single sign-on service, or nil without WithSSO.
func (i *IAM) SSO() *sso.Service { return i.sso }

// Sessions returns the dashboard sessions, or nil without WithSSO.
func (i *IAM) Sessions() *sso.Sessions { return i.sessions }

// EventStreams returns the audit streaming service, or nil without WithAuditStreaming.
func (i *IAM) EventStreams() *eventstream.Service { return i.streams }

// Dashboard returns local sign-in and server-side dashboard sessions, or nil without
// WithDashboard.
func (i *IAM) Dashboard() *sso.Dashboard { return i.dash }

// Start starts the background work and returns once the change feed has been read from its
// head, so that the caches can be trusted and Sync works; or with the reason it could not.
// The work goes on until Close (or ctx, which only Start's wait observes, ends: see Run).
// Start may be called once.
func (i *IAM) Start(ctx context.Context) error {
	i.mu.Lock()
	switch i.state {
	case running:
		i.mu.Unlock()
		return store.NewError(store.ErrConflict, "already_running", "Start was already called")
	case closed:
		i.mu.Unlock()
		return store.ErrClosed
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	i.state, i.cancel, i.done = running, cancel, make(chan struct{})
	i.mu.Unlock()

	var wg sync.WaitGroup
	stop := func(err error) {
		i.mu.Lock()
		if i.err == nil && err != nil && !errors.Is(err, context.Canceled) {
			i.err = err
		}
		i.mu.Unlock()
		cancel()
	}
	runs := []func(context.Context) error{i.follower.Run, i.verifier.Run, i.authz.Run, i.purger.Run}
	if i.pruner != nil {
		runs = append(runs, i.pruner.Run)
	}
	if i.streamer != nil {
		runs = append(runs, i.streamer.Run)
	}
	for _, run := range runs {
		wg.Go(func() { stop(run(bg)) })
	}
	go func() { wg.Wait(); close(i.done) }()

	// Wait until the follower has read the feed's head (or gave up), then confirm it in sync
	// once, so that the caches answer from the first call.
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for i.follower.Synced().IsZero() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-i.done:
			return i.stopReason()
		case <-t.C:
		}
	}
	return i.authz.Sync(ctx)
}

// Run starts the background work (as Start) and blocks until ctx is done or Close is called,
// then stops it (as Close) and returns why it stopped: nil after Close, ctx's error, or the
// error that stopped the work.
func (i *IAM) Run(ctx context.Context) error {
	if err := i.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		if err := i.Close(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		return ctx.Err()
	case <-i.done:
		return i.stopReason()
	}
}

func (i *IAM) stopReason() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.err
}

// Sync returns once every cache reflects every commit made before it was called: after an
// Update, the next Authenticate and authorization see it. It fails at once (ErrUnavailable,
// code store.CodeNotRunning) when the background work is not running.
func (i *IAM) Sync(ctx context.Context) error {
	i.mu.Lock()
	st := i.state
	i.mu.Unlock()
	if st != running {
		return store.NewError(store.ErrUnavailable, store.CodeNotRunning, "iamkit is not running: call Start or Run")
	}
	return i.authz.Sync(ctx)
}

// Close stops the background work, waits for it, then writes the last-used times still
// queued while the store is open: close the store after Close. It returns why the work had
// stopped on its own, if it had. Calling it again does nothing.
func (i *IAM) Close(ctx context.Context) error {
	i.mu.Lock()
	prev := i.state
	i.state = closed
	i.mu.Unlock()
	if prev == closed {
		return nil
	}
	defer i.unregisterObservers()
	if prev != running {
		return nil
	}
	i.cancel()
	select {
	case <-i.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	i.verifier.FlushUsage(ctx)
	return i.stopReason()
}
