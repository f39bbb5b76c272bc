package eventstream

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// catchUpPage is how many events one read of the audit log returns while a destination
// catches up from the log.
const catchUpPage = 100

// recentLen bounds the event IDs a destination remembers having handled, to skip those the
// feed repeats after a catch-up from the log.
const recentLen = 1024

// Worker delivers audit events to every destination of every account: one goroutine per
// destination, each reading the change feed from the destination's own durable position (see
// the package documentation), so a slow or failing receiver holds back only its own
// destination and never the caches' feed follower. One reader of the feed per Worker watches
// for destinations and wakes the deliveries of the accounts whose events commit; an idle
// delivery holds no read of the feed open. Several Workers may run on one store (one
// per API server, say): each destination is held by one of them at a time, under a lease
// (WithLease) renewed as it delivers, and taken over by another when its holder stops. It is
// safe for concurrent use.
type Worker struct {
	st   store.Store
	cfg  *config
	ids  *id.Generator
	send *sender
	name string // this worker's lease holder name

	mu      sync.Mutex
	running map[string]context.CancelFunc         // by destination ID
	wakers  map[string]map[chan struct{}]struct{} // by account ID: deliveries to wake
	wg      sync.WaitGroup
	started bool
}

// wakeRead bounds a woken delivery's read of the feed: what is there comes back at once;
// a read that finds nothing gives up soon, and the delivery waits to be woken again.
const wakeRead = 50 * time.Millisecond

// idleWait returns how long an idle delivery waits for a wake before it reads the feed
// anyway (a missed wake, a lease to renew): a quarter of the lease.
func (w *Worker) idleWait() time.Duration { return w.cfg.lease / 4 }

// subscribe registers a delivery of accountID to be woken when the account's events commit.
func (w *Worker) subscribe(accountID string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.wakers[accountID] == nil {
		w.wakers[accountID] = map[chan struct{}]struct{}{}
	}
	w.wakers[accountID][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.wakers[accountID], ch)
		if len(w.wakers[accountID]) == 0 {
			delete(w.wakers, accountID)
		}
		w.mu.Unlock()
	}
}

// wake wakes the deliveries of the accounts, or of every account when accounts is nil.
func (w *Worker) wake(accounts map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for acct, chans := range w.wakers {
		if accounts != nil && !accounts[acct] {
			continue
		}
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// NewWorker returns a Worker over st.
func NewWorker(st store.Store, opts ...Option) (*Worker, error) {
	if st == nil {
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	var b [12]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return nil, fmt.Errorf("eventstream: reading randomness: %w", err)
	}
	return &Worker{st: st, cfg: c, ids: id.NewGenerator(c.clock, c.rand), send: newSender(c), name: "w_" + hex.EncodeToString(b[:]),
		running: map[string]context.CancelFunc{}, wakers: map[string]map[chan struct{}]struct{}{}}, nil
}

// Run delivers until ctx is done or the store is closed, and returns why it stopped. It
// watches the feed for destinations created and deleted, and starts and stops their
// deliveries. Call it once.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return store.NewError(store.ErrConflict, "already_running", "Run is already running")
	}
	w.started = true
	w.mu.Unlock()
	defer w.send.close()
	defer w.stopAll()

	var cur store.Cursor
	b := backoff{base: 50 * time.Millisecond, max: 2 * time.Second}
	for {
		// Head first, then the listing: a destination created in between is in both.
		head, err := w.st.Head(ctx)
		if err == nil {
			err = w.reconcile(ctx)
		}
		if err == nil {
			cur = head
			break
		}
		if stop := w.pause(ctx, err, &b); stop != nil {
			return stop
		}
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, w.cfg.poll)
		batch, err := w.st.Changes(wctx, cur)
		cancel()
		switch {
		case err == nil:
			b.reset()
			if batch.Gap {
				w.wake(nil)
				if err := w.reconcile(ctx); err != nil {
					if stop := w.pause(ctx, err, &b); stop != nil {
						return stop
					}
					continue
				}
			}
			w.watch(ctx, batch.Commits)
			cur = batch.Next
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, store.ErrInvalid):
			if head, err := w.st.Head(ctx); err == nil && w.reconcile(ctx) == nil {
				cur = head
			}
		default:
			if stop := w.pause(ctx, err, &b); stop != nil {
				return stop
			}
		}
	}
}

// pause waits before a retry, or returns why Run must stop.
func (w *Worker) pause(ctx context.Context, err error, b *backoff) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, store.ErrClosed) {
		return err
	}
	w.cfg.log.Warn("eventstream: the store failed; retrying", "err", err)
	return sleep(ctx, b.next())
}

// watch starts and stops deliveries as commits create and delete destinations, and wakes
// the deliveries of the accounts whose events the commits appended.
func (w *Worker) watch(ctx context.Context, commits []store.Commit) {
	accounts := map[string]bool{}
	for _, c := range commits {
		for _, ch := range c.Changes {
			switch {
			case ch.Kind == store.KindEvent && ch.Op == store.OpPut:
				accounts[ch.AccountID] = true
			case ch.Kind == store.KindEventDestination && ch.Op == store.OpPut:
				w.start(ctx, ch.ID)
			case ch.Kind == store.KindEventDestination:
				w.stop(ch.ID)
			}
		}
	}
	if len(accounts) > 0 {
		w.wake(accounts)
	}
}

// reconcile runs a delivery for every destination in the store, and only for those.
func (w *Worker) reconcile(ctx context.Context) error {
	seen := map[string]bool{}
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		var page []store.EventDestination
		err := w.st.View(ctx, func(r store.Reader) error {
			var err error
			page, err = r.EveryEventDestination(ctx, p)
			return err
		})
		if err != nil {
			return err
		}
		for _, d := range page {
			seen[d.ID] = true
			w.start(ctx, d.ID)
		}
		if len(page) < p.Limit {
			break
		}
		p.BeforeID = page[len(page)-1].ID
	}
	w.mu.Lock()
	var gone []string
	for did := range w.running {
		if !seen[did] {
			gone = append(gone, did)
		}
	}
	w.mu.Unlock()
	for _, did := range gone {
		w.stop(did)
	}
	return nil
}

func (w *Worker) start(ctx context.Context, destID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.running[destID]; ok {
		return
	}
	dctx, cancel := context.WithCancel(ctx)
	w.running[destID] = cancel
	w.wg.Go(func() {
		w.deliver(dctx, destID)
		w.mu.Lock()
		// Stopped by its own end (the destination is gone): forget it, unless a new
		// delivery has taken its place.
		if dctx.Err() == nil {
			delete(w.running, destID)
		}
		w.mu.Unlock()
		cancel()
	})
}

func (w *Worker) stop(destID string) {
	w.mu.Lock()
	cancel, ok := w.running[destID]
	delete(w.running, destID)
	w.mu.Unlock()
	if ok {
		cancel()
	}
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	for did, cancel := range w.running {
		cancel()
		delete(w.running, did)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// errGone: the destination was deleted; its delivery ends.
var errGone = errors.New("eventstream: the destination is gone")

// errLeaseLost: another worker holds the destination now; this one waits to claim it again.
var errLeaseLost = errors.New("eventstream: another worker holds the destination")

// deliver runs one destination's delivery until ctx is done or the destination is gone,
// starting over (from its stored position) after a store error.
func (w *Worker) deliver(ctx context.Context, destID string) {
	d := &delivery{w: w, destID: destID}
	defer d.release(ctx)
	b := backoff{base: 50 * time.Millisecond, max: 5 * time.Second}
	for {
		err := d.run(ctx)
		if ctx.Err() != nil || errors.Is(err, errGone) || errors.Is(err, store.ErrClosed) {
			return
		}
		if !errors.Is(err, errLeaseLost) {
			w.cfg.log.Warn("eventstream: delivery interrupted; resuming", "destination", destID, "err", err)
		}
		if sleep(ctx, b.next()) != nil {
			return
		}
	}
}

// delivery is one destination's delivery state in memory.
type delivery struct {
	w      *Worker
	destID string
	recent recentSet
	pos    *store.EventDelivery // the position being worked on, for lease renewals
}

// run claims the destination, resumes from its stored position and delivers until an error.
func (d *delivery) run(ctx context.Context) error {
	pos, err := d.claim(ctx)
	if err != nil {
		return err
	}
	d.pos = &pos
	wake, unsubscribe := d.w.subscribe(pos.AccountID)
	defer unsubscribe()
	idle := false
	for {
		if err := d.renew(ctx); err != nil {
			return err
		}
		if pos.Cursor == "" {
			if err := d.catchUp(ctx, &pos); err != nil {
				return err
			}
		}
		if idle {
			// Wait for the worker's own feed reader to see the account's events, rather than
			// hold a blocking read (a connection, on Redis) per destination.
			if err := d.idle(ctx, wake); err != nil {
				return err
			}
			idle = false
		}
		wctx, cancel := context.WithTimeout(ctx, wakeRead)
		batch, err := d.w.st.Changes(wctx, pos.Cursor)
		cancel()
		switch {
		case err == nil && batch.Gap:
			pos.Cursor = "" // the feed lost our place: resume from the log
			continue
		case err == nil:
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			idle = true
			continue
		case errors.Is(err, store.ErrInvalid):
			pos.Cursor = ""
			continue
		default:
			return err
		}
		evIDs := eventsOf(batch.Commits, pos.AccountID)
		if len(evIDs) == 0 {
			pos.Cursor = batch.Next
			continue
		}
		evs, err := d.read(ctx, evIDs)
		if err != nil {
			return err
		}
		if err := d.handle(ctx, evs, &pos); err != nil {
			return err
		}
		pos.Cursor = batch.Next
		if err := d.save(ctx, pos); err != nil {
			return err
		}
	}
}

// idle waits for a wake, or a quarter of the lease.
func (d *delivery) idle(ctx context.Context, wake <-chan struct{}) error {
	t := time.NewTimer(d.w.idleWait())
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// eventsOf returns the IDs of the events of accountID the commits appended, in order.
func eventsOf(commits []store.Commit, accountID string) []string {
	var out []string
	for _, c := range commits {
		for _, ch := range c.Changes {
			if ch.Kind == store.KindEvent && ch.Op == store.OpPut && ch.AccountID == accountID {
				out = append(out, ch.ID)
			}
		}
	}
	return out
}

// claim waits until the destination is free (no lease, an expired one, or this worker's)
// and takes it, returning its stored position, or where a new destination starts: the audit
// log from its creation. While another worker holds it, it looks again every poll interval,
// reading only, so that a destination given up is taken over within one.
func (d *delivery) claim(ctx context.Context) (store.EventDelivery, error) {
	for {
		if held, err := d.heldByOther(ctx); err != nil {
			return store.EventDelivery{}, err
		} else if held {
			if err := sleep(ctx, d.w.cfg.poll); err != nil {
				return store.EventDelivery{}, err
			}
			continue
		}
		var (
			pos  store.EventDelivery
			lost bool
		)
		err := d.w.st.Update(ctx, func(tx store.Tx) error {
			dest, err := tx.EventDestination(ctx, d.destID)
			if isNotFound(err) {
				return errGone
			}
			if err != nil {
				return err
			}
			pos, err = tx.EventDelivery(ctx, d.destID)
			if isNotFound(err) {
				pos = store.EventDelivery{DestinationID: dest.ID, AccountID: dest.AccountID, LastEventID: id.Floor(id.Event, dest.CreatedAt)}
			} else if err != nil {
				return err
			}
			now := d.w.cfg.clock.Now()
			if lost = d.other(pos, now); lost {
				return nil // taken since we looked
			}
			pos.Holder, pos.HeldUntil, pos.UpdatedAt = d.w.name, now.Add(d.w.cfg.lease).UTC(), now.UTC()
			return tx.PutEventDelivery(ctx, pos)
		})
		if err != nil || !lost {
			return pos, err
		}
	}
}

// other reports whether another worker holds pos at now.
func (d *delivery) other(pos store.EventDelivery, now time.Time) bool {
	return pos.Holder != "" && pos.Holder != d.w.name && now.Before(pos.HeldUntil)
}

// heldByOther reads whether another worker holds the destination.
func (d *delivery) heldByOther(ctx context.Context) (bool, error) {
	var held bool
	err := d.w.st.View(ctx, func(r store.Reader) error {
		pos, err := r.EventDelivery(ctx, d.destID)
		if isNotFound(err) {
			return nil
		}
		held = err == nil && d.other(pos, d.w.cfg.clock.Now())
		return err
	})
	return held, err
}

// renew extends the lease once half of it has passed.
func (d *delivery) renew(ctx context.Context) error {
	if d.pos == nil || d.w.cfg.clock.Now().Before(d.pos.HeldUntil.Add(-d.w.cfg.lease/2)) {
		return nil
	}
	return d.save(ctx, *d.pos)
}

// save stores the position and extends the lease, if this worker still holds it; a
// destination deleted meanwhile ends the delivery.
func (d *delivery) save(ctx context.Context, pos store.EventDelivery) error {
	now := d.w.cfg.clock.Now()
	pos.Holder, pos.HeldUntil, pos.UpdatedAt = d.w.name, now.Add(d.w.cfg.lease).UTC(), now.UTC()
	err := d.w.st.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.EventDelivery(ctx, d.destID)
		if isNotFound(err) {
			return errGone
		}
		if err != nil {
			return err
		}
		if cur.Holder != d.w.name {
			return errLeaseLost
		}
		return tx.PutEventDelivery(ctx, pos)
	})
	if errors.Is(err, store.ErrInvalid) && store.CodeOf(err) == store.CodeInvalidValue {
		return errGone
	}
	if err == nil && d.pos != nil {
		d.pos.HeldUntil = pos.HeldUntil
	}
	return err
}

// releaseTimeout bounds the write that gives a destination up when a worker stops.
const releaseTimeout = 2 * time.Second

// release gives the destination up, if this worker holds it, so that another worker (the
// next process, after a restart) takes it over at once rather than when the lease expires.
// The stored position is left as it is.
func (d *delivery) release(ctx context.Context) {
	if d.pos == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := d.w.st.Update(rctx, func(tx store.Tx) error {
		cur, err := tx.EventDelivery(rctx, d.destID)
		if err != nil || cur.Holder != d.w.name {
			return err
		}
		cur.Holder, cur.HeldUntil = "", time.Time{}
		return tx.PutEventDelivery(rctx, cur)
	})
	if err != nil && !isNotFound(err) && !errors.Is(err, store.ErrClosed) {
		d.w.cfg.log.Warn("eventstream: could not release a destination; another worker takes it when the lease ends", "destination", d.destID, "err", err)
	}
}

// catchUp delivers from the audit log after pos.LastEventID, then places pos at the feed's
// head as it was before the log was read: events committed since are in the feed, and
// those the log already gave are skipped there (d.recent). It saves the log's progress
// but not that cursor: the run loop saves one once it has read the feed past the stretch
// the log and the feed share. Saved at once, a restart would resume at that head with
// d.recent empty and deliver the stretch a second time, events the saved position already
// counts as handled; as it is, a restart catches up from the log again, after the last
// event handled.
func (d *delivery) catchUp(ctx context.Context, pos *store.EventDelivery) error {
	head, err := d.w.st.Head(ctx)
	if err != nil {
		return err
	}
	for {
		var evs []store.Event
		err := d.w.st.View(ctx, func(r store.Reader) error {
			var err error
			evs, err = r.EventsAfter(ctx, pos.AccountID, pos.LastEventID, catchUpPage)
			return err
		})
		if err != nil {
			return err
		}
		if err := d.handle(ctx, evs, pos); err != nil {
			return err
		}
		if len(evs) < catchUpPage {
			break
		}
		if err := d.save(ctx, *pos); err != nil {
			return err
		}
	}
	if err := d.save(ctx, *pos); err != nil { // pos.Cursor is still ""
		return err
	}
	pos.Cursor = head
	return nil
}

// read returns the events with the given IDs, in that order, leaving out those pruned since.
func (d *delivery) read(ctx context.Context, ids []string) ([]store.Event, error) {
	out := make([]store.Event, 0, len(ids))
	err := d.w.st.View(ctx, func(r store.Reader) error {
		for _, eid := range ids {
			ev, err := r.Event(ctx, eid)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// handle delivers, in order, the events the account's subscriptions send to the
// destination, and advances pos.LastEventID past each event handled.
func (d *delivery) handle(ctx context.Context, evs []store.Event, pos *store.EventDelivery) error {
	if len(evs) == 0 {
		return nil
	}
	var subs []store.EventSubscription
	err := d.w.st.View(ctx, func(r store.Reader) error {
		var err error
		subs, err = r.EventSubscriptions(ctx, pos.AccountID, store.Page{Limit: MaxSubscriptions})
		return err
	})
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if !d.recent.has(ev.ID) && selects(subs, d.destID, ev.Type) {
			if err := d.deliverOne(ctx, ev); err != nil {
				return err
			}
		}
		d.recent.add(ev.ID)
		if ev.ID > pos.LastEventID {
			pos.LastEventID = ev.ID
		}
	}
	return nil
}

// deliverOne tries an event until the receiver takes it, or dead-letters it after the last
// try. While the destination's dead letters are full it keeps trying, at the longest wait:
// delivery to the destination pauses rather than loses events.
func (d *delivery) deliverOne(ctx context.Context, ev store.Event) error {
	b := backoff{base: d.w.cfg.baseDelay, max: d.w.cfg.maxDelay}
	for attempt := 1; ; attempt++ {
		if err := d.renew(ctx); err != nil {
			return err
		}
		dest, err := d.destination(ctx)
		if err != nil {
			return err
		}
		fail := d.w.send.send(ctx, dest, ev)
		if fail == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.w.cfg.log.Warn("eventstream: delivery failed", "destination", dest.ID, "event", ev.ID, "attempt", attempt, "status", fail.status)
		if attempt >= d.w.cfg.attempts {
			done, err := d.deadLetter(ctx, dest, ev, attempt, fail)
			if done || err != nil {
				return err
			}
		}
		if err := sleep(ctx, b.next()); err != nil {
			return err
		}
	}
}

func (d *delivery) destination(ctx context.Context) (store.EventDestination, error) {
	var dest store.EventDestination
	err := d.w.st.View(ctx, func(r store.Reader) error {
		var err error
		dest, err = r.EventDestination(ctx, d.destID)
		if isNotFound(err) {
			return errGone
		}
		return err
	})
	return dest, err
}

// deadLetter records that ev could not be delivered, unless the destination already has
// MaxDeadLetters (then done is false).
func (d *delivery) deadLetter(ctx context.Context, dest store.EventDestination, ev store.Event, attempts int, fail *failure) (done bool, err error) {
	lid, err := d.w.ids.NewIn(id.DeadLetter, dest.AccountID)
	if err != nil {
		return false, err
	}
	err = d.w.st.Update(ctx, func(tx store.Tx) error {
		have, err := tx.DeadLetters(ctx, dest.AccountID, dest.ID, store.Page{Limit: MaxDeadLetters})
		if err != nil {
			return err
		}
		l := store.DeadLetter{ID: lid, AccountID: dest.AccountID, DestinationID: dest.ID, EventID: ev.ID, CreatedAt: d.w.cfg.clock.Now().UTC()}
		if i := slices.IndexFunc(have, func(l store.DeadLetter) bool { return l.EventID == ev.ID }); i >= 0 {
			l = have[i] // dead-lettered before a restart made us try it again: one letter per event
		} else if len(have) >= MaxDeadLetters {
			return nil
		}
		done = true
		l.Attempts += attempts
		l.LastStatus, l.LastError = fail.status, fail.reason
		return tx.PutDeadLetter(ctx, l)
	})
	if err != nil {
		return false, err
	}
	if !done {
		d.w.cfg.log.Warn("eventstream: dead letters full; delivery paused", "destination", dest.ID)
	}
	return done, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// backoff doubles a wait from base up to max; each wait is drawn between half and all of it.
type backoff struct {
	base, max, d time.Duration
}

func (b *backoff) reset() { b.d = 0 }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = b.base
	case b.d < b.max:
		b.d = min(2*b.d, b.max)
	}
	half := b.d / 2
	return half + rand.N(b.d-half+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recentSet remembers the last recentLen IDs added.
type recentSet struct {
	ring [recentLen]string
	next int
	set  map[string]bool
}

func (s *recentSet) has(eid string) bool { return s.set[eid] }

func (s *recentSet) add(eid string) {
	if s.set == nil {
		s.set = make(map[string]bool, recentLen)
	}
	if s.set[eid] {
		return
	}
	delete(s.set, s.ring[s.next])
	s.ring[s.next] = eid
	s.next = (s.next + 1) % recentLen
	s.set[eid] = true
}
