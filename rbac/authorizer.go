package rbac

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// DefaultMaxStaleness is how long cached grants are trusted after the change feed was last
// known to be in sync, unless WithMaxStaleness says otherwise.
const DefaultMaxStaleness = 5 * time.Second

// Authorizer decides what principals may do in accounts, manages custom roles, and is the
// identity.Guard for member and invitation reads and changes. It is safe for concurrent use.
//
// Check answers from a cache of compiled grants (one bit set per principal and account)
// while Run follows the store's change feed, which invalidates the entries a commit
// touches (a membership, a bot user, any role or the plan of an account) and flushes
// everything on a gap. While Run is not running, or the feed has not been confirmed in sync
// for the maximum staleness, the cache is off and every Check reads the store: answers are
// never staler than that bound (fail closed).
type Authorizer struct {
	st       store.Store
	plans    *identity.Catalog
	perms    *Permissions
	clock    store.Clock
	log      *slog.Logger
	ids      *id.Generator
	rec      audit.Recorder[identity.Resource]
	follower *store.Follower
	ownFeed  bool // the follower is the Authorizer's own: Run runs it
	maxStale time.Duration

	cache *cache
	live  atomic.Bool // the cache may be used

	liveMu sync.Mutex // serialises changes of live
}

// Option configures an Authorizer.
type Option func(*config)

type config struct {
	clock    store.Clock
	rand     io.Reader
	logger   *slog.Logger
	maxStale time.Duration
	poll     time.Duration
	perms    *Permissions
	follower *store.Follower
	prune    time.Duration
}

// WithFollower makes the Authorizer's cache follow the change feed through f, shared with
// other caches (the credential Verifier's): f must not be running yet, and whoever owns it
// runs it; the Authorizer's Run then only keeps its cache's staleness bound. Without it the
// Authorizer has a follower of its own, which its Run runs.
func WithFollower(f *store.Follower) Option { return func(o *config) { o.follower = f } }

// WithClock sets the time source (default: the system clock).
func WithClock(c store.Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness for IDs (default: crypto/rand.Reader).
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithLogger sets a logger for diagnostics (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.logger = l } }

// WithMaxStaleness bounds how long cached grants are trusted without the change feed being
// confirmed in sync (default DefaultMaxStaleness). It should exceed the feed poll interval.
func WithMaxStaleness(d time.Duration) Option { return func(o *config) { o.maxStale = d } }

// WithFeedPollInterval sets how often a quiet change feed is confirmed in sync (default 1s).
func WithFeedPollInterval(d time.Duration) Option { return func(o *config) { o.poll = d } }

// WithPruneInterval sets how often a running Pruner visits every account (Pruner only;
// default DefaultPruneInterval).
func WithPruneInterval(d time.Duration) Option { return func(o *config) { o.prune = d } }

// WithPermissions sets the permission registry: the built-ins and the embedder's own
// (default: the built-ins alone).
func WithPermissions(p *Permissions) Option { return func(o *config) { o.perms = p } }

// New returns an Authorizer over st for accounts on the plans of plans: the one catalog of
// the deployment, which identity.New and the other packages take from the Authorizer. Call
// Run to enable its cache. A nil store or catalog, or an option set to nil or out of range,
// is an error matching store.ErrInvalid that names it.
func New(st store.Store, plans *identity.Catalog, opts ...Option) (*Authorizer, error) {
	switch {
	case st == nil:
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	case plans == nil:
		return nil, store.Invalid("plans", store.CodeRequired, 0, "required")
	}
	c := config{clock: clock.System{}, rand: rand.Reader, maxStale: DefaultMaxStaleness, poll: time.Second}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.clock == nil:
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.rand == nil:
		return nil, store.Invalid("random", store.CodeRequired, 0, "must not be nil")
	case c.maxStale <= 0 || c.poll <= 0:
		return nil, store.Invalid("max_staleness", store.CodeOutOfRange, 0, "the maximum staleness and the poll interval must be positive")
	}
	if c.perms == nil {
		var err error
		if c.perms, err = NewPermissions(); err != nil {
			return nil, err
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	ids := id.NewGenerator(c.clock, c.rand)
	a := &Authorizer{
		st: st, plans: plans, perms: c.perms, clock: c.clock, log: c.logger, ids: ids,
		rec: audit.New(ids, c.clock, identity.ResourceOf), maxStale: c.maxStale, cache: newCache(),
		follower: c.follower,
	}
	if a.follower == nil {
		var err error
		a.follower, err = store.NewFollower(st, store.WithFollowerClock(c.clock), store.WithPollInterval(c.poll),
			store.WithFollowerLogger(c.logger))
		if err != nil {
			return nil, err
		}
		a.ownFeed = true
	}
	if err := a.follower.Subscribe((*feedHandler)(a)); err != nil {
		return nil, err
	}
	return a, nil
}

// Permissions returns the Authorizer's permission registry.
func (a *Authorizer) Permissions() *Permissions { return a.perms }

// Permission looks a permission up by its "resource:action" name in the Authorizer's
// registry (Permissions.Lookup).
func (a *Authorizer) Permission(name string) (Permission, error) { return a.perms.Lookup(name) }

// Catalog returns the plans the Authorizer was built with: the one catalog of the
// deployment, which identity, botuser, credential and sso read from the Authorizer
// (identity.Guard).
func (a *Authorizer) Catalog() *identity.Catalog { return a.plans }

// Run follows the store's change feed, keeping the cache coherent, until ctx is done or the
// store is closed, and returns why it stopped. With WithFollower, the shared follower's owner
// runs the feed and Run only keeps the cache's staleness bound, until ctx is done. Run it in
// its own goroutine, once.
func (a *Authorizer) Run(ctx context.Context) error {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		period := max(a.maxStale/4, 10*time.Millisecond)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				a.refreshLive()
			}
		}
	}()
	var err error
	if a.ownFeed {
		err = a.follower.Run(ctx)
	} else {
		<-ctx.Done()
		err = ctx.Err()
	}
	close(done)
	<-stopped
	a.setLive(false)
	return err
}

// Sync returns once every commit made before it was called is reflected in the cache (so a
// Check after Sync sees an Update that returned before it), or when ctx is done. It fails at
// once (store.ErrUnavailable, code store.CodeNotRunning) when nothing follows the feed.
func (a *Authorizer) Sync(ctx context.Context) error {
	if err := a.follower.Sync(ctx); err != nil {
		return err
	}
	a.refreshLive()
	return nil
}

// Caching reports whether Check currently answers from its cache, that is whether Run is
// following a change feed that was in sync within the maximum staleness.
func (a *Authorizer) Caching() bool { return a.live.Load() }

func (a *Authorizer) refreshLive() {
	s := a.follower.Synced()
	a.setLive(!s.IsZero() && a.clock.Now().Sub(s) <= a.maxStale)
}

func (a *Authorizer) setLive(on bool) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	if a.live.Load() == on {
		return
	}
	a.cache.flush()
	a.live.Store(on)
	a.log.Debug("rbac: grant cache", "enabled", on)
}

// feedHandler is the Authorizer as the store.FeedHandler of its cache.
type feedHandler Authorizer

// Apply invalidates what a commit changed.
func (h *feedHandler) Apply(c store.Commit) {
	ca := h.cache
	ca.mu.Lock()
	defer ca.mu.Unlock()
	for _, ch := range c.Changes {
		switch ch.Kind {
		case store.KindMembership, store.KindBotUser:
			ca.invalidateLocked(key{ch.AccountID, ch.ID}, ch.Op == store.OpDelete)
		case store.KindRole, store.KindAccount:
			ca.invalidateAccountLocked(ch.AccountID)
		}
	}
}

// Flush drops every cached grant.
func (h *feedHandler) Flush() { h.cache.flush() }

// Check decides whether principal p may use permission perm in p.AccountID. A deny is a
// Decision with a Reason; the error is for failures to decide (the store, a malformed
// principal, a permission the registry does not hold). With the cache warm it makes no
// allocation and does not touch the store.
func (a *Authorizer) Check(ctx context.Context, p identity.Principal, perm Permission) (Decision, error) {
	if a.live.Load() && a.perms.Valid(perm) {
		if g := a.cache.get(key{p.AccountID, p.ID}); g != nil {
			// Built here, in the result, rather than by a.decide: copying a Decision between
			// frames would cost more than the rest of the check.
			allowed, reason, role := g.decide(perm)
			if allowed && outOfScope(&p, perm) {
				allowed, reason, role = false, ReasonOutOfScope, ""
			}
			return Decision{Allowed: allowed, Permission: perm, Name: a.perms.names[perm], Reason: reason, Role: role}, nil
		}
	}
	return a.checkCold(ctx, p, perm)
}

// checkCold is Check without a warm cache entry: it validates perm and compiles p's grants
// from the store. It is apart from Check to keep the warm path small.
func (a *Authorizer) checkCold(ctx context.Context, p identity.Principal, perm Permission) (Decision, error) {
	if !a.perms.Valid(perm) {
		return Decision{}, store.Invalid("permission", CodeUnknownPermission, 0, "unknown permission")
	}
	g, err := a.load(ctx, p)
	if err != nil {
		return Decision{}, err
	}
	return a.decideFor(g, &p, perm), nil
}

// Require is Check for middleware: nil when allowed, an error matching store.ErrDenied
// (code of the Reason, Field the permission's name) when denied, or the error that
// prevented a decision.
func (a *Authorizer) Require(ctx context.Context, p identity.Principal, perm Permission) error {
	d, err := a.Check(ctx, p, perm)
	if err != nil {
		return err
	}
	return d.Err()
}

// CheckIn is Check reading through r, bypassing the cache: use it inside a store.Update (or
// View) to authorize a change or read consistently with the data it touches.
func (a *Authorizer) CheckIn(ctx context.Context, r store.Reader, p identity.Principal, perm Permission) (Decision, error) {
	if !a.perms.Valid(perm) {
		return Decision{}, store.Invalid("permission", CodeUnknownPermission, 0, "unknown permission")
	}
	g, err := a.compileFor(ctx, r, p)
	if err != nil {
		return Decision{}, err
	}
	return a.decideFor(g, &p, perm), nil
}

// HeldIn returns the permissions p may use in its account, reading through r (as CheckIn):
// what its roles grant and its plan allows, within its scope (identity.Scope). A principal
// that may do nothing (inactive, not a member, an access token without its scope) holds
// nothing. Package credential calls it to keep an access token's scopes within its creator's
// permissions.
func (a *Authorizer) HeldIn(ctx context.Context, r store.Reader, p identity.Principal) (Set, error) {
	g, err := a.compileFor(ctx, r, p)
	if err != nil {
		return Set{}, err
	}
	if g = g.within(&p); g.deny != ReasonGranted {
		return Set{}, nil
	}
	return g.allowed, nil
}

// RequireIn is Require reading through r, bypassing the cache (see CheckIn).
func (a *Authorizer) RequireIn(ctx context.Context, r store.Reader, p identity.Principal, perm Permission) error {
	d, err := a.CheckIn(ctx, r, p, perm)
	if err != nil {
		return err
	}
	return d.Err()
}

// RequireRead is Require for a read that runs inside a View: it answers from the cache while
// the cache is live, as Require does (no store access; as stale as the change feed lets
// the cache be, within WithMaxStaleness, the bound the credential Verifier's cache keeps on
// the same feed), else it compiles p's grants through r, as RequireIn does, caching them
// while the cache is live and r is not a Tx. A read authorized so costs no round trip to
// the store once p's grants are cached; a change (or a read inside a Tx) must use RequireIn,
// which authorizes consistently with the data it touches.
func (a *Authorizer) RequireRead(ctx context.Context, r store.Reader, p identity.Principal, perm Permission) error {
	if !a.perms.Valid(perm) {
		return store.Invalid("permission", CodeUnknownPermission, 0, "unknown permission")
	}
	if err := checkPrincipal(p); err != nil {
		return err
	}
	k := key{p.AccountID, p.ID}
	_, inTx := r.(store.Tx)
	live := a.live.Load() && !inTx
	if live {
		if g := a.cache.get(k); g != nil {
			return a.decideFor(g, &p, perm).Err()
		}
	}
	var (
		e   *entry
		ver uint64
	)
	if live {
		e, ver = a.cache.reserve(k) // before reading, so that a commit read past drops the fill
	}
	g, err := a.compile(ctx, r, p.AccountID, p.ID)
	if err != nil {
		return err
	}
	if live {
		a.cache.fill(e, ver, g)
	}
	return a.decideFor(g, &p, perm).Err()
}

// decide answers one permission, valid in the registry, from compiled grants.
func (a *Authorizer) decide(g *grants, perm Permission) Decision {
	allowed, reason, role := g.decide(perm)
	return Decision{Allowed: allowed, Permission: perm, Name: a.perms.names[perm], Reason: reason, Role: role}
}

// decideFor answers one permission for p from its compiled grants, within p's scope: a
// permission its roles grant but its access token's scope leaves out is denied with
// ReasonOutOfScope.
func (a *Authorizer) decideFor(g *grants, p *identity.Principal, perm Permission) Decision {
	d := a.decide(g, perm)
	if d.Allowed && outOfScope(p, perm) {
		d.Allowed, d.Reason, d.Role = false, ReasonOutOfScope, ""
	}
	return d
}

// outOfScope reports whether p acts with an access token whose scope does not allow perm.
// A principal acting with an access token (its CredentialID) but carrying no scope is out
// of scope for everything: its scope was lost on the way.
func outOfScope(p *identity.Principal, perm Permission) bool {
	if p.Scope.Limited() {
		s := Set(p.Scope.Words())
		return !s.contains(perm)
	}
	return identity.IsAccessTokenID(p.CredentialID)
}

// scopeOf returns the permissions p's scope allows, and whether it is limited (see
// outOfScope).
func scopeOf(p *identity.Principal) (Set, bool) {
	if p.Scope.Limited() {
		return Set(p.Scope.Words()), true
	}
	return Set{}, identity.IsAccessTokenID(p.CredentialID)
}

// deny is a denial of perm for reason, as an error.
func (a *Authorizer) deny(perm Permission, reason Reason) error {
	return Decision{Permission: perm, Name: a.perms.Name(perm), Reason: reason}.Err()
}

// load compiles p's grants from the store, caching them while the cache is live.
func (a *Authorizer) load(ctx context.Context, p identity.Principal) (*grants, error) {
	if err := checkPrincipal(p); err != nil {
		return nil, err
	}
	accountID := p.AccountID
	live := a.live.Load()
	var (
		e   *entry
		ver uint64
	)
	if live {
		e, ver = a.cache.reserve(key{accountID, p.ID})
	}
	var g *grants
	err := a.st.View(ctx, func(r store.Reader) error {
		var err error
		g, err = a.compile(ctx, r, accountID, p.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if live {
		a.cache.fill(e, ver, g)
	}
	return g, nil
}

func (a *Authorizer) compileFor(ctx context.Context, r store.Reader, p identity.Principal) (*grants, error) {
	if err := checkPrincipal(p); err != nil {
		return nil, err
	}
	return a.compile(ctx, r, p.AccountID, p.ID)
}

// checkPrincipal refuses a principal whose ID is no user's or bot user's, or whose account
// is not an account ID.
func checkPrincipal(p identity.Principal) error {
	if pre, err := id.PrefixOf(p.ID); err != nil || pre != id.User && pre != id.BotUser {
		return store.Invalid("principal.id", store.CodeInvalidValue, 0, "must be a usr_ or bot_ id")
	}
	return id.CheckArg("principal.account_id", p.AccountID, id.Account)
}

// grants is a principal's compiled permissions in one account. It is immutable.
type grants struct {
	allowed Set    // granted by a role and allowed by the plan
	masked  Set    // granted by a role but not allowed by the plan
	deny    Reason // non-zero: the principal may do nothing
	admin   bool   // holds the Administrator role
	roles   []roleSet
}

type roleSet struct {
	name  string
	perms Set
}

// decide answers one permission: allowed, or why not, and the role that grants it. It
// returns scalars rather than a Decision, which Check builds in its own result.
func (g *grants) decide(perm Permission) (allowed bool, reason Reason, role string) {
	switch {
	case g.deny != ReasonGranted:
		return false, g.deny, ""
	case g.allowed.contains(perm):
		for i := range g.roles {
			if g.roles[i].perms.contains(perm) {
				return true, ReasonGranted, g.roles[i].name
			}
		}
		return true, ReasonGranted, ""
	case g.masked.contains(perm):
		return false, ReasonNotInPlan, ""
	}
	return false, ReasonNoRole, ""
}

// allows reports whether the grants allow perm.
func (g *grants) allows(perm Permission) bool { return g.deny == ReasonGranted && g.allowed.Has(perm) }

// within returns g limited to p's scope: what p may do, grant and read acting with its
// access token. A scoped administrator is an administrator only if its scope covers
// everything it holds. Without a scope, g itself.
func (g *grants) within(p *identity.Principal) *grants {
	s, limited := scopeOf(p)
	if !limited {
		return g
	}
	out := *g
	out.allowed, out.masked = g.allowed.Intersect(s), g.masked.Intersect(s)
	out.admin = g.admin && s.Covers(g.holds())
	return &out
}

// holds returns every permission the principal's roles grant, plan or not.
func (g *grants) holds() Set { return g.allowed.Union(g.masked) }

// compile reads what principalID may do in accountID.
//
// On plans without identity.FeatureRBAC, every active member acts as an administrator and
// every active bot user as a developer, whatever roles are stored: that is how ngrok's plans
// without RBAC behave (each member has full control; service users have developer rights).
func (a *Authorizer) compile(ctx context.Context, r store.Reader, accountID, principalID string) (*grants, error) {
	st, err := r.Standing(ctx, accountID, principalID) // one read: account, bot user, membership
	if err != nil {
		return nil, err
	}
	if st.Account == nil {
		return &grants{deny: ReasonNoAccount}, nil
	}
	acct := *st.Account
	plan, err := a.plans.PlanOf(acct)
	if err != nil {
		return nil, err
	}
	rbacOn := plan.Has(identity.FeatureRBAC)
	var roles []string
	bot := false
	if pre, _ := id.PrefixOf(principalID); pre == id.BotUser {
		bot = true
		b := st.BotUser
		switch {
		case b == nil || b.AccountID != accountID:
			return &grants{deny: ReasonNotMember}, nil
		case !b.Active:
			return &grants{deny: ReasonInactive}, nil
		}
		roles = b.Roles
		if len(roles) == 0 || !rbacOn {
			roles = DefaultBotRoles()
		}
	} else {
		m := st.Membership
		switch {
		case m == nil:
			return &grants{deny: ReasonNotMember}, nil
		case m.Status != store.MemberActive:
			return &grants{deny: ReasonInactive}, nil
		}
		roles = m.Roles
		if !rbacOn {
			roles = []string{RoleAdministrator}
		}
	}
	g := &grants{roles: make([]roleSet, 0, len(roles))}
	var all Set
	for _, name := range roles {
		perms, ok, err := a.rolePerms(ctx, r, acct, plan, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // a deleted custom role, or one the plan no longer allows: grants nothing
		}
		if bot && name == RoleAdministrator {
			continue // bot users are never administrators
		}
		g.roles = append(g.roles, roleSet{name: name, perms: perms})
		all = all.Union(perms)
		g.admin = g.admin || name == RoleAdministrator
	}
	if bot {
		all = all.Intersect(a.perms.ServiceUserGrants()) // whatever its custom roles grant now
	}
	mask := a.perms.planMask(plan)
	g.allowed, g.masked = all.Intersect(mask), all.Minus(mask)
	return g, nil
}

// rolePerms returns the permissions of a built-in role name or a custom role ID of acct.
// ok is false for a custom role that does not exist in acct or that the plan does not allow.
func (a *Authorizer) rolePerms(ctx context.Context, r store.Reader, acct store.Account, plan identity.Plan, name string) (Set, bool, error) {
	if s, ok := a.perms.RoleGrants(name); ok {
		return s, true, nil
	}
	if id.Check(name, id.Role) != nil || !plan.Has(identity.FeatureCustomRoles) {
		return Set{}, false, nil
	}
	role, err := r.Role(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && role.AccountID != acct.ID):
		return Set{}, false, nil
	case err != nil:
		return Set{}, false, fmt.Errorf("rbac: role %s: %w", name, err)
	}
	var s Set
	for _, name := range role.Permissions {
		if p, ok := a.perms.byName[name]; ok { // a permission no longer registered grants nothing
			s = s.With(p)
		}
	}
	return s.Minus(AdminOnly()), true, nil
}

// permsOf returns the union of the permissions of roles (already validated).
func (a *Authorizer) permsOf(ctx context.Context, r store.Reader, acct store.Account, plan identity.Plan, roles []string) (Set, error) {
	var all Set
	for _, name := range roles {
		s, _, err := a.rolePerms(ctx, r, acct, plan, name)
		if err != nil {
			return Set{}, err
		}
		all = all.Union(s)
	}
	return all, nil
}

// normalizeRoles deduplicates and sorts role references.
func normalizeRoles(roles []string) []string {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}
