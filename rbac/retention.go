package rbac

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
)

// Defaults of audit retention (DefaultRetention).
const (
	// DefaultRetentionAge is how long an audit event is kept: 90 days, ngrok's longest
	// event retention.
	DefaultRetentionAge = 90 * 24 * time.Hour
	// DefaultRetentionCount is how many audit events an account keeps at most.
	DefaultRetentionCount = 100_000
	// DefaultPruneInterval is how often a running Pruner visits every account.
	DefaultPruneInterval = time.Hour
)

// Retention says which audit events an account keeps: none older than MaxAge (no bound by
// age when 0) and no more than its newest MaxCount (no bound by count when 0). The zero
// Retention keeps everything.
type Retention struct {
	MaxAge   time.Duration
	MaxCount int
}

// DefaultRetention is 90 days and 100,000 events per account.
func DefaultRetention() Retention {
	return Retention{MaxAge: DefaultRetentionAge, MaxCount: DefaultRetentionCount}
}

// Off reports whether r keeps everything.
func (r Retention) Off() bool { return r.MaxAge == 0 && r.MaxCount == 0 }

func (r Retention) check() error {
	switch {
	case r.MaxAge < 0:
		return store.Invalid("retention.max_age", store.CodeOutOfRange, 0, "must not be negative")
	case r.MaxCount < 0:
		return store.Invalid("retention.max_count", store.CodeOutOfRange, 0, "must not be negative")
	}
	return nil
}

// pruneBatch is how many events one pruning transaction deletes at most: a few hundred keys
// in one commit (on Redis one short MULTI/EXEC).
const pruneBatch = 250

// maxTracked bounds how many accounts a running Pruner counts new events of between two
// visits of every account: past it, more accounts wait for the next visit.
const maxTracked = 100_000

// Pruner deletes the audit events a Retention does not keep, oldest first, in the background:
// the pruning of one account is a series of transactions of at most 250 events each
// (store.Tx.PruneEvents). Running, it visits every account when it starts and every
// WithPruneInterval (default DefaultPruneInterval), and, with a bound by count, prunes an
// account as soon as the change feed has shown it 1% of MaxCount new events (at least 100),
// so that an account's log stays near its bound however fast it grows.
//
// Pruning deletes only events: nothing else changes, and the caches that follow the change
// feed (the Authorizer's, the credential Verifier's) ignore event changes. Reading the log
// (Events) is unaffected but for the events gone.
//
// Run one Pruner per deployment (more are safe, but do the same work). It is safe for
// concurrent use.
type Pruner struct {
	st       store.Store
	keep     Retention
	clock    store.Clock
	log      *slog.Logger
	interval time.Duration
	follower *store.Follower
	ownFeed  bool
	trigger  int // new events that make an account due, when counting

	mu    sync.Mutex
	fresh map[string]int      // account -> events appended since its last pruning
	due   map[string]struct{} // accounts to prune at the next wake
	sweep bool                // visit every account at the next wake
	wake  chan struct{}
}

// NewPruner returns a Pruner over st that keeps what keep says. It takes the options
// WithClock, WithLogger, WithFollower, WithFeedPollInterval and WithPruneInterval (the others
// are ignored). A nil store, a negative bound, or an option set to nil or out of range, is
// an error matching store.ErrInvalid that names it.
func NewPruner(st store.Store, keep Retention, opts ...Option) (*Pruner, error) {
	if st == nil {
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	}
	if err := keep.check(); err != nil {
		return nil, err
	}
	c := config{clock: clock.System{}, poll: time.Second, prune: DefaultPruneInterval}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.clock == nil:
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.poll <= 0:
		return nil, store.Invalid("feed_poll_interval", store.CodeOutOfRange, 0, "must be positive")
	case c.prune <= 0:
		return nil, store.Invalid("prune_interval", store.CodeOutOfRange, 0, "must be positive")
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	p := &Pruner{
		st: st, keep: keep, clock: c.clock, log: c.logger, interval: c.prune, follower: c.follower,
		trigger: max(keep.MaxCount/100, 100),
		fresh:   map[string]int{}, due: map[string]struct{}{}, wake: make(chan struct{}, 1),
	}
	if p.follower == nil {
		var err error
		p.follower, err = store.NewFollower(st, store.WithFollowerClock(c.clock), store.WithPollInterval(c.poll),
			store.WithFollowerLogger(c.logger))
		if err != nil {
			return nil, err
		}
		p.ownFeed = true
	}
	if err := p.follower.Subscribe((*pruneWatch)(p)); err != nil {
		return nil, err
	}
	return p, nil
}

// Prune visits every account once and prunes what the Retention does not keep. It returns
// how many events it deleted, or the first error (ctx's, or the store's).
func (p *Pruner) Prune(ctx context.Context) (int, error) {
	if p.keep.Off() {
		return 0, nil
	}
	total := 0
	page := store.Page{Limit: store.MaxPageLimit}
	for {
		var accts []store.Account
		if err := p.st.View(ctx, func(r store.Reader) error {
			var err error
			accts, err = r.Accounts(ctx, page)
			return err
		}); err != nil {
			return total, err
		}
		for _, a := range accts {
			n, err := p.PruneAccount(ctx, a.ID)
			total += n
			if err != nil {
				return total, err
			}
		}
		if len(accts) < page.Limit {
			return total, nil
		}
		page.BeforeID = accts[len(accts)-1].ID
	}
}

// PruneAccount prunes one account's events, batch by batch, and returns how many it deleted.
func (p *Pruner) PruneAccount(ctx context.Context, accountID string) (int, error) {
	if p.keep.Off() {
		return 0, nil
	}
	var before time.Time
	if p.keep.MaxAge > 0 {
		before = p.clock.Now().Add(-p.keep.MaxAge)
	}
	total := 0
	for {
		var (
			n    int
			done bool
		)
		err := p.st.Update(ctx, func(tx store.Tx) error {
			var err error
			n, done, err = tx.PruneEvents(ctx, accountID, before, p.keep.MaxCount, pruneBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if done {
			return total, nil
		}
	}
}

// Run prunes every account, then again every WithPruneInterval, and an account as soon as
// the change feed has shown it enough new events (see Pruner), until ctx is done or the store
// is closed; it returns why it stopped. Store errors are logged and retried at the next wake.
// With WithFollower, whoever owns the follower runs it. Run it in its own goroutine, once.
func (p *Pruner) Run(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan error, 1)
	if p.ownFeed {
		go func() { followed <- p.follower.Run(fctx) }()
	} else {
		go func() { <-fctx.Done(); followed <- fctx.Err() }()
	}
	p.mu.Lock()
	p.sweep = true
	p.mu.Unlock()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.pruneDue(ctx)
		select {
		case <-ctx.Done():
			cancel()
			<-followed
			return ctx.Err()
		case err := <-followed: // the store was closed
			return err
		case <-p.wake:
		case <-t.C:
			p.mu.Lock()
			p.sweep = true
			p.mu.Unlock()
		}
	}
}

// pruneDue prunes every account if a visit is due, else the accounts the feed made due.
func (p *Pruner) pruneDue(ctx context.Context) {
	p.mu.Lock()
	sweep, due := p.sweep, p.due
	p.sweep, p.due = false, map[string]struct{}{}
	if sweep {
		clear(p.fresh)
	}
	p.mu.Unlock()
	if sweep {
		if n, err := p.Prune(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("rbac: audit pruner: visiting every account failed; retrying", "pruned", n, "err", err)
			p.mu.Lock()
			p.sweep = true
			p.mu.Unlock()
		}
		return
	}
	for acct := range due {
		if n, err := p.PruneAccount(ctx, acct); err != nil && ctx.Err() == nil {
			p.log.Warn("rbac: audit pruner: pruning an account failed", "account_id", acct, "pruned", n, "err", err)
		}
	}
}

// pruneWatch is the feed handler of a running Pruner: it counts the events appended per
// account and makes an account due once it has trigger new ones (with a bound by count), and
// makes every account due after a flush (commits may have been missed).
type pruneWatch Pruner

// Apply counts the events c appends.
func (w *pruneWatch) Apply(c store.Commit) {
	p := (*Pruner)(w)
	if p.keep.MaxCount == 0 {
		return
	}
	woken := false
	p.mu.Lock()
	for _, ch := range c.Changes {
		if ch.Kind != store.KindEvent || ch.Op != store.OpPut {
			continue
		}
		n, ok := p.fresh[ch.AccountID]
		if !ok && len(p.fresh) >= maxTracked {
			continue
		}
		if n+1 < p.trigger {
			p.fresh[ch.AccountID] = n + 1
			continue
		}
		delete(p.fresh, ch.AccountID)
		p.due[ch.AccountID] = struct{}{}
		woken = true
	}
	p.mu.Unlock()
	if woken {
		p.signal()
	}
}

// Flush makes every account due.
func (w *pruneWatch) Flush() {
	p := (*Pruner)(w)
	p.mu.Lock()
	p.sweep = true
	p.mu.Unlock()
	p.signal()
}

func (p *Pruner) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}
