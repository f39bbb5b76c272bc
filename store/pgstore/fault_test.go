package pgstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/pgtest"
	"github.com/iamkit/iamkit/store"
)

// ledger is what the writers of TestKillDuringWrites know of their own writes: the bot users
// whose creation (with its credentials) or deletion (with its cascade) was acknowledged, and
// those whose outcome is unknown because the call failed.
type ledger struct {
	mu                sync.Mutex
	creds             map[string][]string // bot ID -> its credentials' IDs
	created, deleted  map[string]bool     // acknowledged
	unknown           map[string]bool     // a create or delete that failed: either outcome
	live              []string            // acknowledged, not deleted: candidates for deletion
	ackedAfterRestart int
	restarted         bool
}

// follower reads the feed across the outage as a verifier would: each call with a short
// deadline, resuming from its cursor after errors.
type follower struct {
	mu      sync.Mutex
	commits []store.Commit
	failed  int   // calls that failed with ErrUnavailable
	other   error // a failure of any other kind
	gap     bool
}

// TestKillDuringWrites kills the server with SIGKILL while writers create bot users with
// credentials and delete them (a cascade), then restarts it. The pool and the store are
// never reopened. No acknowledged write may be lost, no cascade half-applied, Head, Changes,
// View and Update must fail with ErrUnavailable while the server is down, and the feed must
// resume with no commit skipped and every commit in it once: the records and the feed agree.
func TestKillDuringWrites(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithPrivate())
	_, st := open(t, srv.Database(t), WithPollInterval(time.Hour))
	g := ids()
	ctx := t.Context()
	acct := putAccount(t, st, g)
	from, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var f follower
	stopFollowing := make(chan struct{})
	followed := make(chan struct{})
	go func() { defer close(followed); f.follow(ctx, st, from, stopFollowing) }()

	l := &ledger{creds: map[string][]string{}, created: map[string]bool{}, deleted: map[string]bool{}, unknown: map[string]bool{}}
	stopWriting := make(chan struct{})
	var writers sync.WaitGroup
	for range 4 {
		writers.Go(func() { l.write(ctx, st, g, acct, stopWriting) })
	}

	waitFor(t, "30 acknowledged creations", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.created) >= 30 })
	srv.Stop()
	wantUnavailable(t, st, from)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.restarted = true
	l.mu.Unlock()
	waitFor(t, "20 acknowledged writes after the restart", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.ackedAfterRestart >= 20 })
	close(stopWriting)
	writers.Wait()

	present := l.check(t, st)

	// The feed: a marker, then the follower must have every commit up to it.
	marker := newBot(t, g, acct, "marker")
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutBotUser(ctx, marker) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to read the marker", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.commits {
			if c.Changes[0].ID == marker.ID {
				return true
			}
		}
		return f.other != nil || f.gap
	})
	close(stopFollowing)
	<-followed
	switch {
	case f.other != nil:
		t.Fatalf("the follower failed with an error that is not ErrUnavailable: %v", f.other)
	case f.gap:
		t.Fatal("the follower got a gap, with the retention far above what was written")
	case f.failed == 0:
		t.Error("the follower never failed while the server was down")
	}
	checkContiguous(t, from, f.commits)
	t.Logf("%d creations and %d deletions acknowledged, %d with unknown outcome; the follower read %d commits and failed %d times",
		len(l.created), len(l.deleted), len(l.unknown), len(f.commits), f.failed)
	puts, dels := map[string]int{}, map[string]int{}
	for _, c := range f.commits {
		for _, ch := range c.Changes {
			switch {
			case ch.Kind != store.KindBotUser:
			case ch.Op == store.OpPut:
				puts[ch.ID]++
			default:
				dels[ch.ID]++
			}
		}
	}
	for bot := range l.creds {
		// A creation committed if it was acknowledged or its bot user is there (only
		// acknowledged creations are deleted); a deletion if it was acknowledged, or if its
		// outcome is unknown and the bot user is gone.
		created := l.created[bot] || present[bot]
		deleted := l.created[bot] && !present[bot]
		if puts[bot] != count(created) || dels[bot] != count(deleted) {
			t.Errorf("bot user %s: in the feed %d creations and %d deletions, want %d and %d (acknowledged: created %v, deleted %v)",
				bot, puts[bot], dels[bot], count(created), count(deleted), l.created[bot], l.deleted[bot])
		}
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// write creates and deletes bot users until stop, recording the outcomes.
func (l *ledger) write(ctx context.Context, st store.Store, g *id.Generator, acct string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		l.mu.Lock()
		var victim string
		if len(l.live) > 0 && rand.IntN(3) == 0 {
			i := rand.IntN(len(l.live))
			victim = l.live[i]
			l.live = append(l.live[:i], l.live[i+1:]...)
		}
		l.mu.Unlock()
		var err error
		if victim != "" {
			err = st.Update(ctx, func(tx store.Tx) error { return tx.DeleteBotUser(ctx, victim, store.Principal{Source: "sdk"}) })
			l.done(victim, err, false)
		} else {
			bot, creds, gerr := newBotWithCredentials(g, acct)
			if gerr != nil {
				return
			}
			l.mu.Lock()
			l.creds[bot.ID] = credIDs(creds)
			l.mu.Unlock()
			err = st.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutBotUser(ctx, bot); err != nil {
					return err
				}
				for _, c := range creds {
					if err := tx.PutCredential(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
			l.done(bot.ID, err, true)
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// done records the outcome of a create or a delete of bot.
func (l *ledger) done(bot string, err error, create bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.unknown[bot] = true
		return
	case create:
		l.created[bot] = true
		l.live = append(l.live, bot)
	default:
		l.deleted[bot] = true
	}
	if l.restarted {
		l.ackedAfterRestart++
	}
}

// check reads every bot user the writers tried to create and returns those present. Each
// must be whole (with all its credentials) or gone (with all of them); an acknowledged
// creation not deleted since must be present, an acknowledged deletion gone.
func (l *ledger) check(t *testing.T, st store.Store) map[string]bool {
	t.Helper()
	present := map[string]bool{}
	for bot, creds := range l.creds {
		var botErr error
		var credsFound int
		err := st.View(t.Context(), func(r store.Reader) error {
			_, botErr = r.BotUser(t.Context(), bot)
			for _, c := range creds {
				_, err := r.Credential(t.Context(), c)
				switch {
				case err == nil:
					credsFound++
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
			}
			return nil
		})
		if err != nil || (botErr != nil && !errors.Is(botErr, store.ErrNotFound)) {
			t.Fatalf("reading bot user %s: %v, %v", bot, err, botErr)
		}
		present[bot] = botErr == nil
		switch {
		case present[bot] && credsFound != len(creds), !present[bot] && credsFound != 0:
			t.Errorf("bot user %s: present %v with %d of its %d credentials: a half-applied transaction", bot, present[bot], credsFound, len(creds))
		case l.deleted[bot] && present[bot]:
			t.Errorf("bot user %s: its acknowledged deletion was lost", bot)
		case l.created[bot] && !l.deleted[bot] && !l.unknown[bot] && !present[bot]:
			t.Errorf("bot user %s: its acknowledged creation was lost", bot)
		}
	}
	return present
}

// follow reads the feed from cursor until stop.
func (f *follower) follow(ctx context.Context, st store.Store, cursor store.Cursor, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		b, err := st.Changes(cctx, cursor)
		cancel()
		f.mu.Lock()
		switch {
		case errors.Is(err, context.DeadlineExceeded): // nothing new
		case errors.Is(err, store.ErrUnavailable):
			f.failed++
		case err != nil:
			f.other = err
		case b.Gap:
			f.gap = true
		default:
			f.commits = append(f.commits, b.Commits...)
		}
		f.mu.Unlock()
		if err == nil {
			cursor = b.Next
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// wantUnavailable checks that the store's calls fail with ErrUnavailable while the server is
// down.
func wantUnavailable(t *testing.T, st store.Store, from store.Cursor) {
	t.Helper()
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"Head":    func() error { _, err := st.Head(ctx); return err },
		"Changes": func() error { _, err := st.Changes(ctx, from); return err },
		"View":    func() error { return st.View(ctx, func(store.Reader) error { return nil }) },
		"Update":  func() error { return st.Update(ctx, func(store.Tx) error { return nil }) },
		"RecordUse": func() error {
			return st.RecordUse(ctx, []store.Use{{CredentialID: "ak_x", At: time.Now()}})
		},
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s while the server is down: %v, want ErrUnavailable", name, err)
		}
	}
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newBotWithCredentials returns a bot user of acct and three credentials it owns.
func newBotWithCredentials(g *id.Generator, acct string) (store.BotUser, []store.Credential, error) {
	botID, err := g.NewIn(id.BotUser, acct)
	if err != nil {
		return store.BotUser{}, nil, err
	}
	bot := store.BotUser{ID: botID, AccountID: acct, Name: "bot-" + id.Body(botID), Active: true}
	var creds []store.Credential
	for range 3 {
		cid, err := g.NewIn(id.Authtoken, acct)
		if err != nil {
			return store.BotUser{}, nil, err
		}
		creds = append(creds, store.Credential{ID: cid, AccountID: acct, Kind: store.Authtoken, OwnerID: botID, SecretHash: "hash-" + cid})
	}
	return bot, creds, nil
}

func credIDs(cs []store.Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
