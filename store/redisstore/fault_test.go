package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/redistest"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/redisstore"
)

// attempt is one Update of the fault test: a role and its audit event, written together.
type attempt struct {
	role, event string
	err         error
}

// TestFaultKillMidWrites kills Redis (SIGKILL, AOF with fsync always) in the middle of a
// stream of Updates, restarts it, and checks that every Update either committed whole or
// returned an error (and then committed whole or not at all), and that a subscriber whose
// connection dropped resumes from its cursor without losing a commit.
func TestFaultKillMidWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a redis-server")
	}
	srv := redistest.Start(t, redistest.WithAOF())
	client := newClient(t, srv)
	client.Options().MaxRetries = 0
	s, err := redisstore.New(t.Context(), client, redisstore.WithPrefix(srv.Prefix), redisstore.WithBlockWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	acct, _ := ids.New(id.Account)
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutAccount(ctx, store.Account{ID: acct, Name: "acme"})
	}); err != nil {
		t.Fatal(err)
	}
	start, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The subscriber: follows the feed from start, reconnecting (retrying) on errors.
	var mu sync.Mutex
	seen := map[string]bool{}
	gaps := 0
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		cur := start
		for subCtx.Err() == nil {
			b, err := s.Changes(subCtx, cur)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // Redis is down: retry from the same cursor
				continue
			}
			mu.Lock()
			if b.Gap {
				gaps++
			}
			for _, c := range b.Commits {
				for _, ch := range c.Changes {
					if ch.Kind == store.KindRole {
						seen[ch.ID] = true
					}
				}
			}
			mu.Unlock()
			cur = b.Next
		}
	}()

	var attempts []attempt
	write := func() {
		role, _ := ids.NewIn(id.Role, acct)
		ev, _ := ids.NewIn(id.Event, acct)
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutRole(ctx, store.Role{ID: role, AccountID: acct, Name: "r-" + role}); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, store.Event{ID: ev, AccountID: acct, Type: "role_created.v0", Object: []byte(`{}`)})
		})
		attempts = append(attempts, attempt{role: role, event: ev, err: err})
	}
	// Write while another goroutine kills the server once 50 Updates have committed, so
	// that some Updates are cut in flight.
	var committed atomic.Int64
	killed := make(chan struct{})
	go func() {
		for committed.Load() < 50 {
			time.Sleep(time.Millisecond)
		}
		srv.Stop()
		close(killed)
	}()
	for done := false; !done; {
		write()
		if attempts[len(attempts)-1].err == nil {
			committed.Add(1)
		}
		select {
		case <-killed:
			done = true
		default:
		}
	}
	for range 5 { // Redis is down: these fail
		write()
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		write()
	}

	var ok, failed int
	for _, a := range attempts {
		if a.err == nil {
			ok++
		} else {
			failed++
		}
	}
	if ok < 70 || failed < 5 {
		t.Fatalf("%d Updates committed and %d failed: the kill did not land mid-stream", ok, failed)
	}

	// Every Update committed whole or not at all; those that returned nil committed.
	var present []string
	err = s.View(ctx, func(r store.Reader) error {
		listed, err := r.Roles(ctx, acct, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		events, err := r.Events(ctx, acct, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, a := range attempts {
			_, rerr := r.Role(ctx, a.role)
			inRoles := slices.ContainsFunc(listed, func(x store.Role) bool { return x.ID == a.role })
			inEvents := slices.ContainsFunc(events, func(x store.Event) bool { return x.ID == a.event })
			roleThere := rerr == nil
			if rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
				return rerr
			}
			if roleThere != inRoles || roleThere != inEvents {
				t.Errorf("half-applied Update (err %v): role record %v, role index %v, event %v", a.err, roleThere, inRoles, inEvents)
			}
			if a.err == nil && !roleThere {
				t.Errorf("Update returned nil but its role %s is missing after the restart", a.role)
			}
			if roleThere {
				present = append(present, a.role)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The subscriber sees every commit that survived, without a gap (AOF kept them all).
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, r := range present {
			if !seen[r] {
				missing++
			}
		}
		g := gaps
		mu.Unlock()
		if missing == 0 {
			if g != 0 {
				t.Errorf("subscriber saw %d gaps; with AOF it should resume without one", g)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber is missing %d of %d committed Updates after the restart (gaps %d)", missing, len(present), g)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopSub()
	<-subDone
	t.Logf("%d Updates committed, %d returned an error (%d of those committed anyway); subscriber resumed without loss",
		ok, failed, len(present)-ok)
}

// TestFaultRestartWithoutPersistence restarts a server that keeps nothing: a subscriber's
// cursor then points into streams that are gone, and Changes must report a gap.
func TestFaultRestartWithoutPersistence(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a redis-server")
	}
	srv := redistest.Start(t, redistest.WithPrivate()) // it is restarted
	client := newClient(t, srv)
	s, err := redisstore.New(t.Context(), client, redisstore.WithPrefix(srv.Prefix), redisstore.WithBlockWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	ids := id.NewGenerator(clock.System{}, rand.Reader)
	acct, _ := ids.New(id.Account)
	put := func(name string) {
		t.Helper()
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.PutAccount(ctx, store.Account{ID: acct, Name: name})
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("one")
	cur, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	put("two") // a new stream, whose first entry is past the cursor's lost one
	for i := 0; ; i++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err := s.Changes(cctx, cur)
		cancel()
		if err != nil && i < 50 {
			time.Sleep(50 * time.Millisecond) // the client reconnects
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !b.Gap {
			t.Fatalf("Changes after a restart that lost the feed: no gap, %d commits", len(b.Commits))
		}
		b, err = s.Changes(ctx, b.Next)
		if err != nil || len(b.Commits) != 1 || b.Gap {
			t.Fatalf("resuming after the gap: %+v, %v", b, err)
		}
		return
	}
}
