package credential

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Purger deletes the credentials of removed owners. Deleting a bot user or removing a member
// is one small commit that writes a store.Tombstone: from then on every read treats the
// owner's credentials as gone, and the Purger deletes them later, in batches, one
// store.Update each, recording in each batch one *_deleted event per credential, attributed to
// whoever removed the owner (Tombstone.By). The last batch deletes the tombstone with the last
// credentials. A purge that stops (a crash, a store error, ctx) resumes where it was: the
// tombstone stays until its last batch.
//
// A batch is sized by time: the Purger times each batch's Update (by its clock) and sizes the
// next so that it takes about PurgeBatchBudget, at most doubling from one batch to the next
// and never above WithPurgeBatch credentials. A store that commits a batch as one atomic
// block (a Redis MULTI/EXEC) then never holds it for longer than the budget, however many
// credentials the owner had, and a loaded store gets smaller batches.
//
// Run one Purger per deployment (more are safe, but do the same work). It is safe for
// concurrent use.
//
// After each batch the Purger rests, WithPurgeRest times as long as the batch took (a
// quarter as long, by default), so that a large purge spreads its load over time instead of taking the store
// and the CPU from every other client while it runs. On Redis, 50,000 credentials purge in
// a few seconds this way (credential/BENCHMARKS.md).
type Purger struct {
	st       store.Store
	rec      audit.Recorder[identity.Resource]
	log      *slog.Logger
	batch    int          // the most credentials a batch deletes (WithPurgeBatch)
	size     atomic.Int64 // the next batch's size, sized by PurgeBatchBudget
	poll     time.Duration
	rest     float64 // WithPurgeRest
	clock    store.Clock
	follower *store.Follower
	ownFeed  bool // the follower is the Purger's own: Run runs it
	wake     chan struct{}
}

// NewPurger returns a Purger over st. It takes the options WithPurgeBatch, WithPurgePoll, WithPurgeRest,
// WithClock, WithRandom, WithLogger and WithFollower. A nil store, or an option set to nil or out of
// range, is an error matching store.ErrInvalid that names it.
func NewPurger(st store.Store, opts ...Option) (*Purger, error) {
	if st == nil {
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	}
	c := newConfig(opts)
	if err := c.check(); err != nil {
		return nil, err
	}
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	log := c.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Purger{
		st: st, rec: audit.New(id.NewGenerator(c.clock, r), c.clock, identity.ResourceOf),
		log: log, batch: c.batch, poll: c.poll, rest: c.rest, clock: c.clock,
		follower: c.follower, wake: make(chan struct{}, 1),
	}
	p.size.Store(int64(min(p.batch, firstPurgeBatch)))
	if p.follower == nil {
		var err error
		if p.follower, err = store.NewFollower(st, store.WithFollowerClock(c.clock), store.WithFollowerLogger(log)); err != nil {
			return nil, err
		}
		p.ownFeed = true
	}
	if err := p.follower.Subscribe(tombstoneWatch(p.wake)); err != nil {
		return nil, err
	}
	return p, nil
}

// Purge purges every pending tombstone, batch by batch, and returns how many credentials it
// deleted once none is left, or the first error (ctx's, or the store's).
func (p *Purger) Purge(ctx context.Context) (int, error) {
	total := 0
	for {
		ts, err := p.pending(ctx)
		if err != nil || len(ts) == 0 {
			return total, err
		}
		for _, t := range ts {
			n, err := p.purgeOwner(ctx, t)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
}

// pending lists the first page of tombstones awaiting purging.
func (p *Purger) pending(ctx context.Context) ([]store.Tombstone, error) {
	var ts []store.Tombstone
	err := p.st.View(ctx, func(r store.Reader) error {
		var err error
		ts, err = r.Tombstones(ctx, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	return ts, err
}

// purgeOwner purges one tombstone's credentials, one batch per transaction, until its last
// batch deletes it.
func (p *Purger) purgeOwner(ctx context.Context, t store.Tombstone) (int, error) {
	total := 0
	for {
		n, done, took, err := p.purgeBatch(ctx, t)
		total += n
		if err != nil || done {
			return total, err
		}
		if err := p.restAfter(ctx, took); err != nil {
			return total, err
		}
	}
}

// restAfter waits WithPurgeRest times took, or until ctx is done.
func (p *Purger) restAfter(ctx context.Context, took time.Duration) error {
	return clock.Sleep(ctx, time.Duration(p.rest*float64(took)))
}

// PurgeBatchBudget is how long the Purger aims for one batch's transaction to take.
const PurgeBatchBudget = 5 * time.Millisecond

// firstPurgeBatch is the size of a Purger's first batch, before it has timed one.
const firstPurgeBatch = 50

// resize returns the size of the batch after one of n credentials that took took: n scaled
// to PurgeBatchBudget, at least 1, at most twice n and at most the WithPurgeBatch maximum.
func (p *Purger) resize(n int, took time.Duration) int {
	next := 2 * n
	if took > 0 {
		next = min(next, int(float64(n)*float64(PurgeBatchBudget)/float64(took)))
	}
	return max(1, min(next, p.batch))
}

// purgeBatch deletes one batch of t's credentials with their events, in one transaction,
// sizes the next batch by how long it took, and returns how many it deleted, whether t is
// purged, and how long the transaction took.
func (p *Purger) purgeBatch(ctx context.Context, t store.Tombstone) (int, bool, time.Duration, error) {
	var (
		n    int
		done bool
	)
	size := int(p.size.Load())
	start := p.clock.Now()
	err := p.st.Update(ctx, func(tx store.Tx) error {
		cs, fin, err := tx.PurgeCredentials(ctx, t.AccountID, t.OwnerID, size)
		if err != nil {
			return err
		}
		events := &eventBatch{Tx: tx, events: make([]store.Event, 0, len(cs))}
		for _, c := range cs {
			_, _, deleted := identity.CredentialEventTypes(c.Kind)
			if err := p.rec.Record(ctx, events, t.AccountID, deleted, t.By, objectOf(c)); err != nil {
				return err
			}
		}
		if err := tx.AppendEvents(ctx, events.events); err != nil {
			return err
		}
		n, done = len(cs), fin
		return nil
	})
	if err != nil {
		return 0, false, 0, err
	}
	took := p.clock.Now().Sub(start)
	if n == size { // a full batch: its time says what the store can take
		p.size.Store(int64(p.resize(n, took)))
	}
	return n, done, took, nil
}

// eventBatch is the Tx a purge batch records its events through: it collects them, and the
// batch appends them with one AppendEvents, which checks their IDs with one read of the
// store where AppendEvent reads once per event (a round trip each on Redis).
type eventBatch struct {
	store.Tx
	events []store.Event
}

// AppendEvent collects e.
func (b *eventBatch) AppendEvent(_ context.Context, e store.Event) error {
	b.events = append(b.events, e)
	return nil
}

// Run purges what is pending, then again whenever the store's change feed reports a new
// tombstone (or a gap), and at least every WithPurgePoll, until ctx is done or the store is
// closed; it returns why it stopped. Store errors are logged and retried at the next wake.
// Run it in its own goroutine, once.
func (p *Purger) Run(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan error, 1)
	if p.ownFeed {
		go func() { followed <- p.follower.Run(fctx) }()
	} else {
		go func() { <-fctx.Done(); followed <- fctx.Err() }()
	}
	t := time.NewTicker(p.poll)
	defer t.Stop()
	for {
		if n, err := p.Purge(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("credential purger: purge failed; retrying", "purged", n, "err", err)
		}
		select {
		case <-ctx.Done():
			cancel()
			<-followed
			return ctx.Err()
		case err := <-followed: // the store was closed: nothing more to purge
			return err
		case <-p.wake:
		case <-t.C:
		}
	}
}

// tombstoneWatch is the feed handler of a running Purger: it wakes it on a tombstone put,
// and on a flush (commits may have been missed).
type tombstoneWatch chan struct{}

// Apply wakes the Purger if c writes a tombstone.
func (w tombstoneWatch) Apply(c store.Commit) {
	for _, ch := range c.Changes {
		if ch.Kind == store.KindTombstone && ch.Op == store.OpPut {
			w.wake()
			return
		}
	}
}

// Flush wakes the Purger.
func (w tombstoneWatch) Flush() { w.wake() }

func (w tombstoneWatch) wake() {
	select {
	case w <- struct{}{}:
	default:
	}
}
