package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

type recorder struct {
	mu      sync.Mutex
	revs    []uint64
	flushes int
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1000)} }

func (r *recorder) Apply(c store.Commit) {
	r.mu.Lock()
	r.revs = append(r.revs, c.Revision)
	r.mu.Unlock()
	r.changed <- struct{}{}
}

func (r *recorder) Flush() {
	r.mu.Lock()
	r.flushes++
	r.mu.Unlock()
	r.changed <- struct{}{}
}

func (r *recorder) snapshot() ([]uint64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.revs...), r.flushes
}

// waitFor waits until cond holds, up to 10s (a hang is a failure, not a timing assertion).
func waitFor(t *testing.T, r *recorder, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatal("condition not reached")
		}
	}
}

func putAccount(t *testing.T, s store.Store, n int) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		return tx.PutAccount(context.Background(), store.Account{ID: fmt.Sprintf("ac_%d", n)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAppliesCommitsInOrder(t *testing.T) {
	s := newMem(t)
	r := newRecorder()
	f := follow(t, s, r, store.WithPollInterval(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	for f.Synced().IsZero() {
		time.Sleep(time.Millisecond)
	}
	for i := range 10 {
		putAccount(t, s, i)
	}
	waitFor(t, r, func() bool { revs, _ := r.snapshot(); return len(revs) == 10 })
	revs, flushes := r.snapshot()
	for i, rev := range revs {
		if rev != uint64(i+1) {
			t.Fatalf("revisions = %v, want 1..10 in order", revs)
		}
	}
	if flushes != 1 {
		t.Errorf("flushes = %d, want 1 (at the start of Run only)", flushes)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestGapFlushes(t *testing.T) {
	s := newMem(t, memstore.WithFeedRetention(2))
	r := newRecorder()
	// Block the handler so the follower falls behind the 2-commit retention.
	gate := make(chan struct{})
	h := &gated{recorder: r, gate: gate, entered: make(chan struct{}, 1)}
	f := follow(t, s, h, store.WithPollInterval(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	for f.Synced().IsZero() {
		time.Sleep(time.Millisecond)
	}
	putAccount(t, s, 0) // the follower takes this one and blocks in Apply
	<-h.entered
	for i := 1; i < 10; i++ {
		putAccount(t, s, i)
	}
	close(gate)
	waitFor(t, r, func() bool { _, fl := r.snapshot(); return fl >= 2 }) // the start, then the gap
	waitFor(t, r, func() bool { revs, _ := r.snapshot(); return len(revs) > 0 && revs[len(revs)-1] == 10 })
}

type gated struct {
	*recorder
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (g *gated) Apply(c store.Commit) {
	g.once.Do(func() { g.entered <- struct{}{} })
	<-g.gate
	g.recorder.Apply(c)
}

func TestSyncedAdvancesOnQuietFeedAndStopsWhenClosed(t *testing.T) {
	s := newMem(t)
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := newRecorder()
	f := follow(t, s, r, store.WithFollowerClock(clk), store.WithPollInterval(5*time.Millisecond))
	done := make(chan error)
	go func() { done <- f.Run(context.Background()) }()
	for f.Synced().IsZero() {
		time.Sleep(time.Millisecond)
	}
	later := clk.Now().Add(time.Hour)
	clk.Set(later)
	for f.Synced().Before(later) {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	if err := <-done; !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestSyncGivesReadYourWrites(t *testing.T) {
	s := newMem(t)
	r := newRecorder()
	// A long poll interval: Sync must not wait for it.
	f := follow(t, s, r, store.WithPollInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start(ctx, t, f)
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		putAccount(t, s, i)
		if err := f.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if revs, _ := r.snapshot(); len(revs) != i+1 {
			t.Fatalf("after commit %d and Sync, handler saw %d commits", i+1, len(revs))
		}
	}
}

// A confirmation that ends a long quiet wait stamps Synced with the time of the confirmation,
// not the time the wait began.
func TestSyncStampsTheConfirmation(t *testing.T) {
	s := newMem(t)
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := follow(t, s, newRecorder(), store.WithFollowerClock(clk), store.WithPollInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start(ctx, t, f)
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // the follower is now waiting on the feed, since a minute ago
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := f.Synced(), clk.Now(); !got.Equal(want) {
		t.Fatalf("Synced = %v after a Sync at %v", got, want)
	}
}

// What a cache learned before Run read its starting cursor may be older than commits the feed
// will never deliver (they precede the cursor), so Run flushes once it has the cursor.
func TestRunFlushesAtStart(t *testing.T) {
	s := newMem(t)
	r := newRecorder()
	f := follow(t, s, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start(ctx, t, f)
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, flushes := r.snapshot(); flushes != 1 {
		t.Fatalf("flushes after start = %d, want 1", flushes)
	}
}

func newMem(t *testing.T, opts ...memstore.Option) store.Store {
	t.Helper()
	s, err := memstore.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// follow returns a Follower of s feeding h.
func follow(t *testing.T, s store.Store, h store.FeedHandler, opts ...store.FollowerOption) *store.Follower {
	t.Helper()
	f, err := store.NewFollower(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Subscribe(h); err != nil {
		t.Fatal(err)
	}
	return f
}

// start runs f in a goroutine and waits until it follows the feed.
func start(ctx context.Context, t *testing.T, f *store.Follower) {
	t.Helper()
	go f.Run(ctx)
	for !f.Running() || f.Synced().IsZero() {
		time.Sleep(time.Millisecond)
	}
}

// TestSyncWithoutRunFails: Sync when nothing follows the feed fails (within the start grace,
// or at once once Run has stopped) instead of waiting for its deadline.
func TestSyncWithoutRunFails(t *testing.T) {
	s := newMem(t)
	f := follow(t, s, newRecorder(), store.WithPollInterval(time.Hour))
	ctx := t.Context()
	if err := f.Sync(ctx); !errors.Is(err, store.ErrUnavailable) || store.CodeOf(err) != store.CodeNotRunning {
		t.Fatalf("Sync before Run = %v, want ErrUnavailable with code %q", err, store.CodeNotRunning)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(rctx) }()
	for !f.Running() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if err := f.Sync(ctx); store.CodeOf(err) != store.CodeNotRunning {
		t.Fatalf("Sync after Run stopped = %v, want code %q", err, store.CodeNotRunning)
	}
	if err := f.Subscribe(newRecorder()); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Subscribe after Run = %v, want ErrConflict", err)
	}
}

// TestEveryHandlerSeesEveryCommit: one follower feeds several caches.
func TestEveryHandlerSeesEveryCommit(t *testing.T) {
	s := newMem(t)
	a, b := newRecorder(), newRecorder()
	f := follow(t, s, a, store.WithPollInterval(20*time.Millisecond))
	if err := f.Subscribe(b); err != nil {
		t.Fatal(err)
	}
	start(t.Context(), t, f)
	for i := range 5 {
		putAccount(t, s, i)
	}
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	ra, fa := a.snapshot()
	rb, fb := b.snapshot()
	if len(ra) != 5 || fmt.Sprint(ra) != fmt.Sprint(rb) || fa != 1 || fb != 1 {
		t.Fatalf("handlers saw %v (%d flushes) and %v (%d flushes), want the same 5 commits and one flush each", ra, fa, rb, fb)
	}
}

// TestLagObserver: the follower reports, per commit, how long after its commit time (the
// store's clock) it handed the commit to its handlers (the follower's clock).
func TestLagObserver(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s := newMem(t, memstore.WithClock(clock.NewFake(at)))
	var mu sync.Mutex
	var lags []time.Duration
	r := newRecorder()
	f := follow(t, s, r, store.WithPollInterval(20*time.Millisecond),
		store.WithFollowerClock(clock.NewFake(at.Add(250*time.Millisecond))),
		store.WithLagObserver(func(_ context.Context, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			lags = append(lags, d)
		}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start(ctx, t, f)
	for i := range 3 {
		putAccount(t, s, i)
	}
	waitFor(t, r, func() bool { revs, _ := r.snapshot(); return len(revs) == 3 })
	mu.Lock()
	defer mu.Unlock()
	if want := []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}; !slices.Equal(lags, want) {
		t.Fatalf("lags %v, want %v", lags, want)
	}
}

// cutShort is a store whose every batch says it did not reach the head (Batch.AtHead false,
// as a batch cut by a size bound would) and whose Head, after the first, never matches a
// cursor, so that nothing but a batch at the head could mark the follower in sync.
type cutShort struct {
	store.Store
	heads sync.Mutex
	first bool
}

func (s *cutShort) Changes(ctx context.Context, after store.Cursor) (store.Batch, error) {
	b, err := s.Store.Changes(ctx, after)
	b.AtHead = false
	return b, err
}

func (s *cutShort) Head(ctx context.Context) (store.Cursor, error) {
	s.heads.Lock()
	defer s.heads.Unlock()
	if !s.first {
		s.first = true
		return s.Store.Head(ctx)
	}
	return "not-a-head", nil
}

// TestSyncedOnlyByABatchAtTheHead: a batch at the head marks the follower in sync as of the
// start of the read that brought it, and a batch cut short does not, however many commits it
// hands on: the commits it left for the next read may be older than that start.
func TestSyncedOnlyByABatchAtTheHead(t *testing.T) {
	for _, c := range []struct {
		name     string
		cut      bool
		advances bool
	}{
		{"at the head", false, true},
		{"cut short", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := newMem(t)
			s := mem
			if c.cut {
				s = &cutShort{Store: mem}
			}
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			r := newRecorder()
			f := follow(t, s, r, store.WithFollowerClock(clk), store.WithPollInterval(time.Hour))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start(ctx, t, f)
			began := f.Synced()
			later := clk.Now().Add(time.Hour)
			clk.Set(later)
			// The read waiting now began before later; the one after the first commit
			// begins after it.
			for i := range 2 {
				putAccount(t, mem, i)
				waitFor(t, r, func() bool { revs, _ := r.snapshot(); return len(revs) == i+1 })
			}
			got := f.Synced()
			if c.advances && got.Before(later) {
				t.Fatalf("Synced = %v after a batch at the head read at %v", got, later)
			}
			if !c.advances && !got.Equal(began) {
				t.Fatalf("Synced = %v after batches cut short, want %v (Run's start)", got, began)
			}
		})
	}
}
