package iprestrict

import (
	"context"
	"crypto/rand"
	"hash/maphash"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// The codes of this package's errors (store.CodeOf), besides the store's.
const (
	// CodeIPRestricted: an enforced IP restriction of the account refuses the client's
	// address (store.ErrDenied). ngrok answers it with ERR_NGROK_220 on its API.
	CodeIPRestricted = "ip_restricted"
)

// DefaultMaxStaleness is how long a Guard trusts what it compiled after the change feed was
// last confirmed in sync; past it, it reads the store on every check, and refuses when the
// store does not answer.
const DefaultMaxStaleness = 5 * time.Second

// DefaultWarnEvery is how often, at most, a Guard records the same would-be refusal (one
// restriction, one principal, one address) as an event.
const DefaultWarnEvery = time.Minute

const numShards = 16

// Guard checks client addresses against the account-wide IP restrictions, from a cache of
// each account's compiled restrictions that the change feed keeps current. Make one with
// NewGuard; it is safe for concurrent use.
type Guard struct {
	st        store.Store
	follower  *store.Follower
	clock     store.Clock
	maxStale  time.Duration
	warnEvery time.Duration
	rec       audit.Recorder[identity.Resource]
	log       *slog.Logger
	seed      maphash.Seed
	shards    [numShards]shard
	denied    [numTypes]error // the refusals, made once: refusing allocates nothing

	warnMu sync.Mutex
	warned map[warnKey]time.Time // +checklocks:warnMu
}

// shard is part of the cache: accounts' compiled restrictions (nil: none), and an epoch
// that every invalidation in the shard moves, so that a fill computed from a read made
// before an invalidation is dropped.
type shard struct {
	mu    sync.RWMutex
	m     map[string]*compiled
	epoch uint64
}

type warnKey struct {
	restriction, principal string
	addr                   netip.Addr
}

// GuardOption configures NewGuard.
type GuardOption func(*guardConfig)

type guardConfig struct {
	clock     store.Clock
	rand      io.Reader
	log       *slog.Logger
	maxStale  time.Duration
	warnEvery time.Duration
}

// WithGuardClock sets the time source (default: the system clock).
func WithGuardClock(c store.Clock) GuardOption { return func(o *guardConfig) { o.clock = c } }

// WithGuardRandom sets the randomness for event IDs (default: crypto/rand.Reader).
func WithGuardRandom(r io.Reader) GuardOption { return func(o *guardConfig) { o.rand = r } }

// WithGuardLogger sets a logger for diagnostics (default: none).
func WithGuardLogger(l *slog.Logger) GuardOption { return func(o *guardConfig) { o.log = l } }

// WithGuardMaxStaleness sets how long the cache is trusted without the feed confirmed in
// sync (default DefaultMaxStaleness).
func WithGuardMaxStaleness(d time.Duration) GuardOption {
	return func(o *guardConfig) { o.maxStale = d }
}

// WithWarnEvery sets how often, at most, the same would-be refusal is recorded (default
// DefaultWarnEvery).
func WithWarnEvery(d time.Duration) GuardOption { return func(o *guardConfig) { o.warnEvery = d } }

// NewGuard returns a Guard over st whose cache follows the change feed through f (which the
// caller runs). Both are required.
func NewGuard(st store.Store, f *store.Follower, opts ...GuardOption) (*Guard, error) {
	switch {
	case st == nil:
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	case f == nil:
		return nil, store.Invalid("follower", store.CodeRequired, 0, "required")
	}
	c := guardConfig{clock: clock.System{}, rand: rand.Reader, maxStale: DefaultMaxStaleness, warnEvery: DefaultWarnEvery}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.clock == nil:
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.rand == nil:
		return nil, store.Invalid("random", store.CodeRequired, 0, "must not be nil")
	case c.maxStale <= 0:
		return nil, store.Invalid("max_staleness", store.CodeOutOfRange, 0, "must be positive")
	case c.warnEvery < 0:
		return nil, store.Invalid("warn_every", store.CodeOutOfRange, 0, "must not be negative")
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	g := &Guard{
		st: st, follower: f, clock: c.clock, maxStale: c.maxStale, warnEvery: c.warnEvery,
		rec: audit.New(id.NewGenerator(c.clock, c.rand), c.clock, identity.ResourceOf),
		log: c.log, seed: maphash.MakeSeed(), warned: map[warnKey]time.Time{},
	}
	for i := range g.shards {
		g.shards[i].m = map[string]*compiled{}
	}
	for t := range numTypes {
		g.denied[t] = store.NewError(store.ErrDenied, CodeIPRestricted,
			"the account's IP restrictions do not allow %s access from this address", t)
	}
	if err := f.Subscribe((*feedHandler)(g)); err != nil {
		return nil, err
	}
	return g, nil
}

// Check lets p in by t from addr, or refuses: nil when the account's restrictions of type t
// allow addr (or it has none), an error matching store.ErrDenied with code CodeIPRestricted
// when an enforced one refuses it, and the store's error when the cache is too stale to
// trust and the store does not answer. When only a warn-only restriction would refuse addr,
// Check records an ip_restriction_warned.v0 event attributed to p (at most once per
// WithWarnEvery for one restriction, principal and address) and returns nil: a failure to
// record is logged, and does not refuse. On a warm cache an allowed address costs no store
// read and no allocation.
func (g *Guard) Check(ctx context.Context, t Type, p identity.Principal, addr netip.Addr) error {
	if t >= numTypes {
		return store.Invalid("type", store.CodeInvalidValue, 0, "not a restriction type")
	}
	c, err := g.compiledFor(ctx, p.AccountID)
	if err != nil {
		return err
	}
	refused, warned := c.verdict(t, addr)
	switch {
	case refused != nil:
		return g.denied[t]
	case warned != nil:
		g.warn(ctx, t, warned.id, p, addr)
	}
	return nil
}

// compiledFor returns the account's compiled restrictions, from the cache when the feed is
// recently in sync, else read from the store.
func (g *Guard) compiledFor(ctx context.Context, accountID string) (*compiled, error) {
	sh := &g.shards[maphash.String(g.seed, accountID)%numShards]
	fresh := g.fresh()
	if fresh {
		sh.mu.RLock()
		c, ok := sh.m[accountID]
		sh.mu.RUnlock()
		if ok {
			return c, nil
		}
	}
	sh.mu.RLock()
	epoch := sh.epoch
	sh.mu.RUnlock()
	c, err := g.load(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if fresh {
		sh.mu.Lock()
		if sh.epoch == epoch {
			sh.m[accountID] = c
		}
		sh.mu.Unlock()
	}
	return c, nil
}

// fresh reports whether the feed was confirmed in sync within the maximum staleness.
func (g *Guard) fresh() bool {
	s := g.follower.SyncedNano()
	return s != 0 && g.clock.Now().UnixNano()-s <= int64(g.maxStale)
}

// load reads and compiles an account's restrictions.
func (g *Guard) load(ctx context.Context, accountID string) (*compiled, error) {
	var c *compiled
	err := g.st.View(ctx, func(r store.Reader) error {
		xs, err := allRestrictions(ctx, r, accountID)
		if err != nil || len(xs) == 0 {
			return err
		}
		c = &compiled{}
		rules := map[string][]rule{}
		for _, x := range xs {
			t, ok := typeOf(x.Type)
			if !ok {
				continue
			}
			cx := restriction{id: x.ID, enforced: x.Enforced}
			for _, pid := range x.PolicyIDs {
				rs, ok := rules[pid]
				if !ok {
					if rs, err = policyRules(ctx, r, accountID, pid); err != nil {
						return err
					}
					rules[pid] = rs
				}
				cx.rules = append(cx.rules, rs...)
			}
			c.byType[t] = append(c.byType[t], cx)
		}
		return nil
	})
	return c, err
}

// allRestrictions reads every restriction of an account.
func allRestrictions(ctx context.Context, r store.Reader, accountID string) ([]store.IPRestriction, error) {
	var out []store.IPRestriction
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		xs, err := r.IPRestrictions(ctx, accountID, p)
		if err != nil {
			return nil, err
		}
		out = append(out, xs...)
		if len(xs) < p.Limit {
			return out, nil
		}
		p.BeforeID = xs[len(xs)-1].ID
	}
}

// policyRules reads and compiles the rules of one policy.
func policyRules(ctx context.Context, r store.Reader, accountID, policyID string) ([]rule, error) {
	var out []rule
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		rs, err := r.IPPolicyRulesOf(ctx, accountID, policyID, p)
		if err != nil {
			return nil, err
		}
		for _, sr := range rs {
			if cr, ok := compileRule(sr); ok {
				out = append(out, cr)
			}
		}
		if len(rs) < p.Limit {
			return out, nil
		}
		p.BeforeID = rs[len(rs)-1].ID
	}
}

// warn records that a warn-only restriction would have refused p from addr, unless it
// recorded the same within warnEvery.
func (g *Guard) warn(ctx context.Context, t Type, restrictionID string, p identity.Principal, addr netip.Addr) {
	now := g.clock.Now()
	k := warnKey{restriction: restrictionID, principal: p.ID, addr: addr}
	g.warnMu.Lock()
	if last, ok := g.warned[k]; ok && now.Sub(last) < g.warnEvery {
		g.warnMu.Unlock()
		return
	}
	if len(g.warned) >= maxWarned {
		clear(g.warned) // bounded memory; at worst a warning is recorded again early
	}
	g.warned[k] = now
	g.warnMu.Unlock()

	ip := ""
	if addr.IsValid() {
		ip = addr.Unmap().String()
	}
	obj := WarningObject{ID: restrictionID, Type: t.String(), ClientIP: ip}
	err := g.st.Update(ctx, func(tx store.Tx) error {
		return g.rec.Record(ctx, tx, p.AccountID, identity.EventIPRestrictionWarned, p.Audit(), obj)
	})
	if err != nil {
		g.log.WarnContext(ctx, "iprestrict: recording a warn-only refusal failed", "restriction", restrictionID, "err", err)
	}
}

// maxWarned bounds the would-be refusals remembered for WithWarnEvery.
const maxWarned = 10000

// invalidate drops an account's compiled restrictions.
func (g *Guard) invalidate(accountID string) {
	sh := &g.shards[maphash.String(g.seed, accountID)%numShards]
	sh.mu.Lock()
	delete(sh.m, accountID)
	sh.epoch++
	sh.mu.Unlock()
}

// feedHandler is the Guard as a store.FeedHandler.
type feedHandler Guard

// Apply drops the compiled restrictions of every account whose IP records changed.
func (h *feedHandler) Apply(c store.Commit) {
	for _, ch := range c.Changes {
		switch ch.Kind {
		case store.KindIPPolicy, store.KindIPPolicyRule, store.KindIPRestriction:
			(*Guard)(h).invalidate(ch.AccountID)
		}
	}
}

// Flush drops everything: the feed lost its place.
func (h *feedHandler) Flush() {
	g := (*Guard)(h)
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.epoch++
		sh.mu.Unlock()
	}
}

// AllowAgent is Check for an agent starting a session (type Agent): it makes a Guard a
// credential.AgentGate, which Verifier.VerifyAgent asks.
func (g *Guard) AllowAgent(ctx context.Context, p identity.Principal, addr netip.Addr) error {
	return g.Check(ctx, Agent, p, addr)
}
